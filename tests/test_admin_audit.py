"""Audit log: every admin action is recorded, the page and API show it newest first, paged and filtered,
and only to the workspace's admins."""

from tests.admin_helpers import HTMX, actions, issued_path, name_restored


def test_every_admin_action_records_an_event(client, client_as, session):
    with name_restored(session, client.workspace_id):
        _every_admin_action_records_an_event(client, client_as, session)


def _every_admin_action_records_an_event(client, client_as, session):
    """The body of the test above (it renames the default workspace)."""
    ws = client.workspace_id
    members = f"/workspaces/{ws}/members"
    from sqlalchemy import select

    from app.models import MembershipOffer, User

    bob_browser = client_as(None, email="bob@example.com")
    bob = session.get(User, bob_browser.user_id)
    editor = client_as("editor")

    issued_path(client.post(f"/workspaces/{ws}/invites", data={"email": "ann@example.com"}).text)
    client.post(members, data={"email": "bob@example.com", "role": "reviewer"})
    bob_browser.post(f"/account/offers/{session.scalars(select(MembershipOffer.id)).one()}/accept")
    client.post(f"{members}/{bob.id}/role", data={"role": "editor"}, headers=HTMX)
    client.post(f"{members}/{editor.user_id}/reset-link")
    client.post(f"{members}/{bob.id}/remove", headers=HTMX)
    client.post("/account/tokens", data={"name": "script"}, headers=HTMX)
    token_id = client.get("/api/tokens").json()[0]["id"]
    client.post(f"/account/tokens/{token_id}/revoke", headers=HTMX)
    client.post(f"/workspaces/{ws}/rename", data={"name": "Sales"})
    created = client.post("/workspaces", data={"name": "Legal"}, follow_redirects=False)
    legal_id = int(created.headers["location"].split("/")[2])

    assert actions(session, ws) == [
        "invite",
        "offer_membership",
        "accept_membership",
        "role_change",
        "reset_link",
        "remove_member",
        "api_token_create",
        "api_token_revoke",
        "rename_workspace",
    ]
    assert actions(session, legal_id) == ["create_workspace"]

    page = client.get(f"/workspaces/{ws}/audit")
    assert page.status_code == 200
    for label in ("Invited a user", "Changed a role", "Removed a member", "Created a password reset link"):
        assert label in page.text
    assert "from reviewer, to editor" in page.text and "bob@example.com" in page.text
    # Newest first (the table comes after the filter's choices, which name the actions too).
    table = page.text.split("<tbody>", 1)[1]
    assert table.index("Renamed the workspace") < table.index("Invited a user")


def test_the_log_is_paged_and_filtered_by_action_and_person(client, client_as, session):
    from app.auth.audit import record_event

    other = client_as("editor")
    for n in range(55):
        record_event(session, client.workspace_id, client.user_id, "upload", target=f"file-{n:02d}.txt")
    record_event(session, client.workspace_id, other.user_id, "export", target="examples.csv")
    session.commit()
    path = f"/workspaces/{client.workspace_id}/audit"

    first = client.get(path)
    assert first.text.count("<tr>") == 1 + 50  # header row + one page
    assert "Page 1 of 2" in first.text and "56 events" in first.text
    assert first.text.index("examples.csv") < first.text.index("file-54.txt")
    second = client.get(path, params={"page": 2})
    assert second.text.count("<tr>") == 1 + 6 and "file-00.txt" in second.text and 'rel="prev"' in second.text

    by_action = client.get(path, params={"action": "export"})
    assert "examples.csv" in by_action.text and "file-01.txt" not in by_action.text
    by_person = client.get(path, params={"user": other.user_id})
    assert "examples.csv" in by_person.text and "file-01.txt" not in by_person.text
    nothing = client.get(path, params={"action": "export", "user": client.user_id})
    assert "No events match these filters" in nothing.text

    api = client.get("/api/audit", params={"action": "upload", "page_size": 10, "page": 6}).json()
    assert api["total"] == 55 and api["pages"] == 6 and len(api["events"]) == 5
    assert (
        api["events"][0]["label"] == "Uploaded files" and api["events"][0]["user_email"] == client.user_email
    )


def test_an_empty_log_teaches_what_appears_there(client_as):
    admin = client_as("admin", "fresh")
    page = admin.get(f"/workspaces/{admin.workspace_id}/audit")
    assert page.status_code == 200 and "Nothing recorded yet" in page.text


def test_only_the_workspaces_admins_see_its_log(client, client_as):
    path = f"/workspaces/{client.workspace_id}/audit"
    for role in ("reviewer", "editor"):
        member = client_as(role)
        page = member.get(path)
        assert page.status_code == 403 and "only admins can do this" in page.text
        assert member.get("/api/audit").status_code == 403
    outsider = client_as("admin", "elsewhere")
    assert outsider.get(path).status_code == 404
    assert outsider.get("/api/audit").json()["total"] == 0
    assert client.get(path).status_code == 200
