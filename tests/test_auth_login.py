"""First-run setup, sign in and out, session rotation and revocation, password change, throttling."""

from sqlalchemy import func, select

from tests.auth_helpers import PASSWORD, form_token, make_user, set_cookie

SESSION = "lastmile_session"


def _setup(client, email="ann@example.com", password="a long enough secret", confirm=None):
    token = form_token(client.get("/setup").text)
    data = {
        "name": "Ann Admin",
        "email": email,
        "password": password,
        "password_confirm": password if confirm is None else confirm,
        "csrf_token": token,
    }
    return client.post("/setup", data=data, follow_redirects=False)


def _login(client, email, password=PASSWORD, next_path="/", token=None):
    token = token or form_token(client.get("/login").text)
    data = {"email": email, "password": password, "next": next_path, "csrf_token": token}
    return client.post("/login", data=data, follow_redirects=False)


def test_fresh_install_sends_everyone_to_setup_which_creates_the_admin(anon_client, session):
    from app.models import Membership, User, Workspace

    assert anon_client.get("/examples", follow_redirects=False).headers["location"] == "/setup"
    assert anon_client.get("/login", follow_redirects=False).headers["location"] == "/setup"
    refused = _setup(anon_client, confirm="something else entirely")
    assert refused.status_code == 400
    assert "not the same" in refused.text
    assert session.scalar(select(func.count()).select_from(User)) == 0

    response = _setup(anon_client, email="  Ann@Example.COM ")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert anon_client.cookies.get(SESSION)
    user = session.scalars(select(User)).one()
    assert user.email == "ann@example.com" and user.password_hash.startswith("$argon2id$")
    workspaces = session.scalars(select(Workspace.id)).all()
    roles = session.scalars(select(Membership.role).where(Membership.user_id == user.id)).all()
    assert len(roles) == len(workspaces) and set(roles) == {"admin"}
    assert anon_client.get("/account/password").status_code == 200


