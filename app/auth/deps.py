"""Request dependencies that say who is asking: the Actor (user, workspace, role) and role checks."""

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import api_tokens
from app.auth.errors import Forbidden, NotAuthenticated, check_role_name, role_message
from app.auth.sessions import SESSION_COOKIE, client_ip, load_session
from app.db import get_session
from app.models import ROLES, AuthSession, Membership, User, Workspace

__all__ = ["ROLES", "Actor", "current_actor", "optional_actor", "require_role", "role_at_least"]

WORKSPACE_HEADER = "x-lastmile-workspace"
INVALID_TOKEN = (
    "Sign in first: this API token is not valid (mistyped or revoked). Create a new one on your Account page."
)
NO_WORKSPACE = (
    "Your account is not a member of any workspace yet. Ask an admin to add you to one; "
    "their offer then waits for you at /account/offers."
)


def role_at_least(role: str, minimum: str) -> bool:
    """Whether `role` is `minimum` or above (reviewer < editor < admin); unknown roles never are."""
    if role not in ROLES or minimum not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(minimum)


@dataclass(frozen=True)
class Actor:
    """Who is asking, in which workspace, with which role; via_token when by API token, not cookie."""

    user: User
    workspace: Workspace
    role: str
    via_token: bool
    ip: str | None = None


def user_memberships(session: Session, user_id: int) -> list[Membership]:
    """The user's memberships with their workspaces, in workspace name order (the switcher's order)."""
    return list(
        session.scalars(
            select(Membership)
            .join(Workspace, Workspace.id == Membership.workspace_id)
            .where(Membership.user_id == user_id)
            .order_by(Workspace.name, Workspace.id)
        )
    )


def request_session(request: Request, session: Session) -> AuthSession | None:
    """The live browser session of this request (looked up once per request), or None."""
    if not getattr(request.state, "auth_session_loaded", False):
        row = load_session(session, request.cookies.get(SESSION_COOKIE))
        request.state.auth_session_loaded = True
        request.state.auth_session = row
        if row is not None:
            request.state.csrf_token = row.csrf_token
    return request.state.auth_session


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header; "" for any other Authorization header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _actor_from_token(request: Request, session: Session, raw: str) -> tuple[User, Membership]:
    """The user of an API token and the one workspace the token was made for."""
    token = api_tokens.authenticate_token(session, raw) if raw else None
    if token is None:
        raise NotAuthenticated(INVALID_TOKEN)
    memberships = user_memberships(session, token.user_id)
    chosen = next((m for m in memberships if m.workspace_id == token.workspace_id), None)
    if chosen is None:
        # Made before tokens had a workspace, or the person has left it: the token reaches nothing, and
        # never silently another workspace the person joined since.
        raise Forbidden(
            "This API token works in no workspace you are a member of now. "
            "Create a new token on your Account page and choose its workspace."
        )
    slug = (request.headers.get(WORKSPACE_HEADER) or "").strip()
    if slug and slug != chosen.workspace.slug:
        raise Forbidden(
            f"This API token works only in the workspace '{chosen.workspace.slug}'. "
            "Leave out the X-Lastmile-Workspace header, or use a token made for the other workspace."
        )
    request.state.memberships = memberships
    return token.user, chosen


def _actor_from_cookie(request: Request, session: Session) -> tuple[User, Membership]:
    """The user of the session cookie and the workspace this browser works in."""
    auth_session = request_session(request, session)
    if auth_session is None:
        raise NotAuthenticated()
    memberships = user_memberships(session, auth_session.user_id)
    request.state.memberships = memberships
    chosen = next((m for m in memberships if m.workspace_id == auth_session.workspace_id), None)
    if chosen is None:
        if not memberships:
            raise Forbidden(NO_WORKSPACE)
        # Removed from the workspace this browser was in: carry on in their first one.
        chosen = memberships[0]
        auth_session.workspace_id = chosen.workspace_id
        session.commit()
    return auth_session.user, chosen


def current_actor(request: Request, session: Session = Depends(get_session)) -> Actor:
    """Who is asking (session cookie or bearer token); also stored as request.state.actor."""
    cached = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    raw = bearer_token(request)
    # A request that sends a token is judged by the token alone, never by a cookie sent along with it.
    if raw is not None:
        user, membership = _actor_from_token(request, session, raw)
    else:
        user, membership = _actor_from_cookie(request, session)
    actor = Actor(
        user=user,
        workspace=membership.workspace,
        role=membership.role,
        via_token=raw is not None,
        ip=client_ip(request),
    )
    request.state.actor = actor
    return actor


def browser_user(request: Request, session: Session = Depends(get_session)) -> User:
    """The person signed in on this browser, with or without a workspace (answering membership offers);
    never by API token: a token (perhaps leaked) must not join its owner to workspaces."""
    if bearer_token(request) is not None:
        raise Forbidden(
            "Answer workspace invitations on your Account page in the browser, not with an API token."
        )
    auth_session = request_session(request, session)
    if auth_session is None:
        raise NotAuthenticated()
    return auth_session.user


def optional_actor(request: Request, session: Session = Depends(get_session)) -> Actor | None:
    """The Actor when the request is signed in with a workspace; None otherwise (sign-in pages)."""
    try:
        return current_actor(request, session)
    except (NotAuthenticated, Forbidden):
        return None


_role_dependencies: dict[str, Callable[..., Actor]] = {}


def require_role(minimum: str) -> Callable[..., Actor]:
    """A dependency returning the Actor when their role in the workspace is `minimum` or above."""
    check_role_name(minimum)
    if minimum not in _role_dependencies:

        def dependency(actor: Actor = Depends(current_actor)) -> Actor:
            if not role_at_least(actor.role, minimum):
                raise Forbidden(role_message(actor.role, actor.workspace.name, minimum))
            return actor

        dependency.__name__ = f"require_{minimum}"
        dependency.__doc__ = f"The Actor, when they are at least {minimum} in the current workspace."
        # One function per role, so FastAPI's per-request dependency cache recognises repeats.
        _role_dependencies[minimum] = dependency
    return _role_dependencies[minimum]
