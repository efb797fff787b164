"""The lease a comparison or generation delivery holds on its row, its heartbeat, and the reaper of rows whose
worker died: what worker/run_lease.py does for training runs, for the gpu queue's other jobs.

A delivery works on a row only after a conditional UPDATE (compare-and-swap on the attempt number) moved it
from queued, or from running with a heartbeat older than run_stale_seconds, to running under its own lease
owner; a duplicate delivery does nothing. The holder refreshes heartbeat_at; a stale row is re-queued and
published again (a comparison keeps the drafts written before), or, past run_max_attempts, failed with a
plain message. No torch here.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from app.models import utcnow
from app.review_models import Comparison, Generation
from app.services.job_queue import publish_job, stale_cutoff
from app.settings import get_settings

log = logging.getLogger(__name__)
Job = type[Comparison] | type[Generation]
JOBS: tuple[Job, ...] = (Comparison, Generation)
INTERRUPTED_TEXT = "Waiting for a worker (interrupted, will go on)"


def gave_up_message(table: Job, attempts: int) -> str:
    """Why a comparison or draft failed after its worker stopped `attempts` times, for business users."""
    if table is Comparison:
        what, advice = "writing the drafts of this comparison", "The drafts written so far are kept."
    else:
        what, advice = "writing this draft", "Ask for fewer new tokens and try again."
    return (
        f"The worker stopped unexpectedly {attempts} times while {what} (for example the server restarted or "
        f"ran out of memory), so Lastmile stopped trying. {advice} If it keeps happening, ask your "
        "administrator to check the worker."
    )


def _stale(table: Job, cutoff: datetime) -> ColumnElement[bool]:
    """Running rows whose holder has been silent since `cutoff` (or never beat: taken before heartbeats)."""
    return (table.state == "running") & or_(table.heartbeat_at.is_(None), table.heartbeat_at < cutoff)


def _status(table: Job, text: str) -> dict[str, Any]:
    """The status line to write with a change (comparisons have one; a generation's follows its state)."""
    return {"status_text": text} if table is Comparison else {}


def _fail_exhausted(
    session: Session, table: Job, row_id: int, attempt: int, free: ColumnElement[bool]
) -> None:
    """Fail a row that used up its attempts (committed), if it is still `free` at that attempt."""
    message = gave_up_message(table, attempt)
    done = session.execute(
        update(table)
        .execution_options(synchronize_session=False)
        .where(table.id == row_id, table.attempt == attempt, free)
        .values(
            state="failed", error=message, finished_at=utcnow(), lease_owner=None, **_status(table, message)
        )
    ).rowcount
    session.commit()
    if done:
        log.warning("%s %s: failed after %s attempts", table.__tablename__, row_id, attempt)


def take(session: Session, table: Job, row_id: int, owner: str, worker: str) -> bool:
    """Move the row to running under `owner` (committed) if it is queued or its holder went silent.

    False when this delivery must leave it: finished, held by a delivery whose heartbeat is fresh, or out of
    attempts (then it is failed here).
    """
    attempt = session.scalar(select(table.attempt).where(table.id == row_id))
    if attempt is None:
        return False
    free = or_(table.state == "queued", _stale(table, stale_cutoff()))
    if attempt >= get_settings().run_max_attempts:
        _fail_exhausted(session, table, row_id, attempt, free)
        return False
    now = utcnow()
    won = session.execute(
        update(table)
        .execution_options(synchronize_session=False)
        .where(table.id == row_id, table.attempt == attempt, free)
        .values(
            state="running", attempt=attempt + 1, lease_owner=owner, worker=worker, heartbeat_at=now,
            started_at=now, error=None, **_status(table, "Starting"),
        )
    ).rowcount  # fmt: skip
    session.commit()
    return bool(won)


def heartbeat(table: Job, session: Session, row_id: int, owner: str) -> str | None:
    """Refresh the lease (committed); "running", or None when this delivery lost it."""
    done = session.execute(
        update(table)
        .execution_options(synchronize_session=False)
        .where(table.id == row_id, table.lease_owner == owner, table.state == "running")
        .values(heartbeat_at=utcnow())
    ).rowcount
    session.commit()
    return "running" if done else None


def reap_stale_jobs(
    session: Session, stop_holder: Callable[[str], None] | None = None
) -> list[tuple[str, int]]:
    """Re-queue (and publish again) comparisons and generations whose holder went silent, or fail those out of
    attempts; returns (table, id) of those published.

    `stop_holder(lease_owner)` is called first for each stale row, so a worker can kill its own stuck process.
    Safe to run from several processes at once: every change is conditional.
    """
    max_attempts = get_settings().run_max_attempts
    published: list[tuple[str, int]] = []
    for table in JOBS:
        stale = _stale(table, stale_cutoff())
        for row_id, attempt, holder in session.execute(
            select(table.id, table.attempt, table.lease_owner).where(stale)
        ).all():
            if stop_holder is not None and holder:
                stop_holder(holder)
            if attempt >= max_attempts:
                _fail_exhausted(session, table, row_id, attempt, stale)
                continue
            moved = session.execute(
                update(table)
                .execution_options(synchronize_session=False)
                .where(table.id == row_id, table.attempt == attempt, stale)
                .values(
                    state="queued",
                    lease_owner=None,
                    published_at=utcnow(),
                    **_status(table, INTERRUPTED_TEXT),
                )
            ).rowcount
            session.commit()
            if moved:
                # Published after the commit, so the delivery finds the row queued.
                publish_job(table, row_id)
                published.append((table.__tablename__, row_id))
                log.warning(
                    "%s %s: stale heartbeat, re-queued after attempt %s", table.__tablename__, row_id, attempt
                )
    return published
