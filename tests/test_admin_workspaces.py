"""Workspaces page: list with roles and counts, create (creator becomes admin), rename, delete, escaping."""

from sqlalchemy import func, select

from tests.admin_helpers import actions, role_of
from tests.auth_helpers import make_user

XSS = "<script>alert(1)</script>"


def test_an_admin_creates_a_workspace_and_becomes_its_admin(client, session):
    from app.models import Workspace

    response = client.post("/workspaces", data={"name": "  Legal & Compliance "}, follow_redirects=False)
    assert response.status_code == 303
    workspace = session.scalars(select(Workspace).where(Workspace.slug == "legal-compliance")).one()
    assert workspace.name == "Legal & Compliance"
    assert response.headers["location"] == f"/workspaces/{workspace.id}/members?done=created"
    assert role_of(session, client.user_id, workspace.id) == "admin"
    assert actions(session, workspace.id) == ["create_workspace"]

    page = client.get("/workspaces")
    assert page.status_code == 200
    assert "Legal &amp; Compliance" in page.text and "legal-compliance" in page.text
    members = client.get(response.headers["location"])
    assert "Workspace created. You are its admin" in members.text

    # The short name is unique: the same name again is refused with the reason.
    again = client.post("/workspaces", data={"name": "Legal & compliance"})
    assert again.status_code == 409 and "used by another workspace" in again.text
    empty = client.post("/workspaces", data={"name": "   "})
    assert empty.status_code == 422 and "Enter a name for the workspace" in empty.text
    assert session.scalar(select(func.count()).select_from(Workspace)) == 2


def test_the_workspaces_page_lists_roles_and_member_counts(client, client_as, session):
    client_as("reviewer")
    client_as("editor")
    legal = client_as("admin", "legal")
    make_user(session, "reviewer", legal.workspace_id, email=client.user_email)
    page = client.get("/workspaces")
    assert page.status_code == 200
    rows = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    assert len(rows) == 2
    legal_row = next(r for r in rows if "Legal" in r)
    default_row = next(r for r in rows if "Legal" not in r)
    assert "Reviewer" in legal_row and "<td>2</td>" in legal_row and "Only its admins manage" in legal_row
    assert "Admin" in default_row and "<td>3</td>" in default_row and "/members" in default_row


def test_only_admins_see_the_workspaces_page_or_create_workspaces(client_as):
    reviewer = client_as("reviewer")
    page = reviewer.get("/workspaces")
    assert page.status_code == 403 and "Account page" in page.text
    assert reviewer.post("/workspaces", data={"name": "Mine"}).status_code == 403
    assert reviewer.post("/api/workspaces", json={"name": "Mine"}).status_code == 403
    assert reviewer.get("/account").status_code == 200


def test_rename_keeps_the_short_name(client_as, session):
    from app.models import Workspace

    admin = client_as("admin", "sales")
    response = admin.post(
        f"/workspaces/{admin.workspace_id}/rename", data={"name": "Sales team"}, follow_redirects=False
    )
    assert response.status_code == 303
    session.expire_all()
    after = session.get(Workspace, admin.workspace_id)
    assert (after.name, after.slug) == ("Sales team", "sales")
    assert actions(session, admin.workspace_id) == ["rename_workspace"]
    refused = admin.post(f"/workspaces/{admin.workspace_id}/rename", data={"name": ""})
    assert refused.status_code == 422 and "Enter a name" in refused.text


def test_the_run_webhook_is_set_on_the_settings_form(client_as, session):
    from app.models import Workspace

    admin = client_as("admin", "sales")
    url = f"/workspaces/{admin.workspace_id}/rename"
    saved = admin.post(url, data={"name": "Sales", "webhook_url": "https://93.184.215.14/h/1"})
    assert saved.status_code == 200
    session.expire_all()
    assert session.get(Workspace, admin.workspace_id).webhook_url == "https://93.184.215.14/h/1"
    assert 'value="https://93.184.215.14/h/1"' in admin.get(f"/workspaces/{admin.workspace_id}/members").text
    refused = admin.post(url, data={"name": "Renamed", "webhook_url": "ftp://example.com"})
    assert refused.status_code == 422 and "must start with https://" in refused.text
    session.expire_all()
    kept = session.get(Workspace, admin.workspace_id)
    assert (kept.name, kept.webhook_url) == ("Sales", "https://93.184.215.14/h/1")  # nothing half-saved
    admin.post(url, data={"name": "Sales", "webhook_url": ""})
    session.expire_all()
    assert session.get(Workspace, admin.workspace_id).webhook_url is None


def test_delete_needs_the_name_typed_and_never_removes_the_last_workspace(client, session):
    from app.models import Membership, Workspace

    only = client.post(f"/workspaces/{client.workspace_id}/delete", data={"confirm": _name(session, client)})
    assert only.status_code == 409 and "only workspace" in only.text

    created = client.post("/workspaces", data={"name": "Scratch"}, follow_redirects=False)
    scratch_id = int(created.headers["location"].split("/")[2])
    wrong = client.post(f"/workspaces/{scratch_id}/delete", data={"confirm": "Scrat"})
    assert wrong.status_code == 422 and "Type the workspace name “Scratch” exactly" in wrong.text
    assert session.get(Workspace, scratch_id) is not None

    deleted = client.post(
        f"/workspaces/{scratch_id}/delete", data={"confirm": "scratch"}, follow_redirects=False
    )
    assert deleted.status_code == 303 and deleted.headers["location"] == "/workspaces?done=deleted"
    session.expire_all()
    assert session.get(Workspace, scratch_id) is None
    assert session.scalars(select(Membership).where(Membership.workspace_id == scratch_id)).all() == []
    # The event stays in a workspace the admin still works in.
    assert "delete_workspace" in actions(session, client.workspace_id)
    assert client.get(f"/workspaces/{scratch_id}/members").status_code == 404


def _name(session, client) -> str:
    """The name of the client's workspace."""
    from app.models import Workspace

    return session.get(Workspace, client.workspace_id).name


def test_workspace_and_person_names_are_escaped_everywhere(client, session):
    created = client.post("/workspaces", data={"name": XSS}, follow_redirects=False)
    assert created.status_code == 303
    members_path = created.headers["location"].split("?", 1)[0]
    workspace_id = int(members_path.split("/")[2])
    make_user(session, "editor", workspace_id, email="mallory@example.com", name=XSS)
    client.post(f"/workspaces/{workspace_id}/invites", data={"email": "x@example.com", "name": XSS})

    for path in ("/workspaces", members_path, f"/workspaces/{workspace_id}/audit", "/account"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert XSS not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
