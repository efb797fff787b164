"""/docs: Swagger UI for members, from static/vendor (no CDN), under a CSP that allows only its own init
script; /openapi.json for members, declaring API tokens; and the page working in Chromium."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_docs_and_schema_are_for_signed_in_members(client, anon_client):
    to_login = anon_client.get("/docs", follow_redirects=False)
    assert to_login.status_code == 303 and to_login.headers["location"] == "/login?next=/docs"
    assert anon_client.get("/openapi.json", follow_redirects=False).status_code == 303

    page = client.get("/docs")
    assert page.status_code == 200
    assert '<script src="/static/vendor/swagger-ui-bundle.js">' in page.text
    assert 'href="/static/vendor/swagger-ui.css"' in page.text
    assert "cdn." not in page.text and "https://" not in page.text
    policy = page.headers["content-security-policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src")).split()
    assert script_src[:2] == ["script-src", "'self'"]
    assert len(script_src) == 3 and script_src[2].startswith("'sha256-")
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    # The rest of the policy is the strict one every page gets; other pages keep theirs unchanged.
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "sha256" not in client.get("/examples").headers["content-security-policy"]

    schema = client.get("/openapi.json").json()
    assert "/api/examples" in schema["paths"] and "/examples" not in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["security"] == [{"bearer": []}]


def test_the_hash_matches_the_inline_script_the_page_sends(client):
    import base64
    import hashlib
    import re

    page = client.get("/docs")
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(scripts) == 1 and "SwaggerUIBundle(" in scripts[0]
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.headers["content-security-policy"]


@pytest.mark.browser
@pytest.mark.worker
def test_docs_render_in_chromium_without_console_errors(tmp_path: Path):
    from tests.browser import chromium_page
    from tests.browser_auth import sign_up_first_admin
    from tests.live_server import lastmile_run

    assert (ROOT / "static" / "vendor" / "swagger-ui-bundle.js").is_file(), "run `make setup` first"
    with lastmile_run(tmp_path / "data") as server, chromium_page() as browser:
        page = browser.page
        sign_up_first_admin(page, server.url, "/docs")
        page.wait_for_url(f"{server.url}/docs")
        page.locator(".swagger-ui .info .title", has_text="Lastmile").wait_for()
        page.locator(".opblock-summary-path", has_text="/api/examples").first.wait_for()
        assert page.locator("button.authorize").count() == 1
        browser.screenshot("api-docs")
        browser.assert_clean()
