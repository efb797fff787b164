"""`lastmile run`'s supervisor: the web and the workers are children it owns, stopped together in every state.

Each child runs in its own session, so a signal sent to `lastmile run`'s process group (a terminal's Ctrl-C,
a service manager's SIGTERM) reaches this process only. It then sends SIGTERM to each child's main process
(for a Celery worker that is its warm shutdown: the pool is the main process's to stop, Celery's advice),
waits up to stop_seconds for each child's whole process group to end, and kills what is left, saying so.
Each child also gets SIGTERM from the kernel if this process dies without stopping it (a SIGKILL).
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from app.shutdown import adopt_orphans, die_with_parent

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_SECONDS = 0.1


@dataclass
class Child:
    """A process the supervisor started; its process group is its own (pgid == pid)."""

    name: str
    process: subprocess.Popen

    def group_alive(self) -> bool:
        """Whether any process of the child's group is left (the child itself is reaped here first)."""
        self.process.poll()
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True


class Supervisor:
    """Starts children, waits for a stop signal or a child's end, then stops them all within a bound."""

    def __init__(self, stop_seconds: float, cwd: Path) -> None:
        """Nothing started yet; install() takes over the stop signals."""
        self.stop_seconds, self.cwd = stop_seconds, cwd
        self.children: list[Child] = []
        self.signal: int | None = None

    def install(self) -> None:
        """Handle SIGINT, SIGTERM and SIGHUP here from now on, except those this process was started with
        ignored: `nohup` ignores SIGHUP, and a shell's background job SIGINT (they stay ignored, as usual)."""
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) != signal.SIG_IGN:
                signal.signal(signum, self._on_signal)
        # The children's descendants orphaned by a stop (a fork server whose pool process ended) come here
        # instead of to init: reaped in wait() and stop(), and not left as zombies where init does not reap.
        adopt_orphans()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Remember the stop; what runs now finishes its step (a migration is never cut in half: SQLite
        applies DDL outside transactions), and nothing starts after it."""
        self.signal = signum

    def start(self, name: str, command: list[str], niceness: int = 0) -> None:
        """Start `command` as child `name` in its own session, unless a stop was asked for already."""
        if self.signal is not None:
            return
        parent = os.getpid()

        def before_exec() -> None:
            die_with_parent(signal.SIGTERM, parent)
            if niceness:
                os.nice(niceness)

        # This process runs no threads, so a function between fork and exec is safe here.
        process = subprocess.Popen(command, cwd=self.cwd, start_new_session=True, preexec_fn=before_exec)
        self.children.append(Child(name, process))

    def _reap_adopted(self) -> None:
        """Reap the exited descendants this process adopted (a zombie still counts in its process group); its
        own children are Popen's to reap (first, here), so one that exits meanwhile ends this round."""
        for child in self.children:
            child.process.poll()
        own = {child.process.pid for child in self.children}
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid in own:
                return
            os.waitpid(info.si_pid, 0)

    def wait(self) -> str:
        """Block until a stop signal arrives or a child ends; returns why, in words."""
        while True:
            self._reap_adopted()
            if self.signal is not None:
                return f"{signal.Signals(self.signal).name} received"
            for child in self.children:
                code = child.process.poll()
                if code is not None:
                    return f"the {child.name} exited with status {code}"
            time.sleep(POLL_SECONDS)

    def stop(self) -> list[str]:
        """SIGTERM every child's main process, wait up to stop_seconds for their process groups to end,
        SIGKILL the groups still there; returns the names of the children that had to be killed."""
        for child in self.children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        while time.monotonic() < deadline and any(child.group_alive() for child in self.children):
            self._reap_adopted()
            time.sleep(POLL_SECONDS)
        killed = []
        for child in self.children:
            if child.group_alive():
                killed.append(child.name)
                print(
                    f"The {child.name} did not stop within {self.stop_seconds:g} s "
                    "(LASTMILE_STOP_SECONDS): killed it.",
                    file=sys.stderr, flush=True,
                )  # fmt: skip
                os.killpg(child.process.pid, signal.SIGKILL)
        for child in self.children:
            child.process.wait()
        self._reap_adopted()
        return killed
