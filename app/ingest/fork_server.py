"""Run a function in a child process under memory, CPU and wall-clock limits, forked from a fork server.

The fork server is a small Python process started once per client process. It receives a pickled
call and the write end of a result pipe over a Unix socket, forks a child that sets its limits,
runs the call and sends the result's items down the pipe, and reports the child's exit status. A
child costs a fork (milliseconds), not an interpreter start; and since it is never forked from the
caller, it inherits no threads, locks, open connections or loaded model from a worker.

multiprocessing is not used: inside a Celery pool process (billiard) it refuses to start children.
"""

import contextlib
import os
import pickle
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from typing import Any, NoReturn

from app.settings import Settings
from app.shutdown import die_with_parent, ignore_stop_signals, shutting_down

MB = 1024 * 1024
# How long the server may take to report a finished or killed child before the caller gives up.
REAP_SECONDS = 10.0
# Past the soft CPU limit (SIGXCPU) the kernel sends SIGKILL at the hard one.
CPU_HARD_MARGIN_SECONDS = 5
MAX_REQUEST_BYTES = 1024 * 1024
# How often a caller waiting for a child looks whether its worker is shutting down.
STOP_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class SandboxLimits:
    """What one call may use: address space, CPU time and wall-clock time."""

    memory_bytes: int
    cpu_seconds: int
    wall_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "SandboxLimits":
        """The ingest sandbox limits configured in `settings`."""
        return cls(
            memory_bytes=settings.ingest_sandbox_memory_mb * MB,
            cpu_seconds=settings.ingest_sandbox_cpu_seconds,
            wall_seconds=float(settings.ingest_file_seconds),
        )


class SandboxStopped(Exception):
    """The worker began shutting down: the child was stopped before it finished (not the input's fault)."""


