"""Members pages: invites, reset links, roles, the last admin, add and remove, other teams' workspaces."""

from sqlalchemy import select

from tests.admin_helpers import HTMX, actions, issued_path, login, role_of
from tests.auth_helpers import PASSWORD, form_token, make_user

NEW_PASSWORD = "a brand new long password"


def _members(client) -> str:
    """The members page path of the client's workspace."""
    return f"/workspaces/{client.workspace_id}/members"


def test_invite_then_accept_then_sign_in(client, anon_client, session):
    from app.models import OneTimeLink, User

    page = client.post(
        f"/workspaces/{client.workspace_id}/invites",
        data={"email": " Ann@Example.com ", "name": "Ann", "role": "editor"},
    )
    assert page.status_code == 201
    assert "Send this link to Ann; it works once, until" in page.text
    path = issued_path(page.text)
    assert path.startswith("/invite/")
    # Only the hash is stored; the page shows the link once and the members page never again.
    raw = path.rsplit("/", 1)[1]
    assert raw not in client.get(_members(client)).text
    assert session.scalars(select(OneTimeLink.token_sha256)).one() != raw
    invited = session.scalars(select(User).where(User.email == "ann@example.com")).one()
    assert invited.password_hash is None
    assert "ann@example.com" in client.get(_members(client)).text  # listed under open invites

    form = anon_client.get(path)
    assert form.status_code == 200 and "ann@example.com" in form.text
    data = {"name": "Ann Example", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    accepted = anon_client.post(
        path, data={**data, "csrf_token": form_token(form.text)}, follow_redirects=False
    )
    assert accepted.status_code == 303
    assert role_of(session, invited.id, client.workspace_id) == "editor"
    account = anon_client.get("/account")
    assert account.status_code == 200 and "Ann Example" in account.text and "Editor" in account.text

    # The link worked once; the new password signs in from another browser.
    assert anon_client.get(path).status_code == 404
    anon_client.cookies.clear()
    assert login(anon_client, "ann@example.com", NEW_PASSWORD).status_code == 303
    assert "invite" in actions(session, client.workspace_id)


def test_inviting_an_existing_account_makes_an_offer_and_leaves_its_password_alone(client, session):
    from app.models import MembershipOffer, OneTimeLink, User

    bob = make_user(session, None, email="bob@example.com")
    before = bob.password_hash
    page = client.post(f"/workspaces/{client.workspace_id}/invites", data={"email": "bob@example.com"})
    assert page.status_code == 200 and "Offer sent" in page.text and "bob@example.com" in page.text
    session.expire_all()
    assert session.get(User, bob.id).password_hash == before
    assert session.scalars(select(OneTimeLink)).all() == []
    assert session.scalars(select(MembershipOffer.user_id)).all() == [bob.id]
    assert role_of(session, bob.id, client.workspace_id) is None
    refused = client.post(f"/workspaces/{client.workspace_id}/invites", data={"email": "not-an-email"})
    assert refused.status_code == 422 and "is not an email address" in refused.text


def test_reset_link_works_once_and_signs_out_the_old_sessions(client, client_as, anon_client, session):
    member = client_as("editor")
    assert member.get("/account").status_code == 200
    page = client.post(f"{_members(client)}/{member.user_id}/reset-link")
    assert page.status_code == 201 and "it works once, until" in page.text
    path = issued_path(page.text)
    assert path.startswith("/reset/")

    form = anon_client.get(path)
    assert form.status_code == 200
    data = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "csrf_token": form_token(form.text)}
    assert anon_client.post(path, data=data, follow_redirects=False).status_code == 303

    # Used once: the link is dead, the member's old browser is signed out, the new password works.
    assert anon_client.get(path).status_code == 404
    again = anon_client.post(path, data=data, follow_redirects=False)
    assert again.status_code in (403, 404)
    assert member.get("/account", follow_redirects=False).status_code == 303
    anon_client.cookies.clear()
    old = login(anon_client, member.user_email, PASSWORD)
    assert old.status_code >= 400 and "password is wrong" in old.text
    assert login(anon_client, member.user_email, NEW_PASSWORD).status_code == 303
    assert "reset_link" in actions(session, client.workspace_id)


