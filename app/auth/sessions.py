"""Browser sessions: an opaque random id in an HttpOnly cookie, only its sha256 in the database."""

from datetime import datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.tokens import as_utc, digest, random_token
from app.models import AuthSession, User, utcnow
from app.settings import get_settings

SESSION_COOKIE = "lastmile_session"
# last_seen_at is written at most this often, so reading pages does not write to the database each time.
TOUCH_INTERVAL = timedelta(seconds=60)


def forwarded_value(request: Request, header: str) -> str | None:
    """The entry of a proxy header that the nearest trusted proxy wrote, or None when not behind one.

    Proxies append to X-Forwarded-* lists, so the entry `proxy_hops` from the right is the one the
    outermost proxy we run wrote; entries left of it came from the client and are ignored.
    """
    settings = get_settings()
    if not settings.trust_proxy_headers:
        return None
    entries = [entry.strip() for entry in request.headers.get(header, "").split(",")]
    entries = [entry for entry in entries if entry]
    if not entries:
        return None
    # Fewer entries than hops: the request came in through fewer proxies; the left-most is still theirs.
    return entries[-min(settings.proxy_hops, len(entries))]


def client_ip(request: Request) -> str | None:
    """The address of the person asking: X-Forwarded-For's proxy-written entry only behind a trusted proxy."""
    forwarded = forwarded_value(request, "x-forwarded-for")
    if forwarded:
        return forwarded[:64]
    return request.client.host[:64] if request.client else None


def is_https(request: Request) -> bool:
    """Whether the browser talks HTTPS to us (X-Forwarded-Proto counts only behind a trusted proxy)."""
    proto = forwarded_value(request, "x-forwarded-proto")
    if proto:
        return proto.lower() == "https"
    return request.url.scheme == "https"


def create_session(
    session: Session,
    user: User,
    workspace_id: int | None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, AuthSession]:
    """A new signed-in session for `user`; returns the raw id (for the cookie only) and the row."""
    settings = get_settings()
    raw = random_token()
    now = utcnow()
    row = AuthSession(
        id=digest(raw),
        user_id=user.id,
        workspace_id=workspace_id,
        csrf_token=random_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(row)
    session.flush()
    return raw, row


def is_live(row: AuthSession, now: datetime | None = None) -> bool:
    """Whether a session still signs its browser in: not revoked, not past its lifetime nor idle timeout."""
    now = now or utcnow()
    if row.revoked_at is not None or as_utc(row.expires_at) <= now:
        return False
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    return as_utc(row.last_seen_at) + idle > now and row.user.is_active


def load_session(session: Session, raw: str | None) -> AuthSession | None:
    """The live session whose cookie value is `raw`, touched (at most once a minute); None otherwise."""
    if not raw or len(raw) > 200:
        return None
    row = session.get(AuthSession, digest(raw))
    if row is None or not is_live(row):
        return None
    now = utcnow()
    if now - as_utc(row.last_seen_at) > TOUCH_INTERVAL:
        row.last_seen_at = now
        # Committed at once: GET routes never commit, and the idle timeout depends on this write.
        session.commit()
    return row


def revoke_session(session: Session, row: AuthSession) -> None:
    """End one session (sign-out); the caller commits."""
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def revoke_user_sessions(session: Session, user_id: int) -> None:
    """End every session of a user (password changed or reset, account disabled); the caller commits."""
    session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def last_workspace_id(session: Session, user_id: int) -> int | None:
    """The workspace the user worked in most recently (from their latest session), if any."""
    return session.scalars(
        select(AuthSession.workspace_id)
        .where(AuthSession.user_id == user_id, AuthSession.workspace_id.is_not(None))
        .order_by(AuthSession.last_seen_at.desc())
        .limit(1)
    ).first()


def set_session_cookie(response: Response, request: Request, raw: str) -> None:
    """Put the session id in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS)."""
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=get_settings().session_max_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))
