"""How this process stops: the worker's shutdown flag, and dying with the parent that started it."""

import ctypes
import os
import signal
from multiprocessing.sharedctypes import RawValue

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36
# Loaded once here: die_with_parent also runs between fork and exec, where loading a library is not safe.
_LIBC = ctypes.CDLL(None, use_errno=True)
# Set by a worker's main process when it begins a warm shutdown (a SIGTERM). Shared memory created at
# import, before the pool forks, so every pool process sees it: a run checkpoints, an import stops between
# files. A plain byte needs no lock.
SHUTTING_DOWN = RawValue("b", 0)


def shutting_down() -> bool:
    """Whether this worker was told to stop (always False outside a worker)."""
    return bool(SHUTTING_DOWN.value)


def die_with_parent(signum: int, parent_pid: int) -> None:
    """Have the kernel send `signum` to this process when `parent_pid`, its parent, dies; exit at once when
    the parent is already gone (it died before the request was made, so the signal would never come)."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signum)


def adopt_orphans() -> None:
    """Become the parent of this process's orphaned descendants (a worker's pool processes or fork server
    whose parent died), instead of init: they can be waited for and reaped here."""
    _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1)


def ignore_stop_signals() -> None:
    """Leave SIGTERM and SIGINT to the process that owns this one: it stops this one itself."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
