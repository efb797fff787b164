"""Training runs for the web: start (after the launch check in run_launch.py), queue, cancel, read.

The worker's side (lease, heartbeat, progress) lives in worker/run_lease.py and worker/run_task.py; both
write the same Run rows. Every transition is committed before it is acted on (published, trained, ...).
"""

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor
from app.models import Adapter, Run, RunLogLine, utcnow
from app.queue import TRAIN_RUN, enqueue
from app.services.datasets import EmptySnapshot, freeze_snapshot, get_dataset
from app.services.errors import NotFound
from app.services.lookup import get_owned

# LaunchCheck is re-exported: the routes import everything about runs from here.
from app.services.run_launch import LaunchCheck as LaunchCheck
from app.services.run_launch import launch_check
from app.training.estimate import duration_text
from app.training.presets import PRESET_NAMES, Hyperparameters

CUSTOM = "custom"
# What the run page says while a run is in each state (the worker refines "running" as it learns).
STATE_TEXT = {
    "queued": "Waiting for a worker",
    "running": "Training",
    "cancelling": "Stopping at the next step",
    "succeeded": "Finished",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


class RunNotFound(NotFound):
    """The run does not exist in this workspace."""


class RunBlocked(ValueError):
    """A run cannot start; `problems` are plain reasons for the launch form."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the reasons; the exception text joins them."""
        super().__init__(" ".join(problems))
        self.problems = problems


def create_run(
    session: Session,
    actor: Actor,
    dataset_id: int,
    base_model_id: int | None = None,
    preset: str = "balanced",
    hp: Hyperparameters | dict[str, Any] | None = None,
    name: str = "",
) -> Run:
    """Freeze the dataset, record a queued run (committed) and publish it; RunBlocked when it cannot start."""
    workspace_id = actor.workspace.id
    check = launch_check(session, workspace_id, dataset_id, base_model_id, hp, preset)
    if not check.can_start:
        raise RunBlocked(check.problems)
    dataset = get_dataset(session, workspace_id, dataset_id)
    try:
        snapshot, _new = freeze_snapshot(session, workspace_id, dataset, actor)
    except EmptySnapshot as exc:
        raise RunBlocked([str(exc)]) from exc
    assert check.model is not None and check.hyperparameters is not None
    chosen = check.hyperparameters
    run = Run(
        workspace_id=workspace_id,
        dataset_id=dataset.id,
        snapshot_id=snapshot.id,
        snapshot_sha256=snapshot.sha256,
        train_count=snapshot.train_count,
        heldout_count=snapshot.heldout_count,
        base_model_id=check.model.id,
        created_by=actor.user.id,
        name=name.strip()[:200] or f"{dataset.name} on {check.model.name}",
        preset=preset if hp is None and preset in PRESET_NAMES else CUSTOM,
        hyperparameters=chosen.to_dict(),
        state="queued",
        status_text=STATE_TEXT["queued"],
        estimate_seconds=check.estimate.seconds if check.estimate else None,
        loss_history=[],
        heldout_history=[],
    )
    session.add(run)
    session.flush()
    add_log(
        session, run, f"Queued: {run.name}, preset {run.preset}, {snapshot.train_count} training examples."
    )
    record(session, actor, "train", run.name, {"run": run.id, "model": check.model.key})
    session.commit()
    # Published only after the commit: the worker must find the row it is told about.
    enqueue(TRAIN_RUN, run.id)
    return run


def add_log(session: Session, run: Run, message: str) -> None:
    """Append one line to the run's log (flushed with the session, not committed)."""
    session.add(RunLogLine(workspace_id=run.workspace_id, run_id=run.id, message=message))


def get_run(session: Session, workspace_id: int, run_id: int, fresh: bool = True) -> Run:
    """The run `run_id` of the workspace (re-read from the database by default: the worker moves it on)."""
    missing = RunNotFound(f"Run {run_id} does not exist in this workspace (it may have been deleted).")
    return get_owned(session, Run, workspace_id, run_id, missing, fresh=fresh)


def list_runs(session: Session, workspace_id: int, limit: int = 100) -> list[Run]:
    """The workspace's runs, newest first."""
    stmt = (
        select(Run)
        .where(Run.workspace_id == workspace_id)
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def run_log(session: Session, run: Run, limit: int = 500) -> list[RunLogLine]:
    """The run's log lines, oldest first (the last `limit`)."""
    stmt = select(RunLogLine).where(RunLogLine.run_id == run.id).order_by(RunLogLine.id.desc()).limit(limit)
    return list(reversed(list(session.scalars(stmt))))


def run_adapter(session: Session, run: Run) -> Adapter | None:
    """The adapter the run produced, if it succeeded."""
    return session.scalar(select(Adapter).where(Adapter.run_id == run.id))


def queue_position(session: Session, run: Run) -> int | None:
    """1 for the next run a worker takes (first in, first out, across workspaces); None unless queued."""
    if run.state != "queued":
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.state == "queued")
        .where((Run.queued_at < run.queued_at) | ((Run.queued_at == run.queued_at) & (Run.id < run.id)))
    )
    return int(ahead or 0) + 1


def cancel_run(session: Session, workspace_id: int, run_id: int, actor: Actor | None = None) -> Run:
    """Cancel a queued run at once, or ask a running one to stop at its next step (committed)."""
    run = get_run(session, workspace_id, run_id)
    now = utcnow()
    # Conditional updates: the worker may move the run on between our read and our write.
    queued = session.execute(
        update(Run)
        .execution_options(synchronize_session=False)
        .where(Run.id == run.id, Run.state == "queued")
        .values(state="cancelled", status_text=STATE_TEXT["cancelled"], finished_at=now)
    ).rowcount
    if not queued:
        session.execute(
            update(Run)
            .execution_options(synchronize_session=False)
            .where(Run.id == run.id, Run.state == "running")
            .values(state="cancelling", status_text=STATE_TEXT["cancelling"])
        )
    add_log(session, run, "Cancel requested.")
    if actor is not None:
        record(session, actor, "cancel_run", run.name, {"run": run.id})
    session.commit()
    return get_run(session, workspace_id, run_id)


def run_status_text(run: Run) -> str:
    """One plain-language line: 'Learning — held-out loss down 38%', 'Not learning — check the data', ..."""
    if run.state == "queued":
        return "Waiting for a worker" + (" (interrupted, will resume)" if run.attempt else "")
    if run.state in ("succeeded", "failed", "cancelled", "cancelling"):
        return STATE_TEXT[run.state] if run.state != "failed" else f"Failed — {run.error or 'see the log'}"
    history = run.heldout_history or []
    if len(history) >= 2:
        before, now = history[0][1], history[-1][1]
        if before and now < before:
            return f"Learning — held-out loss down {round(100 * (before - now) / before)}%"
        return "Not learning — check the data"
    if run.total_steps:
        return f"Training — step {run.step} of {run.total_steps}"
    return "Starting"


def eta_text(run: Run) -> str:
    """The remaining time for people ('about 3 minutes'), or '' when unknown."""
    return duration_text(run.eta_seconds) if run.eta_seconds is not None and run.state == "running" else ""
