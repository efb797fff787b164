"""Account page: your details and workspaces; API tokens shown once, usable, listed by prefix, revocable."""

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.admin_helpers import HTMX, new_token
from tests.auth_helpers import make_user


def test_the_account_page_shows_you_and_your_workspaces(client_as, session):
    me = client_as("editor")
    legal = client_as("admin", "legal")
    make_user(session, "reviewer", legal.workspace_id, email=me.user_email)
    page = me.get("/account")
    assert page.status_code == 200
    assert me.user_email in page.text and 'href="/account/password"' in page.text
    assert "Legal" in page.text and "Reviewer" in page.text and "Editor" in page.text
    assert "No API tokens yet" in page.text
    # A reviewer or editor sees no members link to manage.
    assert f"/workspaces/{legal.workspace_id}/members" not in page.text


def test_a_token_is_shown_once_works_and_stops_working_when_revoked(client, session):
    from app.main import create_app
    from app.models import ApiToken

    card = client.post("/account/tokens", data={"name": "Nightly export"}, headers=HTMX)
    assert card.status_code == 200 and "shown only this once" in card.text
    raw = new_token(card.text)
    row = session.scalars(select(ApiToken)).one()
    assert row.token_sha256 != raw and raw.startswith(row.prefix)

    page = client.get("/account")
    assert raw not in page.text
    assert "Nightly export" in page.text and f"{row.prefix}…" in page.text and "Never" in page.text

    with TestClient(create_app()) as script:
        headers = {"Authorization": f"Bearer {raw}"}
        me = script.get("/api/users/me", headers=headers)
        assert me.status_code == 200 and me.json()["email"] == client.user_email
        assert client.get("/api/tokens").json()[0]["last_used_at"] is not None
        # A token cannot make more tokens: a leaked one could otherwise outlive its revocation.
        minted = script.post("/api/tokens", json={"name": "copy"}, headers=headers)
        assert minted.status_code == 403 and "Account page" in minted.json()["detail"]

        revoked = client.post(f"/account/tokens/{row.id}/revoke", headers=HTMX)
        assert revoked.status_code == 200 and "Nightly export" in revoked.text and "revoked" in revoked.text
        assert "No API tokens yet" in revoked.text
        assert script.get("/api/users/me", headers=headers).status_code == 401
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 404


def test_a_plain_form_post_shows_the_token_on_the_account_page(client):
    page = client.post("/account/tokens", data={"name": ""})
    assert page.status_code == 201 and "<h1>Your account</h1>" in page.text
    assert new_token(page.text).startswith("lm_")
    assert "API token" in client.get("/account").text  # an empty name gets a default one


def test_you_cannot_revoke_someone_elses_token(client, client_as, session):
    from app.models import ApiToken

    other = client_as("admin")
    other.post("/account/tokens", data={"name": "theirs"}, headers=HTMX)
    token_id = session.scalars(select(ApiToken.id)).one()
    page = client.post(f"/account/tokens/{token_id}/revoke")
    assert page.status_code == 404 and "no active API token" in page.text
    assert client.delete(f"/api/tokens/{token_id}").status_code == 404
    session.expire_all()
    assert session.get(ApiToken, token_id).revoked_at is None
    assert other.delete(f"/api/tokens/{token_id}").status_code == 204


def test_token_names_are_escaped(client):
    xss = "<script>alert(1)</script>"
    card = client.post("/account/tokens", data={"name": xss}, headers=HTMX)
    assert xss not in card.text and "&lt;script&gt;" in card.text
    assert xss not in client.get("/account").text
