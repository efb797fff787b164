"""Test helpers for the account and admin pages: reading shown-once links, signing in, audit actions."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from sqlalchemy import select

from tests.auth_helpers import form_token

ISSUED_URL = re.compile(r'id="issued-url" type="text" value="([^"]+)"')
NEW_TOKEN = re.compile(r'id="new-token" type="text" value="(lm_[^"]+)"')
HTMX = {"HX-Request": "true"}


def issued_path(html: str) -> str:
    """The path of the one-time link a members page shows after an invite or reset."""
    match = ISSUED_URL.search(html)
    assert match, "no one-time link on the page"
    url = match.group(1)
    assert url.startswith("http://testserver/"), url
    return urlsplit(url).path


def new_token(html: str) -> str:
    """The raw API token shown once after creating it."""
    match = NEW_TOKEN.search(html)
    assert match, "no new token on the page"
    return match.group(1)


def login(client, email: str, password: str):
    """Sign in through the real form; returns the response (303 on success)."""
    token = form_token(client.get("/login").text)
    data = {"email": email, "password": password, "next": "/account", "csrf_token": token}
    return client.post("/login", data=data, follow_redirects=False)


def actions(session, workspace_id: int) -> list[str]:
    """The audit actions recorded in a workspace, oldest first."""
    from app.models import AuditEvent

    session.expire_all()
    query = select(AuditEvent.action).where(AuditEvent.workspace_id == workspace_id).order_by(AuditEvent.id)
    return list(session.scalars(query))


def role_of(session, user_id: int, workspace_id: int) -> str | None:
    """The user's role in the workspace as stored now, or None when not a member."""
    from app.models import Membership

    session.expire_all()
    query = select(Membership.role).where(
        Membership.user_id == user_id, Membership.workspace_id == workspace_id
    )
    return session.scalars(query).first()


@contextmanager
def name_restored(session, workspace_id: int) -> Iterator[None]:
    """Put the workspace's name back afterwards (the default workspace outlives each test)."""
    from app.models import Workspace

    name = session.get(Workspace, workspace_id).name
    try:
        yield
    finally:
        session.rollback()
        session.get(Workspace, workspace_id).name = name
        session.commit()
