"""Process control for the chaos tests: a real Celery worker subprocess to start, kill and restart, the
broker's keys under this test session's prefix, what the run pages say, and the figures the tests measure."""

import contextlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Adapter, Run, RunLogLine
from tests.conftest import ROOT, wait_for

ARTIFACT = ROOT / "test-artifacts" / "chaos.json"
# Small, fast runs: one step per 2 examples, a tiny LoRA rank; `epochs` sets how long a run trains.
FAST = {"batch_size": 2, "grad_accum": 1, "max_length": 256, "rank": 4, "alpha": 8, "epochs": 2}
# Short heartbeat, stale and reap intervals for the test process and every worker started after it, and
# short comparisons (each succeeded run queues one on the same worker; these tests do not read them).
FAST_LEASES = {
    "LASTMILE_RUN_HEARTBEAT_SECONDS": "0.5",
    "LASTMILE_RUN_STALE_SECONDS": "4",
    "LASTMILE_RUN_REAP_SECONDS": "1",
    "LASTMILE_RUN_CANCEL_CHECK_SECONDS": "0.5",
    "LASTMILE_COMPARISON_MAX_NEW_TOKENS": "4",
}


class Worker:
    """A real Celery worker process (the `lastmile worker` command line) on the test's settings."""

    def __init__(
        self, env: dict[str, str], log: Path, concurrency: int = 1, cpu_seconds: int | None = None
    ) -> None:
        """Not started yet; `cpu_seconds` is an RLIMIT_CPU on its processes, as `ulimit -t` would set."""
        self.env, self.log, self.concurrency, self.cpu_seconds = env, log, concurrency, cpu_seconds
        self.proc: subprocess.Popen | None = None

    def _limits(self) -> None:
        """Runs in the child before exec: the CPU-time limit, inherited by the pool processes."""
        if self.cpu_seconds is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_seconds, self.cpu_seconds + 5))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would otherwise dump a core here

    def start(self, timeout: float = 60) -> "Worker":
        """Start the worker and wait until it consumes; returns itself."""
        from app.cli import worker_command

        before = len(self.text())
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                worker_command("ingest,gpu", self.concurrency),
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limits,
            )
        wait_for(lambda: " ready." in self.text()[before:] or self.proc.poll() is not None, timeout)
        assert self.proc.poll() is None, self.text()[-3000:]
        return self

    def text(self) -> str:
        """Everything the worker wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def pool(self) -> list[int]:
        """The pool processes' ids."""
        assert self.proc is not None
        try:
            return [child.pid for child in psutil.Process(self.proc.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the whole worker at once, main process and pool, as a crashed host would leave it."""
        assert self.proc is not None
        pids = [self.proc.pid, *self.pool()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        wait_for(lambda: all(gone(pid) for pid in pids), timeout=10)

    def terminate(self, timeout: float = 60) -> float:
        """SIGTERM the main process (as `docker stop` does) and wait; returns the seconds it took to exit."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        return time.monotonic() - began

    def stop(self) -> None:
        """Teardown: a polite stop, then a kill."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pool = self.pool()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        for pid in pool:  # a pool process stopped with SIGSTOP by a test would survive its parent
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie, not yet reaped by its parent, has)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """A Redis URL whose server accepts connections and never answers (a hung broker)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel completes the handshakes; nobody ever reads
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


START_RUN = """
import json, sys
from app.auth.deps import Actor
from app.db import session_scope
from app.models import User, Workspace
from app.services.runs import create_run

user_id, workspace_id, dataset_id, model_id = map(int, sys.argv[1:5])
with session_scope() as session:
    user, workspace = session.get(User, user_id), session.get(Workspace, workspace_id)
    actor = Actor(user=user, workspace=workspace, role="editor", via_token=False)
    create_run(session, actor, dataset_id, model_id, hp=json.loads(sys.argv[5]))
"""


def start_run_process(
    env: dict[str, str], actor: Any, dataset_id: int, model_id: int, hp: dict
) -> subprocess.Popen:
    """A web-like process that starts a run with `create_run`, as the Start button does."""
    args = [actor.user.id, actor.workspace.id, dataset_id, model_id]
    return subprocess.Popen(
        [sys.executable, "-c", START_RUN, *map(str, args), json.dumps(hp)],
        cwd=ROOT,
        env={**os.environ, **env},
    )


def fresh(session: Session, run_id: int) -> Run:
    """The run as the database holds it now."""
    session.expire_all()
    run = session.get(Run, run_id)
    assert run is not None
    return run


def until_state(
    session: Session, run_id: int, states: tuple[str, ...], timeout: float = 60, check=None
) -> Run:
    """Wait until the run is in one of `states`, calling `check()` at every poll (the page watch)."""

    def reached() -> Run | None:
        if check is not None:
            check()
        run = fresh(session, run_id)
        return run if run.state in states else None

    return wait_for(reached, timeout=timeout, interval=0.25)


def holder_pid(run: Run) -> int:
    """The process id in the run's lease owner ("host:pid:delivery")."""
    assert run.lease_owner, f"run {run.id} has no lease holder"
    return int(run.lease_owner.rsplit(":", 2)[1])


def epoch(moment: datetime) -> float:
    """Seconds since the epoch of a database time (SQLite returns UTC without its zone)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def log_lines(session: Session, run_id: int) -> list[tuple[datetime, str]]:
    """The run's log, oldest first, with times."""
    stmt = (
        select(RunLogLine.at, RunLogLine.message).where(RunLogLine.run_id == run_id).order_by(RunLogLine.id)
    )
    return [(at, message) for at, message in session.execute(stmt)]


def attempt_starts(session: Session, run_id: int) -> list[tuple[int, datetime]]:
    """(attempt number, start time) for every "Attempt N started" line of the run."""
    found = []
    for at, message in log_lines(session, run_id):
        match = re.match(r"Attempt (\d+) started", message)
        if match:
            found.append((int(match.group(1)), at))
    return found


def assert_complete_adapter(data_dir: Path, session: Session, run_id: int) -> Adapter:
    """A succeeded run has its Adapter row and a complete adapter folder that PEFT can load."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tests.tiny_model import tiny_model_dir

    adapter = session.scalar(select(Adapter).where(Adapter.run_id == run_id))
    assert adapter is not None, f"run {run_id} succeeded without an Adapter row"
    folder = data_dir / adapter.path
    assert (folder / "adapter_model.safetensors").stat().st_size == adapter.size_bytes
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir()), folder)
    return adapter


class PageWatch:
    """Reads the runs' JSON and their status partials, as a browser polls them, and fails on anything false:
    a finished run that changes, a state its words contradict, a page that disagrees with the API, a
    success without a complete adapter on disk."""

    def __init__(self, client: Any, data_dir: Path, run_ids: list[int]) -> None:
        """Watch `run_ids` through `client` (signed in to their workspace)."""
        self.client, self.data_dir, self.run_ids = client, data_dir, run_ids
        self.final: dict[int, str] = {}
        self.seen: dict[int, list[str]] = {run_id: [] for run_id in run_ids}
        self.polls, self.last = 0, 0.0

    def __call__(self, force: bool = False) -> None:
        """One poll of every watched run, at most once a second unless forced (the CPU is shared)."""
        if not force and time.monotonic() - self.last < 1:
            return
        self.polls, self.last = self.polls + 1, time.monotonic()
        for run_id in self.run_ids:
            data = self.client.get(f"/api/runs/{run_id}").json()
            state, text = data["state"], data["status_text"]
            if not self.seen[run_id] or self.seen[run_id][-1] != state:
                self.seen[run_id].append(state)
            if run_id in self.final:
                assert state == self.final[run_id], f"run {run_id}: {self.final[run_id]} became {state}"
            expected = {"queued": "Waiting for a worker", "succeeded": "Finished", "failed": "Failed — "}
            if state in expected:
                assert text.startswith(expected[state]), (run_id, state, text)
            if state == "running":
                assert not text.startswith(("Waiting", "Finished", "Failed")), (run_id, text)
            assert data["step"] <= data["total_steps"] or not data["total_steps"], data
            assert (data["error"] is not None) == (state == "failed"), data
            if state == "succeeded":
                assert (self.data_dir / "adapters" / str(run_id) / "adapter_model.safetensors").is_file()
            if state in ("succeeded", "failed", "cancelled"):
                self.final[run_id] = state
            page = self.client.get(f"/runs/{run_id}/status")
            assert page.status_code == 200, page.text
            # The page may have read the run a moment later than the API: it agrees unless the run moved on.
            if self.client.get(f"/api/runs/{run_id}").json()["status_text"] == text:
                assert _words(text) in _words(page.text), (run_id, text, _words(page.text))


def _words(html: str) -> str:
    """Text with tags dropped, entities of quotes decoded and whitespace folded."""
    text = re.sub(r"<[^>]+>", " ", html).replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    return " ".join(text.split())


def record(name: str, figures: dict[str, Any]) -> None:
    """Print a test's measured figures and keep them in test-artifacts/chaos.json for the notes."""
    rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
    print(f"\n[chaos] {name}: {json.dumps(rounded)}")
    ARTIFACT.parent.mkdir(exist_ok=True)
    data = json.loads(ARTIFACT.read_text()) if ARTIFACT.is_file() else {}
    data[name] = rounded
    ARTIFACT.write_text(json.dumps(data, indent=1, sort_keys=True))


def kill_during_writes(model_dir: str, out: str, rounds: int, seed: int = 7) -> None:
    """Body of a subprocess: a forked child writes the adapter and a checkpoint over and over, and is
    SIGKILLed at spread-out moments; after each kill, what is on disk is checked. Prints counts as JSON."""
    import random
    import shutil

    import torch
    from safetensors.torch import load_file

    from app.training.presets import Hyperparameters
    from worker.training import checkpoints as ckpt
    from worker.training.adapter_card import ADAPTER_WEIGHTS, write_adapter
    from worker.training.config import pick_runtime
    from worker.training.model import load_base, trainable_parameters, with_lora

    torch.set_num_threads(1)  # forked children and OpenMP thread pools do not mix
    model = with_lora(load_base(Path(model_dir), pick_runtime()), Hyperparameters(rank=4, alpha=8))
    tensors = ckpt.prefixed("adapter", dict(trainable_parameters(model)))
    adapter, folder = Path(out) / "adapter", Path(out) / "checkpoints"

    def write(step: int) -> None:
        write_adapter(model, adapter, f"card {step}")
        ckpt.save_checkpoint(folder, step, tensors, {"run": {"step": step}})
        ckpt.prune(folder)

    began = time.monotonic()
    write(0)
    cycle = time.monotonic() - began
    keys = set(load_file(adapter / ADAPTER_WEIGHTS))
    counts = {"rounds": rounds, "adapter_complete": 0, "adapter_none": 0, "checkpoints_checked": 0}
    counts |= {"leftover_temp_folders": 0, "write_cycle_s": round(cycle, 3)}
    rng = random.Random(seed)
    for round_no in range(rounds):
        if round_no % 3 == 0:  # now and then from nothing, so a first write is killed too
            shutil.rmtree(adapter, ignore_errors=True)
        pid = os.fork()
        if pid == 0:
            try:
                for step in range(1, 1_000_000):
                    write(step)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0, 2 * cycle))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if adapter.exists():
            assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 4
            assert set(load_file(adapter / ADAPTER_WEIGHTS)) == keys
            assert (adapter / "README.md").read_text().startswith("card ")
            counts["adapter_complete"] += 1
        else:
            counts["adapter_none"] += 1
        for step, path in ckpt.complete_checkpoints(folder):
            assert ckpt.load_checkpoint(path)[1]["run"]["step"] == step
            counts["checkpoints_checked"] += 1
        for parent in (Path(out), folder):
            counts["leftover_temp_folders"] += sum(p.name.startswith(".") for p in parent.iterdir())
            ckpt.remove_leftovers(parent)
    print(json.dumps(counts), flush=True)
