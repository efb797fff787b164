"""What a training delivery writes while it trains: the lease heartbeat and the throttled progress.

Both write only while this delivery holds the run's lease (conditional updates), so a delivery that lost it
(its worker was presumed dead and the run resumed elsewhere) can never overwrite the new one's progress.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import case, update
from sqlalchemy.orm import Session

from app.db import session_scope
from app.models import Run, RunLogLine, utcnow
from app.services.runs import run_status_text
from app.settings import get_settings
from app.shutdown import shutting_down
from worker.run_lease import heartbeat

log = logging.getLogger(__name__)
PROGRESS_WRITE_SECONDS = 1.0
# should_stop's answers; worker.training.loop checkpoints before stopping on INTERRUPTED (not imported
# from there: it loads torch).
INTERRUPTED = "interrupted"
CANCELLED = "cancelled"


class Heartbeat(threading.Thread):
    """Refreshes the lease every run_heartbeat_seconds until stopped; remembers the last state seen."""

    def __init__(
        self, run_id: int, owner: str, beat: Callable[[Session, int, str], str | None] = heartbeat
    ) -> None:
        """A daemon thread for row `run_id` held by `owner`; `beat` refreshes the lease (a run's by default,
        a comparison's or generation's from worker/job_lease.py)."""
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id, self.owner, self.beat = run_id, owner, beat
        self.stopped = threading.Event()
        self.state: str | None = "running"

    def run(self) -> None:
        """Beat until stopped; a failed beat (database busy) is retried at the next interval."""
        interval = get_settings().run_heartbeat_seconds
        while not self.stopped.wait(interval):
            try:
                with session_scope() as session:
                    self.state = self.beat(session, self.run_id, self.owner)
            except Exception as exc:  # a missed beat is harmless; a stale lease is the reaper's job
                log.warning("run %s: heartbeat failed: %s", self.run_id, exc)


class ProgressWriter:
    """Turns Progress reports into Run updates, at most one write per second (plus held-out reports)."""

    def __init__(self, run: Run, owner: str) -> None:
        """Start from what the database holds (a resumed run keeps its histories)."""
        self.run_id, self.workspace_id, self.owner = run.id, run.workspace_id, owner
        self.loss = [list(e) for e in run.loss_history or []]
        self.heldout = [list(e) for e in run.heldout_history or []]
        self.values: dict[str, Any] = {}
        self.lines: list[str] = []
        self.last_write = 0.0
        self.last_cancel_check = 0.0
        self.cancelling = False
        self.marks: list[tuple[float, int]] = []  # (monotonic time, tokens seen) after each step

    def __call__(self, progress: Any) -> None:
        """Record one report; write now if a second has passed or it is a held-out check."""
        step = progress.step
        if progress.train_loss is not None:
            self.marks.append((time.monotonic(), progress.tokens_seen))
            # A resumed run repeats the steps after its last checkpoint: later entries are replaced.
            self.loss = [e for e in self.loss if e[0] < step] + [[step, progress.train_loss]]
        if progress.heldout_loss is not None:
            self.heldout = [e for e in self.heldout if e[0] < step] + [[step, progress.heldout_loss]]
        if progress.train_loss is None or progress.heldout_loss is not None:
            self.lines.append(progress.message)  # step lines would flood the log; checks and notes do not
        self.values = {
            "step": step,
            "total_steps": progress.total_steps,
            "tokens_seen": progress.tokens_seen,
            "tokens_per_second": progress.tokens_per_second or None,
            "eta_seconds": progress.eta_seconds,
        }
        if progress.heldout_loss is not None or time.monotonic() - self.last_write >= PROGRESS_WRITE_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the latest counters, histories and log lines (only while this delivery holds the lease)."""
        self.last_write = time.monotonic()
        counters = {"step": 0, "total_steps": 0} | self.values
        status = run_status_text(Run(state="running", heldout_history=self.heldout, **counters))
        with session_scope() as session:
            # One conditional update: a delivery that lost the lease between a read and a write would
            # otherwise overwrite the new holder's progress.
            held = session.execute(
                update(Run)
                .execution_options(synchronize_session=False)
                .where(Run.id == self.run_id, Run.lease_owner == self.owner)
                .where(Run.state.in_(("running", "cancelling")))
                .values(
                    **self.values,
                    loss_history=list(self.loss),
                    heldout_history=list(self.heldout),
                    heartbeat_at=utcnow(),
                    status_text=case((Run.state == "running", status), else_=Run.status_text),
                )
            ).rowcount
            if held:
                for line in self.lines:
                    session.add(RunLogLine(workspace_id=self.workspace_id, run_id=self.run_id, message=line))
            self.lines = []

    def seed_from_checkpoint(self, work_dir: Path) -> None:
        """Take the histories from the checkpoint a resumed run continues from (steps not yet written)."""
        from worker.training.checkpoints import STATE_JSON, latest_checkpoint

        checkpoint = latest_checkpoint(work_dir) if work_dir.is_dir() else None
        if checkpoint is not None:
            saved = json.loads((checkpoint / STATE_JSON).read_text()).get("run", {})
            self.loss = saved.get("loss_history", self.loss)
            self.heldout = saved.get("heldout_history", self.heldout)

    def steady_speed(self) -> float | None:
        """Tokens per second over the last three quarters of the steps, held-out checks included.

        The first steps of a process are slow (kernels warm up), so they would make every later
        estimate too long; None when there are too few steps to tell.
        """
        if len(self.marks) < 4:
            return None
        (t0, n0), (t1, n1) = self.marks[len(self.marks) // 4], self.marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 and n1 > n0 else None

    def should_stop(self) -> str | None:
        """Why training must stop now, or None to go on.

        INTERRUPTED as soon as the worker is shutting down; CANCELLED once the run was cancelled or this
        delivery lost its lease (the database is read every run_cancel_check_seconds).
        """
        if shutting_down():
            return INTERRUPTED
        if time.monotonic() - self.last_cancel_check >= get_settings().run_cancel_check_seconds:
            self.last_cancel_check = time.monotonic()
            with session_scope() as session:
                run = session.get(Run, self.run_id)
                self.cancelling = run is None or run.state != "running" or run.lease_owner != self.owner
        return CANCELLED if self.cancelling else None
