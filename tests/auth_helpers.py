"""Test helpers for accounts: users with a role in a workspace, and TestClients signed in as them."""

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

PASSWORD = "correct horse battery staple"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
# The domain httpx files TestClient's cookies under; a cookie set for another domain would sit beside
# the server's cookie of the same name instead of replacing it.
COOKIE_DOMAIN = "testserver.local"


def set_cookie(client, name: str, value: str) -> None:
    """Set a cookie on a TestClient the way the server's Set-Cookie would."""
    client.cookies.set(name, value, domain=COOKIE_DOMAIN, path="/")


@lru_cache
def password_hash() -> str:
    """PASSWORD hashed once per test session (Argon2id is slow on purpose)."""
    from app.auth.passwords import hash_password

    return hash_password(PASSWORD)


def workspace_for(session: Session, workspace: str | int | None) -> int:
    """The id of `workspace`: None = the default one, an int = that id, a str = a slug (created)."""
    from app.models import Workspace

    if workspace is None:
        return session.scalars(select(Workspace.id).order_by(Workspace.id)).first()
    if isinstance(workspace, int):
        return workspace
    found = session.scalars(select(Workspace).where(Workspace.slug == workspace)).first()
    if found is None:
        found = Workspace(name=workspace.replace("-", " ").title(), slug=workspace)
        session.add(found)
        session.flush()
    return found.id


def make_user(
    session: Session,
    role: str | None = "admin",
    workspace: str | int | None = None,
    email: str | None = None,
    name: str = "",
):
    """A user with PASSWORD and `role` in `workspace` (no membership when role is None); committed."""
    from app.auth.accounts import set_membership
    from app.models import User, utcnow

    email = email or f"{role or 'nobody'}-{uuid.uuid4().hex[:8]}@example.com"
    user = session.scalars(select(User).where(User.email == email)).first()
    if user is None:
        user = User(
            email=email,
            name=name or email.split("@")[0].title(),
            password_hash=password_hash(),
            is_active=True,
            password_changed_at=utcnow(),
        )
        session.add(user)
        session.flush()
    if role is not None:
        set_membership(session, user.id, workspace_for(session, workspace), role)
    session.commit()
    return user


def sign_in(client, role: str | None = "admin", workspace: str | int | None = None, email: str | None = None):
    """Sign `client` in as a new (or existing) user with `role` in `workspace`; returns the client.

    The session is created directly (no password check), its cookie set on the client, and its CSRF
    token sent as a default `X-CSRF-Token` header, the way htmx sends it from the page.
    """
    from app.auth.sessions import SESSION_COOKIE, create_session
    from app.db import get_sessionmaker

    with get_sessionmaker()() as session:
        user = make_user(session, role, workspace, email)
        workspace_id = workspace_for(session, workspace) if role is not None else None
        raw, row = create_session(session, user, workspace_id)
        session.commit()
        set_cookie(client, SESSION_COOKIE, raw)
        client.headers["X-CSRF-Token"] = row.csrf_token
        client.user_id = user.id
        client.user_email = user.email
        client.workspace_id = workspace_id
        client.csrf_token = row.csrf_token
        client.session_cookie = raw
    return client


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_INPUT.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def api_token(session: Session, user, name: str = "script", workspace: str | int | None = None):
    """A new API token of `user` (committed) for `workspace` (None: the user's first membership, by id);
    returns the raw token and its row."""
    from app.auth.api_tokens import create_api_token
    from app.models import Membership

    if workspace is None:
        mine = select(Membership.workspace_id).where(Membership.user_id == user.id)
        workspace_id = session.scalars(mine.order_by(Membership.workspace_id)).first()
    else:
        workspace_id = workspace_for(session, workspace)
    raw, row = create_api_token(session, user, name, workspace_id)
    session.commit()
    return raw, row


def at_once(jobs: list) -> list:
    """Run the callables at once (released together by a barrier); returns their results in order."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        barrier.wait()
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))
