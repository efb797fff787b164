"""Stop chaos: start `lastmile run` (or a worker on its own) over and over on one data folder, stop it at
random moments with SIGTERM or SIGINT to its process group (or SIGKILL to its parent), and check after each
stop that none of its processes is left, that no database or broker lock is held, and, at the end, that a
last start finishes all the interrupted work. Used by tests/test_stop_chaos.py and bench/stop_chaos.py.

The caller points this process's LASTMILE_* settings at the data folder (SQLite, the embedded broker), so
the set-up (an admin token, a dataset, the tiny model) and the checks read the same database.
"""

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT, clear_caches, wait_for
from tests.live_server import LASTMILE, free_port
from tests.stop_chaos_instance import Instance, lastmile_env

# What a stop may take: the processes' own limit (stop_seconds) plus the time to notice and reap them.
MARGIN_SECONDS = 5.0
POOL_KILLED = b"exited with 'signal 15 (SIGTERM)'"


def processes_of(data_dir: Path) -> list[int]:
    """Processes (but this one) whose environment names `data_dir` as the data folder, zombies excluded."""
    marker = f"LASTMILE_DATA_DIR={data_dir}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            zombie = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            if not zombie and marker in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


def locks_held(data_dir: Path) -> list[str]:
    """The SQLite files (database, embedded broker) whose write lock someone still holds."""
    held = []
    for name in ("lastmile.sqlite", "broker.sqlite"):
        path = data_dir / name
        if not path.exists():
            continue
        conn = sqlite3.connect(path, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
        except sqlite3.OperationalError:
            held.append(name)
        finally:
            conn.close()
    return held


@dataclass
class Stop:
    """One stop: what was going on, how it was stopped, how long until nothing was left, what was left."""

    target: str
    state: str
    how: str
    seconds: float
    orphans: int
    locks: list[str]
    killed_after_limit: bool
    # A pool process killed by a SIGTERM not its main process's: how the lost-lock hang of issue #20 began.
    pool_killed: bool

    @classmethod
    def seen(cls, target: str, state: str, how: str, seconds: float, left: list[int], data_dir: Path,
             log: bytes) -> "Stop":  # fmt: skip
        """The stop, from what was left, the locks held now and the log written since the start."""
        locks, escalated = locks_held(data_dir), b"did not stop within" in log
        return cls(target, state, how, seconds, len(left), locks, escalated, POOL_KILLED in log)


@dataclass
class Tally:
    """Every stop of a chaos session."""

    stops: list[Stop] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts per state, the slowest stop, orphans, locks left and escalations."""
        per_state: dict[str, int] = {}
        for stop in self.stops:
            per_state[f"{stop.target}:{stop.state}"] = per_state.get(f"{stop.target}:{stop.state}", 0) + 1
        return {
            "stops": len(self.stops),
            "per_state": dict(sorted(per_state.items())),
            "slowest_s": round(max((s.seconds for s in self.stops), default=0.0), 1),
            "median_s": round(sorted(s.seconds for s in self.stops)[len(self.stops) // 2], 1)
            if self.stops
            else 0.0,
            "orphans": sum(s.orphans for s in self.stops),
            "locks_left": sum(len(s.locks) for s in self.stops),
            "killed_after_limit": sum(s.killed_after_limit for s in self.stops),
            "pool_processes_killed": sum(s.pool_killed for s in self.stops),
        }


def wait_gone(data_dir: Path, began: float, bound: float) -> tuple[float, list[int]]:
    """Poll until no process of `data_dir` is left or `bound` seconds passed since `began`; returns the
    seconds it took and what was still there at the bound (SIGKILLed then, so the next start is clean)."""
    left = processes_of(data_dir)
    while left and time.monotonic() - began < bound:
        time.sleep(0.1)
        left = processes_of(data_dir)
    seconds = time.monotonic() - began
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return seconds, left


def spawn_run(instance: Instance) -> tuple[subprocess.Popen, str]:
    """Start `lastmile run` on the instance's folder in a new session, as a terminal or a service would."""
    port = free_port()
    instance.data_dir.mkdir(parents=True, exist_ok=True)
    with open(instance.log, "ab") as out:
        process = subprocess.Popen(
            [str(LASTMILE), "run", "--port", str(port)],
            cwd=ROOT, env=instance.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def healthy(url: str, log: Path, since: int) -> bool:
    """Whether the web answers /healthz and both workers said "ready." since byte `since` of the log."""
    try:
        with httpx.Client(timeout=2) as http:
            ok = http.get(f"{url}/healthz").status_code == 200
    except httpx.HTTPError:
        return False
    return ok and log.read_bytes()[since:].count(b" ready.") >= 2


TARGETS = ("migrating", "starting", "idle", "uploading", "importing", "training", "comparing")


def one_stop(instance: Instance, target: str, how: str, tally: Tally) -> None:
    """Start `lastmile run`, bring it to `target`, stop it `how` ("SIGTERM", "SIGINT" to the group, or
    "SIGKILL" to the parent), and record the stop."""
    rng = instance.rng
    since = instance.log.stat().st_size if instance.log.exists() else 0
    process, url = spawn_run(instance)
    worker: threading.Thread | None = None
    if target == "migrating":
        time.sleep(rng.uniform(0.05, 1.0))
    elif target == "starting":
        wait_for(lambda: b"Lastmile is starting" in instance.log.read_bytes()[since:], timeout=60)
        time.sleep(rng.uniform(0, 2.5))
    else:
        wait_for(lambda: healthy(url, instance.log, since), timeout=90, interval=0.3)
        instance.prepare()
        if target == "uploading":
            worker = threading.Thread(target=instance.upload, args=(url, 4, 3.0))
            worker.start()
            time.sleep(rng.uniform(0.3, 2.5))
        elif target == "importing":
            instance.upload(url, rng.randint(2, 8))
            time.sleep(rng.uniform(0, 1.5))
        elif target in ("training", "comparing"):
            if target == "training" or not instance.runs:
                instance.start_run()
            with contextlib.suppress(AssertionError):  # a fast run may pass through; stop whatever it does
                wait_for(lambda: instance.doing(target), timeout=60, interval=0.3)
            time.sleep(rng.uniform(0, 2))
        else:
            time.sleep(rng.uniform(0, 1))
    if b"Lastmile is starting" not in instance.log.read_bytes()[since:]:
        state = "migrating"
    elif target in ("migrating", "starting", "uploading"):
        state = "starting" if target == "migrating" else target
    else:
        state = instance.busy()
    stop_and_record(instance, process, since, ("run", state, how), tally)
    if worker is not None:
        worker.join(timeout=60)


def stop_and_record(
    instance: Instance, process: subprocess.Popen, since: int, what: tuple[str, str, str], tally: Tally
) -> None:
    """Stop `process` as `what` = (name, state, how) says: SIGTERM or SIGINT to its process group, SIGKILL to
    the process itself; wait until the data folder's processes are gone, and record the stop."""
    name, state, how = what
    began = time.monotonic()
    if how == "SIGKILL":
        process.kill()
    else:
        os.killpg(process.pid, getattr(signal, how))
    seconds, left = wait_gone(instance.data_dir, began, instance.stop_seconds + MARGIN_SECONDS)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    log = instance.log.read_bytes()[since:]
    tally.stops.append(Stop.seen(name, state, how, seconds, left, instance.data_dir, log))


def finish(instance: Instance, tally: Tally, timeout: float = 180) -> list[str]:
    """Start once more, wait until all interrupted work is done, stop; returns what went wrong (if any)."""
    since = instance.log.stat().st_size if instance.log.exists() else 0
    process, url = spawn_run(instance)
    problems: list[str] = []
    try:
        wait_for(lambda: healthy(url, instance.log, since), timeout=90, interval=0.3)
        wait_for(instance.all_done, timeout=timeout, interval=0.5)
    except AssertionError:
        problems.append(f"work not finished after the last start ({instance.busy()})")
    problems += instance.failures()
    stop_and_record(instance, process, since, ("run", "finished", "SIGTERM"), tally)
    return problems


def plan(rng: random.Random, stops: int) -> list[tuple[str, str]]:
    """(target, how) for `stops` stops: every target in turn, SIGTERM and SIGINT alike, one in eight a
    SIGKILL of the parent (never while it migrates: nothing runs yet that could outlive it)."""
    order = []
    for index in range(stops):
        target = TARGETS[index % len(TARGETS)]
        how = rng.choice(("SIGTERM", "SIGINT"))
        if index % 8 == 7 and target != "migrating":
            how = "SIGKILL"
        order.append((target, how))
    return order


def as_a_terminal() -> None:
    """Let the processes started from here get SIGINT as a terminal's foreground job does: a benchmark run in
    the background (`nohup … &`) has it ignored, and `lastmile run` keeps an ignored SIGINT ignored."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def chaos(base: Path, stops: int, seed: int, stop_seconds: float, per_folder: int,
          on_stop: Callable[[Stop], None] | None = None) -> tuple[Tally, list[str]]:  # fmt: skip
    """`stops` stops of `lastmile run` across fresh data folders of `per_folder` stops each (each folder's
    first stop lands during its migrations); returns the tally and the problems found."""
    as_a_terminal()
    rng = random.Random(seed)
    tally, problems = Tally(), []
    order = plan(rng, stops)
    for first in range(0, stops, per_folder):
        data_dir = base / f"folder-{first // per_folder}" / "data"
        instance = Instance(data_dir, rng, stop_seconds)
        os.environ.update(lastmile_env(data_dir, stop_seconds))
        clear_caches()
        chunk = order[first : first + per_folder]
        chunk[0] = ("migrating", chunk[0][1] if chunk[0][1] != "SIGKILL" else "SIGTERM")
        try:
            for target, how in chunk:
                one_stop(instance, target, how, tally)
                if on_stop is not None:
                    on_stop(tally.stops[-1])
            problems += [f"{data_dir}: {p}" for p in finish(instance, tally)]
            if on_stop is not None:
                on_stop(tally.stops[-1])
        finally:  # a failed step must not leave this folder's processes behind for the next test
            wait_gone(data_dir, time.monotonic(), 0)
    return tally, problems