def test_reset_link_refused_when_the_person_is_also_in_a_workspace_you_do_not_administer(
    client, client_as, session
):
    other = client_as("admin", "legal")
    # The same person is a reviewer here and admin of Legal: a Sales admin must not take over that account.
    make_user(session, "reviewer", client.workspace_id, email=other.user_email)
    page = client.post(f"{_members(client)}/{other.user_id}/reset-link")
    assert page.status_code == 403
    # Which other workspaces they belong to is not this admin's to know.
    assert "also a member of a workspace you do not administer" in page.text and "Legal" not in page.text
    assert "reset_link" not in actions(session, client.workspace_id)


def test_the_last_admin_can_be_neither_demoted_nor_removed(client, client_as, session):
    me = client.user_id
    row = client.post(f"{_members(client)}/{me}/role", data={"role": "editor"}, headers=HTMX)
    assert row.status_code == 200
    assert (
        "You are the only admin of" in row.text
        and "make yourself editor" in row.text
        and "Make another member admin first" in row.text
    )
    assert role_of(session, me, client.workspace_id) == "admin"

    page = client.post(f"{_members(client)}/{me}/role", data={"role": "reviewer"})
    assert page.status_code == 409 and "only admin of" in page.text
    removed = client.post(f"{_members(client)}/{me}/remove")
    assert removed.status_code == 409 and "cannot remove" in removed.text
    api = client.patch(f"/api/workspaces/{client.workspace_id}/members/{me}", json={"role": "editor"})
    assert api.status_code == 409 and "only admin" in api.json()["detail"]
    assert client.delete(f"/api/workspaces/{client.workspace_id}/members/{me}").status_code == 409

    # An invited admin who has not chosen a password yet cannot sign in: it does not count.
    invited = client.post(
        f"/workspaces/{client.workspace_id}/invites", data={"email": "pending@example.com", "role": "admin"}
    )
    assert invited.status_code == 201
    assert client.post(f"{_members(client)}/{me}/role", data={"role": "editor"}).status_code == 409

    # With a second admin who can sign in, the first may step down; their page then moves on.
    client_as("admin")
    done = client.post(f"{_members(client)}/{me}/role", data={"role": "editor"}, headers=HTMX)
    assert done.status_code == 200 and done.headers["HX-Redirect"] == "/account"
    assert role_of(session, me, client.workspace_id) == "editor"
    assert client.get(_members(client)).status_code == 403


def test_a_role_change_applies_on_the_next_request(client, client_as, session):
    editor = client_as("editor")
    assert editor.get(_members(client)).status_code == 403
    assert editor.get("/api/audit").status_code == 403

    row = client.post(f"{_members(client)}/{editor.user_id}/role", data={"role": "admin"}, headers=HTMX)
    assert row.status_code == 200 and "is now admin" in row.text
    assert 'value="admin" selected' in row.text
    assert editor.get(_members(client)).status_code == 200
    assert editor.get("/api/audit").status_code == 200

    page = client.post(
        f"{_members(client)}/{editor.user_id}/role", data={"role": "reviewer"}, follow_redirects=False
    )
    assert page.status_code == 303 and page.headers["location"].endswith("?done=role")
    assert editor.get(_members(client)).status_code == 403
    assert actions(session, client.workspace_id).count("role_change") == 2
    refused = client.post(f"{_members(client)}/{editor.user_id}/role", data={"role": "owner"})
    assert refused.status_code == 422 and "not a role" in refused.text


def test_an_existing_account_joins_only_when_it_accepts_and_can_be_removed(client, client_as, session):
    carl = client_as(None, email="carl@example.com")
    user_id = carl.user_id
    added = client.post(
        _members(client), data={"email": "CARL@example.com", "role": "reviewer"}, follow_redirects=False
    )
    assert added.status_code == 303 and added.headers["location"].endswith("?done=offered")
    assert role_of(session, user_id, client.workspace_id) is None
    assert "carl@example.com" in client.get(_members(client)).text  # listed under Offers
    # Carl belongs to no workspace yet: the offers page is open to him, and accepting it makes him a member.
    offers = carl.get("/account/offers")
    assert offers.status_code == 200 and "Accept" in offers.text
    from app.models import MembershipOffer, User

    offer_id = session.scalars(select(MembershipOffer.id)).one()
    accepted = carl.post(f"/account/offers/{offer_id}/accept", follow_redirects=False)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/account?done=joined"
    assert role_of(session, user_id, client.workspace_id) == "reviewer"
    assert "You joined the workspace" in carl.get("/account?done=joined").text
    user = session.get(User, user_id)

    twice = client.post(_members(client), data={"email": "carl@example.com", "role": "editor"})
    assert twice.status_code == 409 and "already a member" in twice.text
    unknown = client.post(_members(client), data={"email": "nobody@example.com", "role": "editor"})
    assert unknown.status_code == 422 and "no account for nobody@example.com" in unknown.text

    row = client.post(f"{_members(client)}/{user.id}/remove", headers=HTMX)
    assert row.status_code == 200 and "Carl was removed" in row.text
    assert role_of(session, user.id, client.workspace_id) is None
    assert client.post(f"{_members(client)}/{user.id}/remove").status_code == 404
    assert actions(session, client.workspace_id)[-3:] == [
        "offer_membership",
        "accept_membership",
        "remove_member",
    ]


