"""The worker's Celery app: the web's client configuration plus the task modules, and the run reaper."""

import logging
import threading

from celery.signals import worker_process_init, worker_ready, worker_shutdown

from app.queue import get_celery

log = logging.getLogger(__name__)
celery_app = get_celery()
celery_app.conf.update(include=["worker.tasks"])
_reaper_stop = threading.Event()


@worker_process_init.connect
def _fresh_connections(**_kwargs: object) -> None:
    """A forked pool process must not share the parent's database connections (the reaper's)."""
    from app.db import get_engine

    if get_engine.cache_info().currsize:
        get_engine().dispose(close=False)


def _reap_forever() -> None:
    """Report this host's capacity, then look for runs whose worker died: now and every run_reap_seconds."""
    from app.db import session_scope
    from app.settings import get_settings
    from worker.run_lease import reap_stale_runs
    from worker.run_task import report_capacity

    try:
        report_capacity()  # so the launch page knows this host before its first run
    except Exception as exc:
        log.warning("reporting this worker's capacity failed: %s", exc)
    while True:
        try:
            with session_scope() as session:
                reap_stale_runs(session)
        except Exception as exc:  # the database may be briefly unavailable; try again next time
            log.warning("reaping stale runs failed: %s", exc)
        if _reaper_stop.wait(get_settings().run_reap_seconds):
            return


@worker_ready.connect
def _start_reaper(**_kwargs: object) -> None:
    """Start the reaper thread in the worker's main process (it never trains, so it never dies mid-run)."""
    threading.Thread(target=_reap_forever, daemon=True, name="lastmile-reaper").start()


@worker_shutdown.connect
def _stop_reaper(**_kwargs: object) -> None:
    """Stop the reaper when the worker shuts down."""
    _reaper_stop.set()


# Import for the side effect of registering tasks when the worker loads this module.
import worker.tasks  # noqa: E402, F401
