"""The worker's Celery app: the web's client configuration plus the task modules, and the run reaper.

The worker's main process never trains: it runs the reaper (stale runs, lost messages), kills its own
stuck pool processes and fails runs killed at the hard time limit; worker/shutdown.py says how it stops.
"""

import logging
import os
import signal
import threading
from pathlib import Path

from celery.signals import (
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from celery.worker.request import Request

from app.queue import GPU_QUEUE, get_celery

log = logging.getLogger(__name__)
celery_app = get_celery()
celery_app.conf.update(include=["worker.tasks"])
_reaper_stop = threading.Event()


@worker_init.connect
def _refuse_sqlite_across_hosts(**_kwargs: object) -> None:
    """Stop before consuming anything when this worker may run on another host than a SQLite database."""
    from app.settings import get_settings

    problem = get_settings().sqlite_across_hosts_problem()
    if problem:
        raise SystemExit(problem)  # not an Exception: Celery's signal dispatch would only log one


@worker_process_init.connect
def _fresh_connections(**_kwargs: object) -> None:
    """A forked pool process must not share the parent's database connections (the reaper's)."""
    from app.db import get_engine

    if get_engine.cache_info().currsize:
        get_engine().dispose(close=False)


def _parent_of(pid: int) -> int | None:
    """The parent process id of `pid` (from /proc), or None when it is gone or cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # "pid (name) state ppid ...": the name may hold spaces


def _kill_own_stuck_process(lease_owner: str) -> None:
    """SIGKILL the pool process holding a stale lease when it is one of this worker's: it is stuck (a hung
    driver call, say) and would keep the GPU and the pool slot the resumed run needs."""
    from worker.run_task import worker_name

    host, pid, _delivery = lease_owner.rsplit(":", 2)
    if host == worker_name() and pid.isdigit() and _parent_of(int(pid)) == os.getpid():
        log.warning("pool process %s holds a stale run lease: killing it", pid)
        os.kill(int(pid), signal.SIGKILL)


def _reap_forever(trains: bool) -> None:
    """Report this host's capacity if its worker `trains` (takes the gpu queue), then look after the gpu
    queue's jobs (stale leases, lost messages): now and every run_reap_seconds."""
    from app.db import session_scope
    from app.settings import get_settings
    from worker.run_lease import look_after_runs
    from worker.run_task import report_capacity

    try:
        if trains:  # an ingest-only host never trains: its memory must not count for the launch check
            report_capacity()  # so the launch page knows this host before its first run
    except Exception as exc:
        log.warning("reporting this worker's capacity failed: %s", exc)
    while True:
        try:
            with session_scope() as session:
                look_after_runs(session, stop_holder=_kill_own_stuck_process)
        except Exception as exc:  # the database or the broker may be briefly unavailable; try again later
            log.warning("looking after runs failed: %s", exc)
        if _reaper_stop.wait(get_settings().run_reap_seconds):
            return


def consumed_queues(consumer: object) -> set[str]:
    """The names of the queues a worker's consumer takes tasks from."""
    task_consumer = getattr(consumer, "task_consumer", None)
    return {queue.name for queue in getattr(task_consumer, "queues", ())}


@worker_ready.connect
def _start_reaper(sender: object = None, **_kwargs: object) -> None:
    """Start the reaper thread in the worker's main process (it never trains, so it never dies mid-run)."""
    trains = GPU_QUEUE in consumed_queues(sender)
    threading.Thread(target=_reap_forever, args=(trains,), daemon=True, name="lastmile-reaper").start()


class TrainRequest(Request):
    """The training task's request: a run whose process is killed at the hard time limit fails with a reason
    (the process could not write it; Celery acknowledges the task, so it is not delivered again)."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        """Celery's handling; past the hard limit, also fail the run (in the worker's main process)."""
        super().on_timeout(soft, timeout)
        if soft:
            return
        from app.db import session_scope
        from worker.run_lease import fail_over_time
        from worker.run_task import worker_name

        try:
            with session_scope() as session:
                fail_over_time(session, int(self.args[0]), f"{worker_name()}:{self.worker_pid}:")
        except Exception:  # the reaper fails or re-queues it later; never break the pool's timeout handler
            log.exception("recording the time limit of task %s failed", self.id)


@worker_shutdown.connect
def _stop_reaper(**_kwargs: object) -> None:
    """Stop the reaper when the worker shuts down."""
    _reaper_stop.set()


# Imported for their side effects when the worker loads this module: the tasks, and how the worker stops.
import worker.shutdown  # noqa: E402
import worker.tasks  # noqa: E402, F401
