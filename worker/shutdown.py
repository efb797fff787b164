"""How a worker stops: SIGTERM is its main process's to act on, and the stop has a deadline.

Celery's warm shutdown lives in the worker's main process: it stops consuming, tells running tasks to wind
up (a run checkpoints and goes back to the queue, an import stops between files) and waits for the pool.
A SIGTERM sent to the whole process group (a terminal, a service manager) also reached the pool processes,
where billiard ends the process at once by raising SystemExit wherever it was: a run lost everything since
its last checkpoint, an import was cut off mid-file, and the shutdown raced the pool's own exit. Celery's
advice is to signal the main process only; this module makes the worker behave that way whoever sends it.
"""

import _thread
import contextlib
import logging
import os
import signal
import threading
from pathlib import Path

from celery.signals import worker_process_init, worker_shutting_down

from app.settings import get_settings
from app.shutdown import SHUTTING_DOWN

log = logging.getLogger(__name__)


@worker_process_init.connect
def _term_only_from_the_main_process(**_kwargs: object) -> None:
    """In a pool process: act on a SIGTERM only when the worker's main process sends it (billiard's own
    terminate, a hard time limit); any other sender's is left to the main process, which stops the pool."""
    parent = os.getppid()
    # Blocked in this thread before any other starts, so every later thread has it blocked too: the signal
    # then waits for sigwaitinfo below, which says who sent it. (Processes started from here inherit the mask:
    # the ingest fork server ignores SIGTERM anyway, and the others are short commands with timeouts.)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait() -> None:
        while True:
            sender = signal.sigwaitinfo({signal.SIGTERM}).si_pid
            if sender == parent or os.getppid() != parent:
                break
            log.info("pool process %s: a SIGTERM from %s is left to the main process", os.getpid(), sender)
        if callable(signal.getsignal(signal.SIGTERM)):
            _thread.interrupt_main(signal.SIGTERM)  # billiard's handler, in the main thread, as before
        else:
            os._exit(128 + signal.SIGTERM)

    threading.Thread(target=wait, daemon=True, name="lastmile-sigterm").start()


@worker_shutting_down.connect
def _begin_stop(**_kwargs: object) -> None:
    """Tell running tasks to wind up, and make sure the worker is gone `stop_seconds` later."""
    SHUTTING_DOWN.value = 1
    threading.Thread(target=_stop_deadline, daemon=True, name="lastmile-stop-deadline").start()


def _children() -> list[int]:
    """The ids of this process's child processes (its pool; their fork servers die with them)."""
    me, found = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (name) state ppid ...": the name may hold spaces and parentheses.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == me:
                found.append(int(stat.parent.name))
    return found


def _stop_deadline() -> None:
    """Kill what is left of this worker when its warm shutdown outlives stop_seconds, and say so."""
    seconds = get_settings().stop_seconds
    threading.Event().wait(seconds)
    children = _children()
    log.error(
        "the worker did not stop within %g s (LASTMILE_STOP_SECONDS): killing it and its processes %s",
        seconds, children,
    )  # fmt: skip
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    os._exit(1)
