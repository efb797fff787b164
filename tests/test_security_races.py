"""Read-check-write steps under real concurrent requests, on SQLite and PostgreSQL: one first admin, never
zero admins, and the sign-in limit holds."""

from sqlalchemy import func, select

from tests.auth_helpers import at_once, form_token, make_user

ROUNDS = 6


def test_concurrent_setups_create_exactly_one_admin(env, session):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.models import User

    app = create_app()
    clients = [TestClient(app) for _ in range(8)]
    jobs = []
    for i, client in enumerate(clients):
        token = form_token(client.get("/setup").text)
        data = {
            "email": f"first{i}@example.com", "name": f"First {i}", "csrf_token": token,
            "password": "a long enough secret", "password_confirm": "a long enough secret",
        }  # fmt: skip
        jobs.append(lambda c=client, d=data: c.post("/setup", data=d, follow_redirects=False).status_code)
    statuses = at_once(jobs)
    for client in clients:
        client.close()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(User)) == 1
    # One signed in; the others are told Lastmile is set up already.
    assert sorted(statuses) == [303] + [400] * 7


def test_two_admins_demoting_each_other_at_once_leave_one_admin(client_as, session):
    from app.services.accounts import usable_admin_count

    for round_ in range(ROUNDS):
        slug = f"team-{round_}"
        ann, bob = client_as("admin", slug), client_as("admin", slug)
        path = f"/api/workspaces/{ann.workspace_id}/members"
        statuses = at_once(
            [
                lambda a=ann, b=bob, p=path: a.patch(f"{p}/{b.user_id}", json={"role": "editor"}).status_code,
                lambda a=ann, b=bob, p=path: b.patch(f"{p}/{a.user_id}", json={"role": "editor"}).status_code,
            ]
        )
        session.expire_all()
        assert usable_admin_count(session, ann.workspace_id) == 1, (round_, statuses)
        assert sorted(statuses) in ([200, 403], [200, 409]), statuses


def test_concurrent_wrong_passwords_stop_at_the_limit(anon_client, session, monkeypatch):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.models import LoginAttempt
    from app.settings import get_settings

    monkeypatch.setenv("LASTMILE_LOGIN_MAX_FAILURES_PER_ACCOUNT", "5")
    monkeypatch.setenv("LASTMILE_LOGIN_MAX_FAILURES_PER_IP", "1000")
    get_settings.cache_clear()
    make_user(session, "editor", email="eve@example.com")
    app = create_app()
    clients = [TestClient(app) for _ in range(16)]
    jobs = []
    for i, client in enumerate(clients):
        data = {"email": "eve@example.com", "password": f"guess number {i}", "csrf_token": ""}
        data["csrf_token"] = form_token(client.get("/login").text)
        jobs.append(lambda c=client, d=data: c.post("/login", data=d).status_code)
    statuses = at_once(jobs)
    for client in clients:
        client.close()
    assert statuses.count(400) <= 5 and statuses.count(400) + statuses.count(429) == 16, statuses
    session.expire_all()
    failures = select(func.count()).where(
        LoginAttempt.key == "account:eve@example.com", LoginAttempt.ok.is_(False)
    )
    # A refused try leaves no trace: only the tries that were checked count.
    assert session.scalar(failures) == statuses.count(400)
