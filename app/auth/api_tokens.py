"""Personal API tokens: `lm_` + 32 random bytes, shown once; only sha256 and a short prefix are kept."""

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.tokens import as_utc, digest, random_token
from app.models import ApiToken, User, utcnow

TOKEN_PREFIX = "lm_"
SHOWN_PREFIX_CHARS = 8
MAX_NAME_CHARS = 200
# last_used_at is written at most this often, so a busy script does not write on every request.
TOUCH_INTERVAL = timedelta(seconds=60)


def create_api_token(session: Session, user: User, name: str, workspace_id: int) -> tuple[str, ApiToken]:
    """A new token of `user` for one workspace; returns the raw token (shown once only) and the row."""
    raw = TOKEN_PREFIX + random_token()
    row = ApiToken(
        user_id=user.id,
        workspace_id=workspace_id,
        name=(name.strip() or "API token")[:MAX_NAME_CHARS],
        token_sha256=digest(raw),
        prefix=raw[:SHOWN_PREFIX_CHARS],
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return raw, row


def authenticate_token(session: Session, raw: str) -> ApiToken | None:
    """The live token `raw` names (not revoked, its user active), touched; None otherwise."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest(raw))).first()
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - as_utc(row.last_used_at) > TOUCH_INTERVAL:
        row.last_used_at = now
        session.commit()
    return row


def list_api_tokens(session: Session, user_id: int, include_revoked: bool = False) -> list[ApiToken]:
    """The user's tokens, newest first."""
    query = select(ApiToken).where(ApiToken.user_id == user_id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_api_token(session: Session, user_id: int, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when they have no such live token. Caller commits."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def revoke_user_tokens(session: Session, user_id: int) -> int:
    """Revoke every live token of the user (password reset, or asked for on a change); returns how many."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0
