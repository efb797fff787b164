"""Training runs for the web: start (after the launch check in run_launch.py), queue, cancel, read.

The worker's side (lease, heartbeat, progress) lives in worker/run_lease.py and worker/run_task.py; both
write the same Run rows. Every transition is committed before it is acted on (published, trained, ...).
"""

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor
from app.curation.records import HELDOUT, TRAIN, ExampleRecord
from app.models import Adapter, Dataset, Run, RunLogLine, utcnow
from app.services.datasets import EmptySnapshot, freeze_snapshot, get_dataset
from app.services.errors import NotFound
from app.services.job_queue import publish_job
from app.services.lookup import get_owned

# LaunchCheck is re-exported: the routes import everything about runs from here.
from app.services.run_launch import LaunchCheck as LaunchCheck
from app.services.run_launch import check_records, launch_check
from app.settings import get_settings
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
    assert check.model is not None
    run = Run(
        workspace_id=workspace_id,
        dataset_id=dataset.id,
        snapshot_id=snapshot.id,
        snapshot_sha256=snapshot.sha256,
        train_count=snapshot.train_count,
        heldout_count=snapshot.heldout_count,
        name=name.strip()[:200] or f"{dataset.name} on {check.model.name}",
        preset=preset if hp is None and preset in PRESET_NAMES else CUSTOM,
    )
    return _queue(session, actor, run, check, {})


def _queue(session: Session, actor: Actor, run: Run, check: LaunchCheck, detail: dict[str, Any]) -> Run:
    """Record `run` as queued with the checked model and settings (committed, audited) and publish it."""
    assert check.model is not None and check.hyperparameters is not None
    run.base_model_id = check.model.id
    run.created_by = actor.user.id
    run.hyperparameters = check.hyperparameters.to_dict()
    run.state, run.status_text = "queued", STATE_TEXT["queued"]
    run.published_at = utcnow()  # committed with the run: the publish below may never happen
    run.estimate_seconds = check.estimate.seconds if check.estimate else None
    run.loss_history, run.heldout_history = [], []
    session.add(run)
    session.flush()
    add_log(session, run, f"Queued: {run.name}, preset {run.preset}, {run.train_count} training examples.")
    record(session, actor, "train", run.name, {"run": run.id, "model": check.model.key, **detail})
    session.commit()
    # Published only after the commit: the worker must find the row it is told about.
    publish_run(run.id)
    return run


def publish_run(run_id: int) -> bool:
    """Publish the run's training task; False (logged) when the broker cannot take it now (see job_queue)."""
    return publish_job(Run, run_id)


def snapshot_on_disk(sha256: str) -> bool:
    """Whether the frozen snapshot file `sha256` is still on this server."""
    return bool(sha256) and (get_settings().snapshots_dir / f"{sha256}.jsonl").is_file()


def snapshot_records(sha256: str) -> list[ExampleRecord]:
    """The examples of a frozen snapshot file as curation records (all included, token counts unknown)."""
    path = get_settings().snapshots_dir / f"{sha256}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        ExampleRecord(
            id=row["id"], kind=row.get("kind", "draft"), instruction=row["instruction"],
            input=row.get("input", ""), output=row["output"], included=True, split=row["split"],
            prompt_tokens=None, output_tokens=None, tags=tuple(row.get("tags", ())),
        )
        for row in rows
    ]  # fmt: skip


def train_again(
    session: Session, actor: Actor, adapter: Adapter, base_model_id: int, preset: str | None = None
) -> Run:
    """A new run on the adapter's own snapshot with another base model (committed and published).

    The examples are the frozen ones the adapter learned from, not the dataset as it is now, so a better
    base model is adopted without redoing the curation. Without a preset the first run's choice is kept
    (its preset, or its custom settings); RunBlocked says what stands in the way.
    """
    first = session.get(Run, adapter.run_id) if adapter.run_id is not None else None
    if not snapshot_on_disk(adapter.snapshot_sha256):
        snapshot = adapter.snapshot_sha256[:12] or "unknown"
        raise RunBlocked(
            [
                f"The examples “{adapter.name}” learned from (snapshot {snapshot}) are no longer on this "
                "server, so it cannot be trained again. Start a new run from the dataset on the Train page."
            ]
        )
    records = snapshot_records(adapter.snapshot_sha256)
    hp: dict[str, Any] | None = None
    if preset is None:
        preset = first.preset if first is not None else "balanced"
        if preset not in PRESET_NAMES:
            hp = dict(first.hyperparameters) if first is not None else None
            preset = "balanced"
    elif preset not in PRESET_NAMES:
        raise RunBlocked([f"Pick a preset: {', '.join(PRESET_NAMES)}."])
    label = f"snapshot {adapter.snapshot_sha256[:12]}"
    check = check_records(session, actor.workspace.id, label, records, base_model_id, hp, preset)
    if not check.can_start:
        raise RunBlocked(check.problems)
    assert check.model is not None
    dataset = session.get(Dataset, first.dataset_id) if first is not None and first.dataset_id else None
    source = dataset.name if dataset is not None else adapter.name
    run = Run(
        workspace_id=actor.workspace.id,
        dataset_id=dataset.id if dataset is not None else None,
        snapshot_id=adapter.snapshot_id,
        snapshot_sha256=adapter.snapshot_sha256,
        train_count=sum(r.split == TRAIN for r in records),
        heldout_count=sum(r.split == HELDOUT for r in records),
        name=f"{source} on {check.model.name}"[:200],
        preset=CUSTOM if hp is not None else preset,
    )
    return _queue(session, actor, run, check, {"from_adapter": adapter.id})


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
        # A run that trained before resumes from its checkpoint (an interruption gives its attempt back).
        return "Waiting for a worker" + (" (interrupted, will resume)" if run.attempt or run.step else "")
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