def test_open_invites_can_get_a_new_link_or_be_cancelled(client, anon_client, session):
    from app.models import OneTimeLink

    first = issued_path(
        client.post(f"/workspaces/{client.workspace_id}/invites", data={"email": "dee@example.com"}).text
    )
    link_id = session.scalars(select(OneTimeLink.id)).one()
    renewed = client.post(f"/workspaces/{client.workspace_id}/invites/{link_id}/renew")
    assert renewed.status_code == 201
    second = issued_path(renewed.text)
    assert second != first
    assert anon_client.get(first).status_code == 404
    assert anon_client.get(second).status_code == 200

    # Inviting the same person again also replaces the open link.
    third = issued_path(
        client.post(f"/workspaces/{client.workspace_id}/invites", data={"email": "dee@example.com"}).text
    )
    assert anon_client.get(second).status_code == 404
    second = third
    session.expire_all()
    open_id = session.scalars(select(OneTimeLink.id).where(OneTimeLink.used_at.is_(None))).one()
    cancelled = client.post(
        f"/workspaces/{client.workspace_id}/invites/{open_id}/cancel", follow_redirects=False
    )
    assert cancelled.status_code == 303
    assert anon_client.get(second).status_code == 404
    assert "No open invites" in client.get(_members(client)).text
    assert client.post(f"/workspaces/{client.workspace_id}/invites/{open_id}/cancel").status_code == 404
    assert "cancel_invite" in actions(session, client.workspace_id)


def test_another_teams_workspace_answers_404_and_a_reviewer_403(client, client_as):
    legal = client_as("admin", "legal")
    for path in (f"/workspaces/{legal.workspace_id}/members", f"/workspaces/{legal.workspace_id}/audit"):
        page = client.get(path)
        assert page.status_code == 404 and "no workspace" in page.text
    assert (
        client.post(
            f"/workspaces/{legal.workspace_id}/members/{legal.user_id}/role", data={"role": "reviewer"}
        ).status_code
        == 404
    )
    assert (
        client.post(f"/workspaces/{legal.workspace_id}/members/{legal.user_id}/reset-link").status_code == 404
    )
    assert client.get(f"/api/workspaces/{legal.workspace_id}/members").status_code == 404
    missing = client.get("/workspaces/999999/members")
    assert missing.status_code == 404 and "There is no workspace 999999 among yours" in missing.text
    assert '<a class="btn" href="/workspaces">Workspaces</a>' in missing.text
    # Legal's admin is not shown Sales' members either, nor can reach a Sales member through Legal.
    assert legal.get(f"/workspaces/{client.workspace_id}/members").status_code == 404
    assert legal.post(f"/workspaces/{legal.workspace_id}/members/{client.user_id}/remove").status_code == 404

    reviewer = client_as("reviewer")
    page = reviewer.get(f"/workspaces/{client.workspace_id}/members")
    assert page.status_code == 403 and "only admins can do this" in page.text


def test_plain_forms_carry_their_csrf_token(client):
    invites = f"/workspaces/{client.workspace_id}/invites"
    token = form_token(client.get(_members(client)).text)
    del client.headers["X-CSRF-Token"]  # a browser without JavaScript sends the form field only
    assert client.post(invites, data={"email": "eve@example.com"}).status_code == 403
    assert client.post(invites, data={"email": "eve@example.com", "csrf_token": token}).status_code == 201
