"""Invitations never hand over someone else's account: another workspace's pending invitee gets an offer,
not a password-setting link; a link sets a password once; joining needs the account owner's consent, given
in the browser; a token made in the browser works in the workspace chosen for it."""

from sqlalchemy import select

from tests.admin_helpers import issued_path, role_of
from tests.auth_helpers import PASSWORD, at_once, form_token


def _accept(client, path: str, password: str):
    form = client.get(path)
    data = {
        "name": "X",
        "password": password,
        "password_confirm": password,
        "csrf_token": form_token(form.text),
    }
    return client.post(path, data=data, follow_redirects=False)


def test_another_workspace_cannot_reinvite_a_pending_invitee_to_take_the_account(
    client, client_as, anon_client, session
):
    from app.models import MembershipOffer, OneTimeLink, User

    first = issued_path(
        client.post(f"/workspaces/{client.workspace_id}/invites", data={"email": "x@example.com"}).text
    )
    rival = client_as("admin", "team-b")
    again = rival.post(f"/workspaces/{rival.workspace_id}/invites", data={"email": "x@example.com"})
    # No link the rival could use to choose x@example.com's password: an offer x answers once signed in.
    assert again.status_code == 200 and "Offer sent" in again.text
    assert "/invite/" not in again.text
    session.expire_all()
    assert len(session.scalars(select(OneTimeLink)).all()) == 1
    # The first workspace's link is untouched and still works for the real person.
    assert _accept(anon_client, first, PASSWORD).status_code == 303
    user = session.scalars(select(User).where(User.email == "x@example.com")).one()
    assert role_of(session, user.id, client.workspace_id) == "reviewer"
    assert role_of(session, user.id, rival.workspace_id) is None
    assert session.scalars(select(MembershipOffer.workspace_id)).all() == [rival.workspace_id]
    assert "Team B" in anon_client.get("/account").text


def test_one_invite_link_sent_twice_at_once_sets_one_password(client, env, session):
    from fastapi.testclient import TestClient

    from app.auth.passwords import verify_password
    from app.main import create_app
    from app.models import User

    path = issued_path(
        client.post(f"/workspaces/{client.workspace_id}/invites", data={"email": "y@example.com"}).text
    )
    app = create_app()
    browsers = [TestClient(app), TestClient(app)]
    passwords = ["first long password", "second long password"]
    forms = [form_token(b.get(path).text) for b in browsers]

    def send(i: int):
        data = {
            "name": "Y",
            "password": passwords[i],
            "password_confirm": passwords[i],
            "csrf_token": forms[i],
        }
        return browsers[i].post(path, data=data, follow_redirects=False).status_code

    statuses = at_once([lambda: send(0), lambda: send(1)])
    for b in browsers:
        b.close()
    assert sorted(statuses) == [303, 404], statuses
    session.expire_all()
    user = session.scalars(select(User).where(User.email == "y@example.com")).one()
    winner = statuses.index(303)
    assert verify_password(passwords[winner], user.password_hash)[0]
    assert not verify_password(passwords[1 - winner], user.password_hash)[0]


def test_an_offer_is_answered_in_the_browser_never_with_a_token(client, client_as, anon_client, session):
    from app.models import MembershipOffer, User
    from tests.auth_helpers import api_token

    dora = client_as("editor", "team-b", email="dora@example.com")
    raw, _ = api_token(session, session.get(User, dora.user_id), "script")
    offered = client.post(
        f"/api/workspaces/{client.workspace_id}/members", json={"email": "dora@example.com", "role": "admin"}
    )
    assert offered.status_code == 202
    offer_id = offered.json()["id"]
    bearer = {"Authorization": f"Bearer {raw}"}
    by_token = anon_client.post(f"/api/offers/{offer_id}/accept", headers=bearer)
    assert by_token.status_code == 403 and "in the browser" in by_token.json()["detail"]
    assert role_of(session, dora.user_id, client.workspace_id) is None
    # Someone else's offer is as unknown as a missing one.
    assert client.post(f"/api/offers/{offer_id}/accept").status_code == 404
    assert dora.post(f"/api/offers/{offer_id}/decline").status_code == 204
    session.expire_all()
    assert session.scalars(select(MembershipOffer)).all() == []
    assert role_of(session, dora.user_id, client.workspace_id) is None


def test_a_token_made_in_the_browser_works_in_the_workspace_chosen_for_it(client_as, anon_client, session):
    from app.models import ApiToken, Dataset

    eve = client_as("editor", email="eve@example.com")
    legal = client_as("editor", "legal", email="eve@example.com")
    page = eve.get("/account").text
    assert 'name="workspace_id"' in page and "Legal" in page
    card = eve.post("/account/tokens", data={"name": "legal script", "workspace_id": str(legal.workspace_id)})
    assert card.status_code == 201 and "created for Legal" in card.text
    raw = card.text.split('value="lm_', 1)[1].split('"', 1)[0]
    row = session.scalars(select(ApiToken)).one()
    assert row.workspace_id == legal.workspace_id
    created = anon_client.post(
        "/api/datasets", json={"name": "Contracts"}, headers={"Authorization": f"Bearer lm_{raw}"}
    )
    assert created.status_code == 201
    assert session.scalars(select(Dataset.workspace_id)).one() == legal.workspace_id
    other = client_as("admin", "secret-team")
    refused = eve.post("/account/tokens", data={"name": "x", "workspace_id": str(other.workspace_id)})
    assert refused.status_code == 422 and "Choose one of your workspaces" in refused.text
