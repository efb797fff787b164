"""The lease a training task holds on its run, its heartbeat, and the reaper of runs whose worker died.

A delivery of the train task owns a run only after a conditional UPDATE (compare-and-swap on the attempt
number) moved it to `running` under its own lease owner; two deliveries can never both win. The owner
proves it is alive by refreshing `heartbeat_at`; a run whose heartbeat is older than run_stale_seconds
is re-queued (it resumes from its last checkpoint) or, past run_max_attempts, failed. The reaper's round
(`look_after_runs`) also looks after comparisons and generations (worker/job_lease.py). No torch here.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.models import Run, RunLogLine, utcnow
from app.services.job_queue import republish_lost, stale_cutoff
from app.services.runs import STATE_TEXT, publish_run
from app.settings import get_settings
from app.training.estimate import duration_text
from worker.job_lease import reap_stale_jobs

log = logging.getLogger(__name__)
INTERRUPTED_TEXT = "Waiting for a worker (interrupted, will resume)"


def gave_up_message(attempts: int) -> str:
    """Why a run failed after its worker stopped `attempts` times, for business users."""
    return (
        f"The training worker stopped unexpectedly {attempts} times while running this (for example the "
        "server restarted or ran out of memory), so Lastmile stopped trying. Start the run again; if it "
        "keeps happening, pick a smaller model or the Quick preset, or ask your administrator to check the "
        "worker."
    )


def time_limit_message() -> str:
    """Why a run that reached the time limit stopped, for business users."""
    limit = duration_text(get_settings().run_time_limit_seconds)
    return (
        f"The run took longer than this server's time limit for one run ({limit}) and was stopped. Use "
        "fewer passes or a smaller dataset, or ask your administrator to raise the limit."
    )


def _log(session: Session, run: Run, message: str) -> None:
    """Append a line to the run's log (flushed with the session)."""
    session.add(RunLogLine(workspace_id=run.workspace_id, run_id=run.id, message=message))


def _fail_exhausted(session: Session, run: Run) -> bool:
    """Fail a run that used up its attempts (committed); False when another process moved it first."""
    now = utcnow()
    message = gave_up_message(run.attempt)
    done = session.execute(
        update(Run)
        .execution_options(synchronize_session=False)
        .where(Run.id == run.id, Run.attempt == run.attempt, Run.state == run.state)
        .values(
            state="failed",
            error=message,
            status_text=f"Failed — {message}",
            finished_at=now,
            lease_owner=None,
        )
    ).rowcount
    if done:
        _log(session, run, f"Failed after {run.attempt} attempts.")
    session.commit()
    return bool(done)


def acquire_lease(session: Session, run_id: int, owner: str, worker: str) -> Run | None:
    """Take the run for this delivery (committed) and return it; None when it must not run here.

    None when the run is finished, cancelled, or held by another delivery whose heartbeat is fresh;
    a run out of attempts is failed instead.
    """
    settings = get_settings()
    run = session.get(Run, run_id, populate_existing=True)
    if run is None or run.state in ("succeeded", "failed", "cancelled"):
        return None
    cutoff = stale_cutoff()
    if run.state == "cancelling":
        # The worker that was stopping it died: the cancel is complete.
        session.execute(
            update(Run)
            .execution_options(synchronize_session=False)
            .where(Run.id == run.id, Run.state == "cancelling", Run.heartbeat_at < cutoff)
            .values(state="cancelled", status_text=STATE_TEXT["cancelled"], finished_at=utcnow())
        )
        session.commit()
        return None
    if run.attempt >= settings.run_max_attempts:
        stale = run.state == "queued" or run.heartbeat_at is None or _aware(run.heartbeat_at) < cutoff
        if stale:
            _fail_exhausted(session, run)
        return None
    now = utcnow()
    # Running here means its holder's heartbeat went stale: the delivery takes over before the reaper does.
    taken_over = run.state == "running"
    won = session.execute(
        update(Run)
        .execution_options(synchronize_session=False)
        .where(Run.id == run.id, Run.attempt == run.attempt)
        .where(
            or_(
                Run.state == "queued",
                (Run.state == "running") & (or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < cutoff)),
            )
        )
        .values(
            state="running",
            attempt=run.attempt + 1,
            lease_owner=owner,
            worker=worker,
            heartbeat_at=now,
            started_at=run.started_at or now,
            status_text="Starting",
            error=None,
        )
    ).rowcount
    if not won:
        session.rollback()
        return None
    session.refresh(run)
    if taken_over:
        _log(session, run, stopped_message(run.attempt - 1))
    _log(session, run, f"Attempt {run.attempt} started on {worker}.")
    session.commit()
    return run


def stopped_message(attempt: int) -> str:
    """The log line of a run whose worker died during `attempt` (found by the reaper or by a delivery)."""
    return f"The worker stopped during attempt {attempt}; the run will resume."


def _aware(value: datetime) -> datetime:
    """`value` with UTC attached when the database returned it without a zone (SQLite)."""
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


