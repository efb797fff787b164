"""Starting and ending a browser session: rotation at sign-in, revocation at sign-out."""

from fastapi import Request, Response
from sqlalchemy.orm import Session

from app.auth.audit import record_event
from app.auth.deps import request_session, user_memberships
from app.auth.sessions import (
    clear_session_cookie,
    client_ip,
    create_session,
    last_workspace_id,
    revoke_session,
    set_session_cookie,
)
from app.models import AuthSession, User


def start_browser_session(
    request: Request, response: Response, session: Session, user: User, workspace_id: int | None = None
) -> AuthSession:
    """Sign `user` in on this browser with a brand-new session id; any earlier session here ends.

    The workspace is `workspace_id` when the user is a member, else the one they used last, else their
    first. Commits, and sets the cookie on `response`.
    """
    previous = request_session(request, session)
    if previous is not None:
        # Rotation: a session id planted before sign-in (fixation) or left by someone else dies here.
        revoke_session(session, previous)
    member_of = [m.workspace_id for m in user_memberships(session, user.id)]
    chosen = None
    for candidate in (workspace_id, last_workspace_id(session, user.id)):
        if candidate in member_of:
            chosen = candidate
            break
    if chosen is None and member_of:
        chosen = member_of[0]
    ip = client_ip(request)
    raw, row = create_session(session, user, chosen, ip, request.headers.get("user-agent"))
    if chosen is not None:
        record_event(session, chosen, user.id, "login", target=user.email, ip=ip)
    session.commit()
    set_session_cookie(response, request, raw)
    request.state.auth_session = row
    request.state.csrf_token = row.csrf_token
    return row


def end_browser_session(request: Request, response: Response, session: Session) -> None:
    """Sign this browser out: revoke its session in the database and remove the cookie."""
    current = request_session(request, session)
    if current is not None:
        revoke_session(session, current)
        session.commit()
    clear_session_cookie(response, request)
