"""Start Lastmile the way `make run` does (lastmile run: web + worker, SQLite, embedded broker)."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LASTMILE = ROOT / ".venv" / "bin" / "lastmile"


@dataclass
class LiveServer:
    """A running `lastmile run` and where to reach it."""

    url: str
    process: subprocess.Popen
    log: Path
    # Its environment: other `lastmile` commands (e.g. add-model) run with it reach the same instance.
    env: dict[str, str]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lastmile_run(data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """Run `lastmile run` on a free port with its own data folder; Ctrl-C (SIGINT) stops it after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}
    env.update(
        LASTMILE_DATA_DIR=str(data_dir),
        LASTMILE_MODEL_CACHE_DIR=str(ROOT / "data" / "models"),
        **(extra_env or {}),
    )
    log = data_dir.parent / f"lastmile-run-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        # A new session: SIGINT goes to the whole group, as Ctrl-C in a terminal would.
        command = [str(LASTMILE), "run", "--port", str(port)]
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = LiveServer(f"http://127.0.0.1:{port}", proc, log, env)
        try:
            _wait_healthy(server)
            yield server
        finally:
            stop(server)


@contextmanager
def lastmile_serve(env: dict[str, str], log_dir: Path) -> Iterator[LiveServer]:
    """Run the web process alone (`lastmile serve`) with the LASTMILE_* settings in `env`; stopped after."""
    port = free_port()
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}, **env}
    log = log_dir / f"lastmile-serve-{port}.log"
    with open(log, "wb") as out:
        command = [str(LASTMILE), "serve", "--port", str(port)]
        proc = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        server = LiveServer(f"http://127.0.0.1:{port}", proc, log, full_env)
        try:
            _wait_healthy(server, marker=b"Application startup complete")
            yield server
        finally:
            stop(server)


def _wait_healthy(server: LiveServer, timeout: float = 90, marker: bytes = b"ready.") -> None:
    """Wait until /healthz answers and the log shows `marker` (the worker's "ready." by default)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"lastmile exited:\n{server.log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
                if response.status == 200 and marker in server.log.read_bytes():
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"lastmile run not healthy in {timeout}s:\n{server.log.read_text(errors='replace')}")


def stop(server: LiveServer, timeout: float = 30) -> int:
    """Send Ctrl-C to the process group and wait; returns the exit code."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGINT)
        try:
            server.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
    return server.process.returncode