class SandboxFault(Exception):
    """The child returned no result: `kind` is "memory", "cpu", "wall" or "crash".

    `items` holds what the child had sent before it stopped (a streaming call's progress so far).
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        """Remember what went wrong (`detail` is for the log, never shown to users)."""
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
        self.items: list[Any] = []


# --- the server and its children (run in the fork server process) -------------------------------------


def serve(fd: int, client_pid: int) -> None:
    """The fork server's loop: one limited child per request on the socket `fd`, until it closes.

    The server belongs to its client (a worker's pool process): a stop signal sent to the whole process group
    (a terminal's Ctrl-C, a service manager) is the worker's to act on, so the server and its children ignore
    it, stop their call when the client says so or goes away, and die with it (SIGKILL) if it dies first.
    """
    ignore_stop_signals()  # before anything else: the children inherit it across fork
    die_with_parent(signal.SIGKILL, client_pid)
    server = socket.socket(fileno=fd)
    _warm_up()
    while True:
        try:
            request, fds, _flags, _address = socket.recv_fds(server, MAX_REQUEST_BYTES, 1)
        except OSError:
            return
        if not request or len(fds) != 1:
            return  # the client went away (or is not ours)
        # Unpickled here, not in the child: the modules it names are imported once, then inherited.
        function, args, limits = pickle.loads(request)
        pid = os.fork()
        if pid == 0:
            server.close()
            _child(fds[0], function, args, limits)
        os.close(fds[0])
        try:
            server.send(pickle.dumps(("pid", pid)))
            status = _wait(server, pid)
            server.send(pickle.dumps(("exit", os.waitstatus_to_exitcode(status))))
        except OSError:
            return  # the client went away; its child is gone too (see _wait)


def _warm_up() -> None:
    """Load what every parse needs once, so each child inherits it instead of loading it again."""
    # Reports are fitted to the default model's tokenizer (3.5 MB of JSON, ~0.2 s to load): loaded here,
    # a child finds it cached. A failure only means each child loads it (or estimates) itself. Children
    # count on one thread: a thread pool per child would spend their address-space limit on stacks.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    with contextlib.suppress(Exception):  # never keep the server from serving
        from app.curation.tokens import default_token_counter
        from app.settings import get_settings

        default_token_counter(get_settings())


def _wait(server: socket.socket, pid: int) -> int:
    """The child's wait status; if the client goes away meanwhile, the child is killed first."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # a kernel older than 5.3: just wait (the child's limits still bound it)
        return os.waitpid(pid, 0)[1]
    try:
        ready, _, _ = select.select([pidfd, server], [], [])
        if pidfd not in ready:  # the client closed the socket: nobody will read this child's result
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(pidfd)
    return os.waitpid(pid, 0)[1]


def _apply_limits(limits: SandboxLimits) -> None:
    """Cap this child: address space, CPU seconds, no core dumps, and death with the fork server."""
    die_with_parent(signal.SIGKILL, os.getppid())
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    cpu = max(1, limits.cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + CPU_HARD_MARGIN_SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(
    fd: int, function: Callable[..., Iterable[Any]], args: tuple[Any, ...], limits: SandboxLimits
) -> NoReturn:
    """Run the call under `limits`, send its items one by one then ("end", count), and exit.

    A list is sent once complete; an iterator's items are sent as they are made (a mailbox's messages).
    """
    conn = Connection(fd, readable=False)
    try:
        _apply_limits(limits)
        items = function(*args)
        count = 0
        if isinstance(items, list):
            for index in range(len(items)):
                # One message per item: the pickled copy of a large archive never exists all at once.
                conn.send(("item", items[index]))
                items[index] = None
            count = len(items)
        else:
            for item in items:
                conn.send(("item", item))
                count += 1
        conn.send(("end", count))
    except MemoryError:
        _try_send(conn, ("memory", ""))
    except BaseException as exc:  # reported to the caller, which refuses the call's input
        _try_send(conn, ("error", f"{exc.__class__.__name__}: {exc}"[:500]))
    finally:
        os._exit(0)


def _try_send(conn: Connection, message: tuple[str, str]) -> None:
    """Send a last word to the caller if the pipe (and memory) still allow it."""
    with contextlib.suppress(BaseException):  # otherwise the caller reads the exit status instead
        conn.send(message)


# --- the client (run in the caller's process) ------------------------------------------------------


class _ForkServer:
    """A running fork server owned by this process."""

    def __init__(self) -> None:
        """Start the server with this process's import path, talking over a socket pair."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = (
            f"import sys; sys.path[:] = {sys.path!r}; "
            f"from app.ingest.fork_server import serve; serve({theirs.fileno()}, {os.getpid()})"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL
        )
        theirs.close()
        self.sock = ours
        self.owner = os.getpid()

    def reply(self, kind: str, timeout: float, stoppable: bool = False) -> Any:
        """The server's next message, which must be of `kind`; SandboxFault("crash") if it is gone or silent
        for `timeout` seconds. A `stoppable` wait ends early when the worker shuts down: the server is
        closed (with its child) and SandboxStopped raised, so a slow or hung server never holds up a stop."""
        deadline = time.monotonic() + timeout
        while not select.select([self.sock], [], [], min(STOP_POLL_SECONDS, timeout))[0]:
            if stoppable and shutting_down():
                self.close()
                raise SandboxStopped("the worker is shutting down")
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                self.close()
                raise SandboxFault("crash", "fork server did not answer")
        try:
            message = self.sock.recv(4096)
        except OSError as exc:
            self.close()
            raise SandboxFault("crash", f"fork server did not answer: {exc}") from None
        if not message:
            self.close()
            raise SandboxFault("crash", "fork server exited")
        got, value = pickle.loads(message)
        if got != kind:
            self.close()
            raise SandboxFault("crash", f"fork server said {got!r}, expected {kind!r}")
        return value

    def close(self) -> None:
        """Stop the server (its children die with it)."""
        self.sock.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


_server: _ForkServer | None = None
_lock = threading.Lock()  # one call at a time per process: the server serves one child at a time


def _fork_server() -> _ForkServer:
    """This process's fork server, started (again) when needed."""
    global _server
    if _server is not None and _server.owner != os.getpid():
        _server.sock.close()  # inherited through a fork: that server is the parent's, leave it running
        _server = None
    if _server is None or _server.process.poll() is not None:
        _server = _ForkServer()
    return _server


def _exit_fault(code: int) -> SandboxFault:
    """Why a child that sent no result ended, from its exit status."""
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        # SIGXCPU at the soft CPU limit; SIGKILL at the hard one (or from the kernel, out of memory).
        return SandboxFault("cpu", f"exit status {code}")
    return SandboxFault("crash", f"exit status {code}")


def run_limited(
    function: Callable[..., Iterable[Any]],
    args: tuple[Any, ...],
    limits: SandboxLimits,
    per_item: bool = False,
) -> list[Any]:
    """`function(*args)` (a list, or an iterator) run in a limited child process; SandboxFault otherwise.

    `function` must be importable by name (defined at module level) and `args` picklable. With
    `per_item`, the wall clock starts again at each item the child sends: an iterator's every item
    gets limits.wall_seconds (a mailbox: each message), not the whole call.
    """
    request = pickle.dumps((function, args, limits))
    with _lock:
        server = _fork_server()
        receiver, sender = Pipe(duplex=False)
        try:
            socket.send_fds(server.sock, [request], [sender.fileno()])
        finally:
            sender.close()  # the child holds the only writer: its death is an end of file here
        try:
            return _collect(server, receiver, limits, per_item)
        finally:
            receiver.close()


def _collect(server: _ForkServer, receiver: Connection, limits: SandboxLimits, per_item: bool) -> list[Any]:
    """Read the child's items until it ends, fails or outlives the wall clock (then it is killed), or until
    the worker begins shutting down (then it is killed too: SandboxStopped, the input is read again later)."""
    # The server imports the modules the call names before it forks (once): that is not the child's time.
    pid = server.reply("pid", limits.wall_seconds + REAP_SECONDS, stoppable=True)
    deadline = time.monotonic() + limits.wall_seconds
    items: list[Any] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if shutting_down():
                with contextlib.suppress(SandboxFault):  # a server that does not report it is closed
                    _stop_child(server, pid)
                raise SandboxStopped("the worker is shutting down")
            if left <= 0:
                _stop_child(server, pid)
                raise SandboxFault("wall", f"no result within {limits.wall_seconds:g} s")
            if not receiver.poll(min(left, STOP_POLL_SECONDS)):
                continue
            try:
                kind, value = receiver.recv()
            except (EOFError, OSError):  # it died without a word
                raise _exit_fault(server.reply("exit", REAP_SECONDS)) from None
            if kind == "item":
                items.append(value)
                if per_item:
                    deadline = time.monotonic() + limits.wall_seconds
                continue
            server.reply("exit", REAP_SECONDS)
            if kind == "end":
                return items
            raise SandboxFault("memory") if kind == "memory" else SandboxFault("crash", str(value))
    except SandboxFault as fault:
        fault.items = items
        raise


def _stop_child(server: _ForkServer, pid: int) -> None:
    """SIGKILL the server's child `pid` and wait for the server to report it (it is not reaped before that,
    so the pid is still the child's)."""
    os.kill(pid, signal.SIGKILL)
    server.reply("exit", REAP_SECONDS)
