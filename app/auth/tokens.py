"""Random secrets and their digests: the database stores only sha256 of cookies, links and API tokens."""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random secret (32 bytes of entropy by default)."""
    return secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    """The sha256 hex digest stored in place of a secret."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two secrets; False when either is missing."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def as_utc(value: datetime) -> datetime:
    """A timezone-aware UTC datetime (SQLite hands back naive ones, written in UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