def requeue_interrupted(session: Session, run_id: int, owner: str, step: int) -> bool:
    """Put a run whose worker is shutting down, checkpointed at `step`, back in the queue (committed);
    False when this delivery does not hold it.

    The attempt is given back: a redeploy is not the run's fault, so it does not use up the retry budget.
    """
    done = session.execute(
        update(Run)
        .execution_options(synchronize_session=False)
        .where(Run.id == run_id, Run.lease_owner == owner, Run.state == "running")
        .values(
            state="queued",
            step=step,
            attempt=Run.attempt - 1,
            lease_owner=None,
            heartbeat_at=None,
            eta_seconds=None,
            status_text=INTERRUPTED_TEXT,
            published_at=utcnow(),
        )
    ).rowcount
    if done:
        run = session.get(Run, run_id, populate_existing=True)
        assert run is not None
        _log(
            session,
            run,
            f"Interrupted at step {step} of {run.total_steps}: the worker is shutting down (for example a "
            "restart or an update). The run resumes from there; this does not count as a failed attempt.",
        )
    session.commit()
    return bool(done)


def fail_over_time(session: Session, run_id: int, holder_prefix: str) -> bool:
    """Fail a run whose process was killed at the hard time limit (committed); False when not held.

    `holder_prefix` ("host:pid:") names the killed process: a later attempt elsewhere is left alone.
    """
    message = time_limit_message()
    done = session.execute(
        update(Run)
        .execution_options(synchronize_session=False)
        .where(Run.id == run_id, Run.state.in_(("running", "cancelling")))
        .where(Run.lease_owner.startswith(holder_prefix, autoescape=True))
        .values(
            state="failed",
            error=message,
            status_text=f"Failed — {message}",
            finished_at=utcnow(),
            eta_seconds=None,
            lease_owner=None,
        )
    ).rowcount
    if done:
        run = session.get(Run, run_id, populate_existing=True)
        assert run is not None
        _log(session, run, f"Failed: {message}")
    session.commit()
    return bool(done)


def heartbeat(session: Session, run_id: int, owner: str) -> str | None:
    """Refresh the lease (committed); returns the run's state, or None when this delivery lost the lease."""
    done = session.execute(
        update(Run)
        .execution_options(synchronize_session=False)
        .where(Run.id == run_id, Run.lease_owner == owner, Run.state.in_(("running", "cancelling")))
        .values(heartbeat_at=utcnow())
    ).rowcount
    session.commit()
    if not done:
        return None
    return session.scalar(select(Run.state).where(Run.id == run_id))


def reap_stale_runs(session: Session, stop_holder: Callable[[str], None] | None = None) -> list[int]:
    """Re-queue (and re-publish) running runs whose heartbeat is stale, or fail those out of attempts.

    `stop_holder(lease_owner)` is called first for each stale run, so a worker can kill its own stuck
    process before the run goes on elsewhere. Returns the ids re-published. Safe to run from several
    processes at once: every change is conditional.
    """
    settings = get_settings()
    cutoff = stale_cutoff()
    stale = list(
        session.scalars(
            select(Run).where(Run.state.in_(("running", "cancelling")), Run.heartbeat_at < cutoff)
        )
    )
    republished: list[int] = []
    for run in stale:
        if stop_holder is not None and run.lease_owner:
            stop_holder(run.lease_owner)
        if run.state == "cancelling":
            session.execute(
                update(Run)
                .execution_options(synchronize_session=False)
                .where(Run.id == run.id, Run.state == "cancelling", Run.heartbeat_at == run.heartbeat_at)
                .values(state="cancelled", status_text=STATE_TEXT["cancelled"], finished_at=utcnow())
            )
            session.commit()
            continue
        if run.attempt >= settings.run_max_attempts:
            _fail_exhausted(session, run)
            continue
        moved = session.execute(
            update(Run)
            .execution_options(synchronize_session=False)
            .where(Run.id == run.id, Run.state == "running", Run.attempt == run.attempt)
            .where(Run.heartbeat_at == run.heartbeat_at)
            .values(state="queued", lease_owner=None, status_text=INTERRUPTED_TEXT, published_at=utcnow())
        ).rowcount
        if moved:
            _log(session, run, stopped_message(run.attempt))
        session.commit()
        if moved:
            # Published after the commit, so the delivery finds the run queued.
            publish_run(run.id)
            republished.append(run.id)
            log.warning("run %s: stale heartbeat, re-queued after attempt %s", run.id, run.attempt)
    return republished


def look_after_runs(
    session: Session, stop_holder: Callable[[str], None] | None = None
) -> list[tuple[str, int]]:
    """The reaper's round for the gpu queue's jobs: stale runs, comparisons and generations re-queued or
    failed, then queued jobs whose messages were lost published again; returns (table, id) of each one
    published."""
    runs = [(Run.__tablename__, run_id) for run_id in reap_stale_runs(session, stop_holder)]
    return runs + reap_stale_jobs(session, stop_holder) + republish_lost(session)
