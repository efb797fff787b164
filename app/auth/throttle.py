"""Sign-in throttling per account and per address, kept in the database so every web process agrees."""

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.auth.tokens import as_utc
from app.models import LoginAttempt, utcnow
from app.settings import get_settings

# Attempts older than this are deleted now and then; the window itself is much shorter.
KEEP = timedelta(days=1)


@dataclass(frozen=True)
class Lockout:
    """A refusal: how many minutes until the next try is allowed."""

    minutes: int

    @property
    def message(self) -> str:
        """The sentence shown on the sign-in page."""
        unit = "minute" if self.minutes == 1 else "minutes"
        return f"Too many failed sign-ins. Try again in {self.minutes} {unit}."


def account_key(email: str) -> str:
    """The throttling key of an account (unknown emails are counted too, so nothing leaks)."""
    return f"account:{email.strip().lower()[:320]}"


def ip_key(ip: str | None) -> str:
    """The throttling key of an address."""
    return f"ip:{ip or 'unknown'}"


def _failures(session: Session, key: str, since, reset_on_success: bool) -> list:
    """The times of `key`'s failures since `since` (after its last success, when successes reset it)."""
    if reset_on_success:
        last_ok = session.scalar(
            select(func.max(LoginAttempt.at)).where(
                LoginAttempt.key == key, LoginAttempt.ok.is_(True), LoginAttempt.at >= since
            )
        )
        if last_ok is not None:
            since = max(since, as_utc(last_ok))
    return list(
        session.scalars(
            select(LoginAttempt.at)
            .where(LoginAttempt.key == key, LoginAttempt.ok.is_(False), LoginAttempt.at >= since)
            .order_by(LoginAttempt.at)
        )
    )


def check(session: Session, email: str, ip: str | None) -> Lockout | None:
    """A Lockout when the account or the address failed too often within the window; None to go on."""
    settings = get_settings()
    window = timedelta(minutes=settings.login_throttle_minutes)
    now = utcnow()
    since = now - window
    # An account's count restarts after a successful sign-in; an address's does not, so one valid
    # account cannot be used to keep guessing the passwords of others from the same address.
    for key, limit, reset in (
        (account_key(email), settings.login_max_failures_per_account, True),
        (ip_key(ip), settings.login_max_failures_per_ip, False),
    ):
        failures = _failures(session, key, since, reset)
        if len(failures) >= limit:
            # Allowed again once enough of the counted failures have left the window.
            free_at = as_utc(failures[len(failures) - limit]) + window
            return Lockout(max(1, math.ceil((free_at - now).total_seconds() / 60)))
    return None


def record(session: Session, email: str, ip: str | None, ok: bool) -> None:
    """Note one sign-in try for the account and the address; the caller commits."""
    now = utcnow()
    session.add(LoginAttempt(key=account_key(email), at=now, ok=ok))
    session.add(LoginAttempt(key=ip_key(ip), at=now, ok=ok))
    if not ok:
        session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP))
