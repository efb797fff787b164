"""The accounts JSON API with an API token: workspaces, members, invites, users, reset links, audit."""

from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.admin_helpers import actions, role_of
from tests.auth_helpers import form_token


def _script(client) -> TestClient:
    """A cookie-less client that authenticates with a new API token of `client`'s user."""
    from app.main import create_app

    raw = client.post("/api/tokens", json={"name": "admin script"}).json()["token"]
    script = TestClient(create_app())
    script.headers["Authorization"] = f"Bearer {raw}"
    return script


def test_workspaces_and_members_through_the_api(client, anon_client, session):
    script = _script(client)
    mine = script.get("/api/workspaces").json()
    assert [(w["id"], w["role"], w["member_count"]) for w in mine] == [(client.workspace_id, "admin", 1)]

    created = script.post("/api/workspaces", json={"name": "Legal"})
    assert created.status_code == 201
    legal = created.json()
    assert (legal["slug"], legal["role"], legal["member_count"]) == ("legal", "admin", 1)
    assert script.post("/api/workspaces", json={"name": "LEGAL"}).status_code == 409
    assert script.post("/api/workspaces", json={"name": "X", "slug": "Bad Slug!"}).status_code == 422
    assert script.post("/api/workspaces", json={"name": "X", "colour": "red"}).status_code == 422
    renamed = script.patch(f"/api/workspaces/{legal['id']}", json={"name": "Legal team"}).json()
    assert (renamed["name"], renamed["slug"]) == ("Legal team", "legal")

    # The invite names its workspace (the token itself works in the default one only).
    invite = script.post(
        "/api/users",
        json={"email": "ann@example.com", "name": "Ann", "role": "editor", "workspace_id": legal["id"]},
    )
    assert invite.status_code == 201
    link = invite.json()
    assert link["kind"] == "invite" and link["url"].startswith("http://testserver/invite/")
    invites = script.get(f"/api/workspaces/{legal['id']}/invites").json()
    assert [(i["email"], i["role"]) for i in invites] == [("ann@example.com", "editor")]
    assert script.get(f"/api/workspaces/{client.workspace_id}/invites").json() == []

    path = urlsplit(link["url"]).path
    form = anon_client.get(path)
    password = "another long password"
    data = {
        "name": "Ann",
        "password": password,
        "password_confirm": password,
        "csrf_token": form_token(form.text),
    }
    assert anon_client.post(path, data=data, follow_redirects=False).status_code == 303

    members = script.get(f"/api/workspaces/{legal['id']}/members").json()
    assert sorted((m["email"], m["role"], m["pending"]) for m in members) == [
        ("admin@example.com", "admin", False),
        ("ann@example.com", "editor", False),
    ]
    ann_id = next(m["user_id"] for m in members if m["email"] == "ann@example.com")
    patched = script.patch(f"/api/workspaces/{legal['id']}/members/{ann_id}", json={"role": "admin"})
    assert patched.status_code == 200 and patched.json()["role"] == "admin"
    assert (
        script.patch(f"/api/workspaces/{legal['id']}/members/{ann_id}", json={"role": "boss"}).status_code
        == 422
    )

    added = script.post(
        f"/api/workspaces/{client.workspace_id}/members",
        json={"email": "ann@example.com", "role": "reviewer"},
    )
    assert added.status_code == 202 and added.json()["state"] == "offered"
    assert role_of(session, ann_id, client.workspace_id) is None
    # Ann joins only once she accepts, signed in (anon_client holds her session since the invite).
    ann_csrf = {"X-CSRF-Token": form_token(anon_client.get("/account").text)}
    accepted = anon_client.post(f"/api/offers/{added.json()['id']}/accept", headers=ann_csrf)
    assert accepted.status_code == 200 and role_of(session, ann_id, client.workspace_id) == "reviewer"
    users = {u["email"]: u for u in script.get("/api/users").json()}
    assert {m["workspace_slug"] for m in users["ann@example.com"]["memberships"]} == {"legal", _slug(session)}

    reset = script.post(f"/api/users/{ann_id}/reset-link")
    assert reset.status_code == 201 and reset.json()["kind"] == "reset"
    assert anon_client.get(urlsplit(reset.json()["url"]).path).status_code == 200

    assert script.delete(f"/api/workspaces/{client.workspace_id}/members/{ann_id}").status_code == 204
    assert role_of(session, ann_id, client.workspace_id) is None
    assert script.delete(f"/api/workspaces/{legal['id']}", params={"confirm": "nope"}).status_code == 422
    assert (
        script.delete(f"/api/workspaces/{legal['id']}", params={"confirm": "Legal team"}).status_code == 204
    )
    assert script.get(f"/api/workspaces/{legal['id']}/members").status_code == 404
    logged = set(actions(session, client.workspace_id))
    assert {"offer_membership", "accept_membership", "remove_member", "delete_workspace"} <= logged
    script.close()


def _slug(session) -> str:
    """The default workspace's short name."""
    from app.models import Workspace

    return session.scalars(select(Workspace.slug).order_by(Workspace.id)).first()


def test_me_and_the_limits_of_non_admins(client_as):
    editor = client_as("editor")
    me = editor.get("/api/users/me").json()
    assert me["email"] == editor.user_email and me["workspace"]["role"] == "editor"
    assert editor.get("/api/users").status_code == 403
    assert editor.post("/api/users", json={"email": "x@example.com"}).status_code == 403
    assert editor.get(f"/api/workspaces/{editor.workspace_id}/members").status_code == 403
    assert editor.post(f"/api/users/{editor.user_id}/reset-link").status_code == 404
    assert editor.get("/api/tokens").json() == []


def test_the_api_refuses_requests_without_credentials(anon_client):
    for path in ("/api/workspaces", "/api/users", "/api/tokens", "/api/audit", "/api/users/me"):
        response = anon_client.get(path)
        assert response.status_code == 401, path
        assert "Sign in first" in response.json()["detail"]


def test_the_accounts_api_is_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/workspaces", "/api/workspaces/{workspace_id}/members", "/api/users", "/api/tokens"):
        assert path in paths
    assert "/api/audit" in paths and "/account" not in paths
