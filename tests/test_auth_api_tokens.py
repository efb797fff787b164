"""API tokens: shown once, only a digest stored, work as Bearer in the chosen workspace, revocable."""

from sqlalchemy import select

from tests.auth_helpers import api_token, make_user


def _bearer(raw: str, workspace: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {raw}"}
    if workspace:
        headers["X-Lastmile-Workspace"] = workspace
    return headers


def test_a_token_works_as_bearer_until_revoked(anon_client, session):
    from app.auth.api_tokens import list_api_tokens, revoke_api_token
    from app.models import ApiToken

    user = make_user(session, "editor", email="eve@example.com")
    raw, row = api_token(session, user, "  Nightly export  ")
    session.commit()
    assert raw.startswith("lm_") and len(raw) > 40
    assert row.prefix == raw[:8] and row.name == "Nightly export"
    stored = session.scalars(select(ApiToken)).one()
    assert stored.token_sha256 != raw and raw not in (stored.prefix, stored.name)

    response = anon_client.get("/api/examples", headers=_bearer(raw))
    assert response.status_code == 200
    assert "set-cookie" not in response.headers  # a token request never gets a browser session
    session.expire_all()
    assert session.get(ApiToken, row.id).last_used_at is not None
    assert [t.id for t in list_api_tokens(session, user.id)] == [row.id]

    other = make_user(session, "admin", email="other@example.com")
    assert revoke_api_token(session, other.id, row.id) is False  # not theirs
    assert revoke_api_token(session, user.id, row.id) is True
    session.commit()
    revoked = anon_client.get("/api/examples", headers=_bearer(raw))
    assert revoked.status_code == 401 and revoked.headers["www-authenticate"] == "Bearer"
    assert "not valid" in revoked.json()["detail"]
    assert list_api_tokens(session, user.id) == []


def test_a_token_of_a_disabled_user_or_a_malformed_header_is_refused(anon_client, session):
    from tests.auth_helpers import api_token

    user = make_user(session, "editor", email="eve@example.com")
    raw, _ = api_token(session, user, "script")
    user.is_active = False
    session.commit()
    assert anon_client.get("/api/examples", headers=_bearer(raw)).status_code == 401
    assert anon_client.get("/api/examples", headers={"Authorization": "Basic abc"}).status_code == 401
    assert anon_client.get("/api/examples", headers={"Authorization": "Bearer"}).status_code == 401


def test_a_token_works_in_the_one_workspace_it_was_made_for(anon_client, session):
    from app.models import Dataset, Workspace
    from tests.auth_helpers import api_token

    user = make_user(session, "editor", email="eve@example.com")
    # Creating a dataset is an editor's job (a reviewer's token would get 403 in Legal too).
    make_user(session, "editor", "legal", email="eve@example.com")
    make_user(session, "admin", "secret-team", email="boss@example.com")
    default_token, _ = api_token(session, user, "script")
    legal_token, legal_row = api_token(session, user, "legal script", "legal")

    created = anon_client.post("/api/datasets", json={"name": "Contracts"}, headers=_bearer(legal_token))
    assert created.status_code == 201
    legal = session.scalars(select(Workspace).where(Workspace.slug == "legal")).one()
    dataset = session.scalars(select(Dataset)).one()
    assert dataset.workspace_id == legal.id == legal_row.workspace_id
    # The default workspace's token does not see Legal's data, and no header switches it there.
    assert anon_client.get(f"/api/datasets/{dataset.id}", headers=_bearer(default_token)).status_code == 404
    for slug in ("legal", "secret-team", "no-such-team"):
        refused = anon_client.get("/api/datasets", headers=_bearer(default_token, slug))
        assert refused.status_code == 403
        assert "works only in the workspace" in refused.json()["detail"]
        assert "secret-team" not in refused.json()["detail"]
    # The header may name the token's own workspace.
    assert anon_client.get("/api/datasets", headers=_bearer(legal_token, "legal")).status_code == 200


def test_joining_a_workspace_never_moves_a_token_there(anon_client, session):
    from app.auth.accounts import set_membership
    from app.models import Membership, Workspace
    from tests.auth_helpers import api_token, workspace_for

    # Eve's only membership is in "team-b"; her token is made for it.
    user = make_user(session, "editor", "team-b", email="eve@example.com")
    raw, row = api_token(session, user, "script")
    assert row.workspace_id == workspace_for(session, "team-b")
    # She then joins the default workspace, whose id is lower (the old rule: the lowest membership id).
    set_membership(session, user.id, workspace_for(session, None), "editor")
    session.commit()
    me = anon_client.get("/api/users/me", headers=_bearer(raw)).json()
    assert me["workspace"]["workspace_slug"] == "team-b"
    # Removed from the token's workspace: the token reaches nothing, not the other workspace.
    session.query(Membership).filter(
        Membership.user_id == user.id, Membership.workspace_id == row.workspace_id
    ).delete()
    session.commit()
    gone = anon_client.get("/api/users/me", headers=_bearer(raw))
    assert gone.status_code == 403 and "works in no workspace you are a member of" in gone.json()["detail"]
    assert session.get(Workspace, row.workspace_id) is not None


def test_https_behind_a_trusted_proxy_gets_secure_cookies_and_hsts(anon_client, session, monkeypatch):
    from app.settings import get_settings
    from tests.auth_helpers import PASSWORD, form_token

    make_user(session, "editor", email="eve@example.com")
    monkeypatch.setenv("LASTMILE_TRUST_PROXY_HEADERS", "true")
    get_settings.cache_clear()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "lastmile.example.com"}
    page = anon_client.get("/login", headers=https)
    assert page.headers["strict-transport-security"].startswith("max-age=")
    data = {"email": "eve@example.com", "password": PASSWORD, "csrf_token": form_token(page.text)}
    # The browser's Origin is the public address, which the proxy passes on as X-Forwarded-Host.
    headers = {
        **https,
        "Origin": "https://lastmile.example.com",
        "Cookie": f"lastmile_csrf={data['csrf_token']}",
    }
    response = anon_client.post("/login", data=data, headers=headers, follow_redirects=False)
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()
