"""Security at the edges: request body limits, CSRF before multipart bodies, bearer exemption only for
valid tokens, proxy hops, 401 for anonymous API calls, secrets kept out of the access log, CSV cells."""

import logging

import anyio
import pytest
from sqlalchemy import func, select

from tests.auth_helpers import PASSWORD, form_token, make_user

MIB = 1024 * 1024


def _asgi_post(
    app, path: str, headers: dict[str, str], chunks: int, chunk_bytes: int = MIB
) -> tuple[int, int]:
    """POST a body of `chunks` chunks straight to the ASGI app; returns (status, chunks the app read).

    Called at the ASGI level (no test client buffering the body first), so the count shows how much of
    the body the server took in before it answered.
    """
    read = 0
    status = 0

    async def receive():
        nonlocal read
        if read >= chunks:
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": b"x" * chunk_bytes, "more_body": read < chunks}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "testserver", **headers}.items()],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }  # fmt: skip
    anyio.run(app, scope, receive, send)
    return status, read


def test_a_huge_json_body_is_refused_with_413_before_it_is_read(env):
    from app.main import create_app

    app = create_app()
    declared = {"content-type": "application/json", "content-length": str(150 * MIB)}
    status, read = _asgi_post(app, "/api/datasets", declared, chunks=150)
    assert (status, read) == (413, 0)
    # Chunked (no length declared): stopped once it passes the limit, not after 150 MB.
    status, read = _asgi_post(app, "/api/datasets", {"content-type": "application/json"}, chunks=150)
    assert status == 413 and read <= 2


def test_the_413_answer_says_what_the_limit_is(anon_client):
    response = anon_client.post("/api/datasets", content=b"{" + b" " * (2 * MIB) + b"}")
    assert response.status_code == 413
    assert "at most 1 MB" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_multipart_upload_without_the_csrf_token_is_refused_before_its_body_is_read(client):
    from app.main import create_app

    boundary = "lastmileboundary"
    cookie = f"lastmile_session={client.session_cookie}"
    headers = {"content-type": f"multipart/form-data; boundary={boundary}", "cookie": cookie}
    status, read = _asgi_post(create_app(), "/upload", headers, chunks=400)
    assert status == 403 and read == 0


def test_a_plain_upload_form_sends_its_csrf_token_in_the_action(client):
    del client.headers["X-CSRF-Token"]
    page = client.get("/upload").text
    token = form_token(page)
    assert f'action="/upload?csrf_token={token}"' in page
    files = {"files": ("note.txt", b"Dear team, the report is attached and ready for review.", "text/plain")}
    refused = client.post("/upload", files=files, follow_redirects=False)
    assert refused.status_code == 403
    accepted = client.post(f"/upload?csrf_token={token}", files=files, follow_redirects=False)
    assert accepted.status_code in (200, 303)


def test_an_authorization_header_that_is_no_valid_token_does_not_skip_csrf(anon_client, session):
    from app.models import LoginAttempt

    make_user(session, "editor", email="eve@example.com")
    data = {"email": "eve@example.com", "password": PASSWORD}
    for header in ("Basic ZXZlOnNlY3JldA==", "Bearer lm_not-a-real-token", "Bearer "):
        response = anon_client.post(
            "/login", data=data, headers={"Authorization": header}, follow_redirects=False
        )
        # Login CSRF: a forged sign-in form must not sign the victim's browser into another account.
        assert response.status_code == 403, header
        assert (
            "set-cookie" not in response.headers or "lastmile_session" not in response.headers["set-cookie"]
        )
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
    # On the API a bad token is told so (401), not that a form expired.
    api = anon_client.post("/api/datasets", json={"name": "X"}, headers={"Authorization": "Bearer lm_nope"})
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"


def test_anonymous_openai_calls_get_an_openai_shaped_401(anon_client):
    body = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Hi"}]}
    response = anon_client.post("/v1/chat/completions", json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert anon_client.post("/api/datasets", json={"name": "X"}).status_code == 401


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        ("6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),  # the client wrote 6.6.6.6; our proxy appended its peer
        ("6.6.6.6, 203.0.113.7, 10.0.0.2", 2, "203.0.113.7"),  # two proxies: CDN, then ours
        ("203.0.113.7", 2, "203.0.113.7"),
    ],
)
def test_only_the_proxies_own_forwarded_entries_are_believed(
    anon_client, session, monkeypatch, forwarded, hops, expected
):
    from app.models import LoginAttempt
    from app.settings import get_settings

    monkeypatch.setenv("LASTMILE_TRUST_PROXY_HEADERS", "true")
    monkeypatch.setenv("LASTMILE_PROXY_HOPS", str(hops))
    get_settings.cache_clear()
    make_user(session, "editor", email="eve@example.com")
    page = anon_client.get("/login")
    data = {"email": "eve@example.com", "password": "wrong password", "csrf_token": form_token(page.text)}
    anon_client.post("/login", data=data, headers={"X-Forwarded-For": forwarded})
    session.expire_all()
    keys = set(session.scalars(select(LoginAttempt.key)))
    assert keys == {"account:eve@example.com", f"ip:{expected}"}


def test_invite_reset_and_csrf_tokens_stay_out_of_the_access_log(env, caplog):
    from app.main import create_app

    create_app()
    logger = logging.getLogger("uvicorn.access")
    args = [
        ("GET", "/invite/Zm9vYmFyLXNlY3JldC10b2tlbg"),
        ("POST", "/reset/c2VjcmV0LXJlc2V0"),
        ("POST", "/upload?csrf_token=c3VwZXItc2VjcmV0&x=1"),
    ]
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        for method, path in args:
            logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", method, path, "1.1", 200)
    text = caplog.text
    for secret in ("Zm9vYmFyLXNlY3JldC10b2tlbg", "c2VjcmV0LXJlc2V0", "c3VwZXItc2VjcmV0"):
        assert secret not in text
    assert "/invite/…" in text and "/reset/…" in text and "csrf_token=…&x=1" in text


@pytest.mark.parametrize("cell", ['\n=HYPERLINK("http://x")', "\uff1d1+1", "\uff20SUM(A1)"])
def test_csv_cells_starting_with_a_line_feed_or_full_width_sign_are_neutralised(cell):
    from app.curation.export import neutralise_cell

    assert neutralise_cell(cell) == "'" + cell
    assert neutralise_cell("plain text") == "plain text"
