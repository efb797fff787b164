"""Invite and password-reset links: one use each, they expire, and they sign the person in."""

from datetime import timedelta

from sqlalchemy import select

from tests.auth_helpers import PASSWORD, form_token, make_user


def _post_link(client, path, **data):
    token = form_token(client.get(path).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def test_invite_sets_name_and_password_adds_the_membership_and_works_once(anon_client, session):
    from app.auth.links import create_invite, link_path
    from app.models import Membership, OneTimeLink, User

    admin = make_user(session, "admin", email="admin@example.com")
    sales = make_user(session, "admin", "sales", email="admin@example.com")  # admin of Sales too
    sales_id = session.scalars(select(Membership.workspace_id).where(Membership.user_id == sales.id)).all()[
        -1
    ]
    raw, pending = create_invite(session, "New.Person@Example.com", "", sales_id, "reviewer", admin.id)
    session.commit()
    assert pending.password_hash is None and pending.email == "new.person@example.com"
    # Only the digest is stored.
    assert session.scalars(select(OneTimeLink.token_sha256)).one() != raw

    path = link_path("invite", raw)
    page = anon_client.get(path)
    assert page.status_code == 200 and "new.person@example.com" in page.text and "Sales" in page.text
    short = _post_link(anon_client, path, name="Nia", password="short", password_confirm="short")
    assert short.status_code == 400 and "at least 10 characters" in short.text

    response = _post_link(anon_client, path, name="Nia Person", password=PASSWORD, password_confirm=PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert anon_client.get("/account/password").status_code == 200
    session.expire_all()
    user = session.get(User, pending.id)
    assert user.name == "Nia Person" and user.password_hash.startswith("$argon2id$")
    role = session.scalars(
        select(Membership.role).where(Membership.user_id == user.id, Membership.workspace_id == sales_id)
    ).one()
    assert role == "reviewer"

    anon_client.cookies.clear()
    used = anon_client.get(path)
    assert used.status_code == 404 and "used already or it has expired" in used.text
    again = anon_client.post(path, data={"name": "X", "password": PASSWORD, "password_confirm": PASSWORD})
    assert again.status_code in (403, 404)


def test_an_expired_invite_or_a_made_up_one_does_nothing(anon_client, session, workspace_id):
    from app.auth.links import create_invite
    from app.models import OneTimeLink, utcnow

    admin = make_user(session, "admin", email="admin@example.com")
    raw, _ = create_invite(session, "late@example.com", "Late", workspace_id, "editor", admin.id)
    link = session.scalars(select(OneTimeLink)).one()
    link.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    assert anon_client.get(f"/invite/{raw}").status_code == 404
    assert anon_client.get("/invite/made-up-token").status_code == 404
    assert anon_client.get(f"/reset/{raw}").status_code == 404  # an invite is not a reset link


def test_inviting_someone_who_has_an_account_is_refused(session, workspace_id):
    import pytest

    from app.auth.accounts import AccountError
    from app.auth.links import create_invite

    admin = make_user(session, "admin", email="admin@example.com")
    with pytest.raises(AccountError, match="already has an account"):
        create_invite(session, "ADMIN@example.com", "", workspace_id, "editor", admin.id)


def test_reset_link_sets_a_new_password_once_and_signs_out_everywhere(anon_client, client_as, session):
    from app.auth.links import create_reset, link_path
    from app.auth.passwords import verify_password
    from app.models import User

    other_browser = client_as("editor", email="eve@example.com")
    eve = session.scalars(select(User).where(User.email == "eve@example.com")).one()
    first = create_reset(session, eve, created_by=None)
    raw = create_reset(session, eve, created_by=None)  # a newer link: the first stops working
    session.commit()
    assert anon_client.get(link_path("reset", first)).status_code == 404

    path = link_path("reset", raw)
    page = anon_client.get(path)
    assert page.status_code == 200 and "eve@example.com" in page.text
    mismatch = _post_link(anon_client, path, password="new secret one", password_confirm="new secret two")
    assert mismatch.status_code == 400 and "not the same" in mismatch.text
    done = _post_link(anon_client, path, password="new secret one", password_confirm="new secret one")
    assert done.status_code == 303
    assert anon_client.get("/account/password").status_code == 200
    assert other_browser.get("/account/password", follow_redirects=False).status_code == 303
    session.expire_all()
    assert verify_password("new secret one", session.get(User, eve.id).password_hash)[0]
    anon_client.cookies.clear()
    assert anon_client.get(path).status_code == 404
