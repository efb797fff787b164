"""Password changes and resets end what the old password gave out: sessions, API tokens (on reset, or
when asked), unused reset links; the current-password check is throttled like sign-in."""

from sqlalchemy import select

from tests.auth_helpers import PASSWORD, form_token, make_user

NEW = "a brand new secret"


def _token(session, user) -> str:
    from tests.auth_helpers import api_token

    raw, _ = api_token(session, user, "nightly export")
    session.commit()
    return raw


def _works(client, raw: str) -> bool:
    client.cookies.clear()
    return client.get("/api/datasets", headers={"Authorization": f"Bearer {raw}"}).status_code == 200


def test_a_password_reset_revokes_the_users_api_tokens(anon_client, session):
    from app.auth.links import create_reset, link_path

    user = make_user(session, "editor", email="eve@example.com")
    raw_token = _token(session, user)
    assert _works(anon_client, raw_token)
    path = link_path("reset", create_reset(session, user, None))
    session.commit()
    token = form_token(anon_client.get(path).text)
    data = {"password": NEW, "password_confirm": NEW, "csrf_token": token}
    assert anon_client.post(path, data=data, follow_redirects=False).status_code == 303
    assert not _works(anon_client, raw_token)


def test_a_password_change_revokes_tokens_only_when_asked(client_as, session):
    from app.models import User

    eve = client_as("editor", email="eve@example.com")
    user = session.get(User, eve.user_id)
    kept, dropped = _token(session, user), _token(session, user)
    page = eve.get("/account/password").text
    assert 'name="revoke_tokens"' in page and "Also revoke my 2 API tokens" in page
    data = {"current_password": PASSWORD, "new_password": NEW, "new_password_confirm": NEW}
    assert eve.post("/account/password", data=data, follow_redirects=False).status_code == 303
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as script:
        assert _works(script, kept) and _works(script, dropped)
    # The change gave this browser a fresh session, with a fresh CSRF token.
    eve.headers["X-CSRF-Token"] = form_token(eve.get("/account/password").text)
    data = {"current_password": NEW, "new_password": PASSWORD, "new_password_confirm": PASSWORD}
    done = eve.post("/account/password", data={**data, "revoke_tokens": "1"})
    assert done.status_code == 200 and "Your 2 API tokens were revoked." in done.text
    with TestClient(create_app()) as script:
        assert not _works(script, kept) and not _works(script, dropped)


def test_a_reset_link_dies_when_the_password_is_changed_another_way(client_as, anon_client, session):
    from app.auth.links import create_reset, find_link
    from app.models import User

    eve = client_as("editor", email="eve@example.com")
    raw = create_reset(session, session.get(User, eve.user_id), None)
    session.commit()
    data = {"current_password": PASSWORD, "new_password": NEW, "new_password_confirm": NEW}
    assert eve.post("/account/password", data=data, follow_redirects=False).status_code == 303
    session.expire_all()
    assert find_link(session, raw, "reset") is None
    assert anon_client.get(f"/reset/{raw}").status_code == 404


def test_the_current_password_check_is_throttled_like_sign_in(client_as, session, monkeypatch):
    from app.auth.passwords import verify_password
    from app.models import LoginAttempt, User
    from app.settings import get_settings

    monkeypatch.setenv("LASTMILE_LOGIN_MAX_FAILURES_PER_ACCOUNT", "3")
    get_settings.cache_clear()
    eve = client_as("editor", email="eve@example.com")
    guess = {"new_password": NEW, "new_password_confirm": NEW}
    for attempt in range(3):
        wrong = eve.post("/account/password", data={**guess, "current_password": f"guess {attempt}"})
        assert wrong.status_code == 400 and "current password is not right" in wrong.text
    locked = eve.post("/account/password", data={**guess, "current_password": PASSWORD})
    assert locked.status_code == 400 and "Too many failed sign-ins" in locked.text
    session.expire_all()
    assert verify_password(PASSWORD, session.get(User, eve.user_id).password_hash)[0]
    account = select(LoginAttempt).where(LoginAttempt.key == "account:eve@example.com")
    failures = session.scalars(account).all()
    assert len(failures) == 3 and not any(f.ok for f in failures)
