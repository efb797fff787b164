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


def _failures(session: Session, key: str, since, reset_on_success: bool, mine: int) -> list:
    """The times of `key`'s failures since `since` (after its last success, when successes reset it),
    other than the attempt `mine`: reserved, not yet decided attempts of others count as failures."""
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
            .where(
                LoginAttempt.key == key,
                LoginAttempt.ok.is_(False),
                LoginAttempt.at >= since,
                LoginAttempt.id != mine,
            )
            .order_by(LoginAttempt.at)
        )
    )


@dataclass
class Attempt:
    """A sign-in try in progress: its rows (one per key) and, when refused, the lockout."""

    rows: list[LoginAttempt]
    lockout: Lockout | None

    def finish(self, session: Session, ok: bool) -> None:
        """Record the outcome (a refused try leaves no trace, as if never made); the caller commits."""
        if self.lockout is not None:
            for row in self.rows:
                session.delete(row)
            return
        for row in self.rows:
            row.ok = ok
        if not ok:
            session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - KEEP))


def begin(session: Session, email: str, ip: str | None) -> Attempt:
    """Reserve a try for the account and the address (committed at once), then count the failures before
    it; the Attempt carries a Lockout when either had too many within the window.

    Reserving first makes the limit hold under concurrency without a lock: every try is visible to the
    others before any of them counts, so of N simultaneous tries the k-th to commit sees at least k-1
    others, and no more than the limit get through.
    """
    settings = get_settings()
    window = timedelta(minutes=settings.login_throttle_minutes)
    now = utcnow()
    since = now - window
    rows = [
        LoginAttempt(key=account_key(email), at=now, ok=False),
        LoginAttempt(key=ip_key(ip), at=now, ok=False),
    ]
    session.add_all(rows)
    session.commit()
    # An account's count restarts after a successful sign-in; an address's does not, so one valid
    # account cannot be used to keep guessing the passwords of others from the same address.
    limits = (settings.login_max_failures_per_account, True), (settings.login_max_failures_per_ip, False)
    for row, (limit, reset) in zip(rows, limits, strict=True):
        failures = _failures(session, row.key, since, reset, row.id)
        if len(failures) >= limit:
            # Allowed again once enough of the counted failures have left the window.
            free_at = as_utc(failures[len(failures) - limit]) + window
            return Attempt(rows, Lockout(max(1, math.ceil((free_at - now).total_seconds() / 60))))
    return Attempt(rows, None)
