"""CSRF on every state-changing request (htmx and plain forms), bearer requests exempt; security headers
on pages, partials, API answers, downloads and static files."""

from sqlalchemy import func, select

from tests.auth_helpers import form_token, set_cookie

EXPIRED = "This form has expired or came from another site; reload the page and try again."
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


def _dataset_count(session) -> int:
    from app.models import Dataset

    session.expire_all()
    return session.scalar(select(func.count()).select_from(Dataset))


def test_missing_or_wrong_token_is_refused_on_pages_htmx_and_api(client, session):
    del client.headers["X-CSRF-Token"]
    page = client.post("/workspaces/switch", data={"workspace_id": client.workspace_id})
    assert page.status_code == 403 and EXPIRED in page.text
    wrong = client.post(
        "/workspaces/switch", data={"workspace_id": client.workspace_id, "csrf_token": "not-the-token-at-all"}
    )
    assert wrong.status_code == 403
    htmx = client.post("/logout", headers={"HX-Request": "true", "X-CSRF-Token": "nope"})
    assert htmx.status_code == 403 and 'role="alert"' in htmx.text and EXPIRED in htmx.text
    api = client.post("/api/datasets", json={"name": "Client reports"})
    assert api.status_code == 403 and api.json() == {"detail": EXPIRED}
    assert _dataset_count(session) == 0
    # Still signed in: a refused form does not sign anyone out.
    assert client.get("/account/password").status_code == 200


def test_the_right_token_in_header_or_form_field_passes(client, session):
    assert client.post("/api/datasets", json={"name": "Client reports"}).status_code == 201
    token = client.headers.pop("X-CSRF-Token")
    response = client.post(
        "/workspaces/switch",
        data={"workspace_id": client.workspace_id, "csrf_token": token, "next": "/datasets/7"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/datasets"
    assert _dataset_count(session) == 1


def test_a_cross_site_origin_or_referer_is_refused_even_with_the_token(client, session):
    evil = client.post("/api/datasets", json={"name": "A"}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    null = client.post("/api/datasets", json={"name": "B"}, headers={"Origin": "null"})
    assert null.status_code == 403
    referer = client.post("/api/datasets", json={"name": "C"}, headers={"Referer": "https://evil.example/x"})
    assert referer.status_code == 403
    assert _dataset_count(session) == 0
    own = client.post("/api/datasets", json={"name": "D"}, headers={"Origin": "http://testserver"})
    assert own.status_code == 201
    assert _dataset_count(session) == 1


def test_bearer_token_requests_need_no_csrf_token(client, anon_client, session):
    from app.models import User
    from tests.auth_helpers import api_token

    user = session.get(User, client.user_id)
    raw, _ = api_token(session, user, "script")
    session.commit()
    response = anon_client.post(
        "/api/datasets", json={"name": "From a script"}, headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 201
    # A cookie sent along with a bad token does not rescue the request: the token alone decides.
    set_cookie(anon_client, "lastmile_session", client.session_cookie)
    bad = anon_client.get("/api/datasets", headers={"Authorization": "Bearer lm_wrong"})
    assert bad.status_code == 401


def test_sign_in_forms_use_a_pre_session_cookie(anon_client, session):
    from tests.auth_helpers import make_user

    make_user(session, "editor", email="eve@example.com")
    page = anon_client.get("/login")
    token = form_token(page.text)
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("lastmile_csrf=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert anon_client.cookies.get("lastmile_csrf") == token
    data = {"email": "eve@example.com", "password": "correct horse battery staple"}
    assert anon_client.post("/login", data=data).status_code == 403
    assert anon_client.post("/login", data={**data, "csrf_token": "guess"}).status_code == 403
    # A page from another site cannot read the cookie, so it cannot send the matching value.
    anon_client.cookies.clear()
    assert anon_client.post("/login", data={**data, "csrf_token": token}).status_code == 403
    set_cookie(anon_client, "lastmile_csrf", token)
    signed_in = anon_client.post("/login", data={**data, "csrf_token": token}, follow_redirects=False)
    assert signed_in.status_code == 303


def test_an_expired_session_posting_a_form_is_sent_to_sign_in(client, session):
    from app.auth.tokens import digest
    from app.models import AuthSession, utcnow

    session.get(AuthSession, digest(client.session_cookie)).revoked_at = utcnow()
    session.commit()
    response = client.post(
        "/logout", headers={"Referer": "http://testserver/datasets"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def _assert_security_headers(response, no_store: bool = True) -> None:
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    if no_store:
        assert response.headers["cache-control"] == "no-store"


def test_security_headers_on_every_kind_of_response(client, anon_client):
    _assert_security_headers(client.get("/account/password"))
    _assert_security_headers(client.get("/examples"))
    _assert_security_headers(client.get("/examples/table", headers={"HX-Request": "true"}))
    _assert_security_headers(client.get("/api/examples"))
    _assert_security_headers(client.get("/api/nothing-here"))
    _assert_security_headers(anon_client.get("/login"))
    _assert_security_headers(anon_client.get("/examples", follow_redirects=False))
    _assert_security_headers(anon_client.get("/api/examples"))
    _assert_security_headers(anon_client.get("/healthz"))
    static = anon_client.get("/static/css/app.css")
    assert static.status_code == 200
    _assert_security_headers(static, no_store=False)
    assert "no-store" not in static.headers.get("cache-control", "")
    https = client.get("/account/password", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in https.headers  # proxy headers are not trusted by default