def test_setup_is_closed_once_an_account_exists(anon_client, session):
    from app.models import User

    make_user(session, "admin", email="first@example.com")
    assert anon_client.get("/setup", follow_redirects=False).headers["location"] == "/login"
    token = form_token(anon_client.get("/login").text)
    data = {"name": "X", "email": "intruder@example.com", "password": "p" * 12, "password_confirm": "p" * 12}
    response = anon_client.post("/setup", data={**data, "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert session.scalars(select(User.email)).all() == ["first@example.com"]


def test_sign_in_goes_to_next_and_rotates_the_session_id(anon_client, session):
    user = make_user(session, "editor", email="eve@example.com")
    # A session id planted before sign-in (fixation) must not be the one that gets signed in.
    set_cookie(anon_client, SESSION, "planted-by-an-attacker-0123456789")
    page = anon_client.get("/account/password", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/account/password"

    response = _login(anon_client, "EVE@example.com", next_path="/account/password")
    assert response.status_code == 303 and response.headers["location"] == "/account/password"
    cookie = anon_client.cookies.get(SESSION)
    assert cookie and cookie != "planted-by-an-attacker-0123456789"
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    assert "secure" not in header  # plain HTTP in tests; HTTPS requests get Secure
    assert anon_client.get("/account/password").status_code == 200

    from app.auth.tokens import digest
    from app.models import AuditEvent, AuthSession

    row = session.get(AuthSession, digest(cookie))
    assert row is not None and row.user_id == user.id
    # The raw cookie value is never stored.
    assert session.get(AuthSession, cookie) is None
    assert session.scalars(select(AuditEvent.action).where(AuditEvent.user_id == user.id)).all() == ["login"]

    # Signing in again on the same browser gives yet another id and ends the previous session.
    # (A signed-in browser is sent on from /login; a stale sign-in tab posts with the session's token.)
    assert anon_client.get("/login?next=/upload", follow_redirects=False).headers["location"] == "/upload"
    token = form_token(anon_client.get("/account/password").text)
    again = _login(anon_client, "eve@example.com", token=token)
    assert again.status_code == 303
    assert anon_client.cookies.get(SESSION) != cookie
    session.expire_all()
    assert session.get(AuthSession, digest(cookie)).revoked_at is not None


def test_wrong_password_and_unknown_email_get_the_same_answer(anon_client, session):
    make_user(session, "editor", email="eve@example.com")
    wrong = _login(anon_client, "eve@example.com", "not her password")
    unknown = _login(anon_client, "nobody@example.com", "not her password")
    assert wrong.status_code == unknown.status_code == 400
    assert "Email or password is wrong" in wrong.text and "Email or password is wrong" in unknown.text
    assert SESSION not in anon_client.cookies


def test_open_redirects_are_refused(anon_client, session):
    make_user(session, "editor", email="eve@example.com")
    for evil in ("https://evil.example/x", "//evil.example", "/\\evil.example", "javascript:alert(1)"):
        anon_client.cookies.clear()
        response = _login(anon_client, "eve@example.com", next_path=evil)
        assert response.status_code == 303
        assert response.headers["location"] == "/", evil


def test_sign_out_revokes_the_session(anon_client, session):
    make_user(session, "editor", email="eve@example.com")
    _login(anon_client, "eve@example.com")
    cookie = anon_client.cookies.get(SESSION)
    token = form_token(anon_client.get("/account/password").text)
    response = anon_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert SESSION not in anon_client.cookies
    # The old cookie, replayed, signs nobody in.
    set_cookie(anon_client, SESSION, cookie)
    assert anon_client.get("/account/password", follow_redirects=False).status_code == 303
    api = anon_client.get("/api/examples")
    assert api.status_code == 401 and api.json()["detail"].startswith("Sign in first")
    assert api.headers["www-authenticate"] == "Bearer"
    # htmx follows HX-Redirect to sign in, and comes back to the page (not the partial) afterwards.
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/examples?q=late"}
    htmx = anon_client.get("/account/password", headers=headers)
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login?next=/examples%3Fq%3Dlate"


def test_password_change_ends_other_sessions_and_renews_this_one(client_as, session):
    from app.auth.tokens import digest
    from app.models import AuthSession, User

    laptop = client_as("editor", email="eve@example.com")
    phone = client_as("editor", email="eve@example.com")
    old_laptop_cookie = laptop.cookies.get(SESSION)
    data = {"current_password": PASSWORD, "new_password": "a brand new secret", "new_password_confirm": "x"}
    refused = laptop.post("/account/password", data=data)
    assert refused.status_code == 400 and "not the same" in refused.text
    wrong = laptop.post(
        "/account/password",
        data={**data, "current_password": "guess", "new_password_confirm": data["new_password"]},
    )
    assert wrong.status_code == 400 and "current password is not right" in wrong.text

    response = laptop.post(
        "/account/password",
        data={**data, "new_password_confirm": "a brand new secret"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    new_cookie = laptop.cookies.get(SESSION)
    assert new_cookie and new_cookie != old_laptop_cookie
    # The laptop carries on with its fresh session (and its fresh CSRF token); the phone is signed out.
    page = laptop.get("/account/password?changed=1")
    assert page.status_code == 200 and "Your password is changed" in page.text
    assert phone.get("/account/password", follow_redirects=False).status_code == 303
    session.expire_all()
    assert session.get(AuthSession, digest(old_laptop_cookie)).revoked_at is not None
    user = session.scalars(select(User).where(User.email == "eve@example.com")).one()
    from app.auth.passwords import verify_password

    assert verify_password("a brand new secret", user.password_hash)[0]


def test_idle_and_expired_sessions_sign_nobody_in(client, session):
    from datetime import timedelta

    from app.auth.tokens import digest
    from app.models import AuthSession, utcnow

    row = session.get(AuthSession, digest(client.session_cookie))
    row.last_seen_at = utcnow() - timedelta(days=2)
    session.commit()
    assert client.get("/account/password", follow_redirects=False).status_code == 303
    row.last_seen_at = utcnow()
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert client.get("/account/password", follow_redirects=False).status_code == 303
    row.expires_at = utcnow() + timedelta(hours=1)
    session.commit()
    assert client.get("/account/password").status_code == 200


def test_sign_in_is_throttled_per_account_and_per_address(anon_client, session, monkeypatch):
    monkeypatch.setenv("LASTMILE_LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")
    monkeypatch.setenv("LASTMILE_LOGIN_MAX_FAILURES_PER_IP", "5")
    from app.settings import get_settings

    get_settings.cache_clear()
    make_user(session, "editor", email="eve@example.com")
    make_user(session, "editor", email="bob@example.com")
    for _ in range(3):
        assert _login(anon_client, "eve@example.com", "wrong guess").status_code == 400
    locked = _login(anon_client, "eve@example.com")  # even the right password waits now
    assert locked.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in locked.text
    # Another account from the same address still works until the address itself hits its limit.
    assert _login(anon_client, "bob@example.com").status_code == 303
    anon_client.cookies.clear()
    for _ in range(2):
        assert _login(anon_client, "nobody@example.com", "wrong").status_code == 400
    assert _login(anon_client, "bob@example.com").status_code == 429
