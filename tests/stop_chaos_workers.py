"""Stop chaos for a worker started on its own (`lastmile worker`, as Docker or systemd run it): SIGTERM or
SIGINT to its whole process group at random moments, with its fork server alive, dead or hung, and after
each stop none of its processes is left; a last start finishes the interrupted work."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import ROOT, clear_caches, wait_for
from tests.live_server import LASTMILE
from tests.stop_chaos import Tally, as_a_terminal, stop_and_record, wait_gone
from tests.stop_chaos_instance import Instance, lastmile_env

INGEST_TARGETS = ("idle", "importing", "fork server dead", "fork server hung")
TRAINING_TARGETS = ("idle", "training", "comparing")


def spawn_worker(instance: Instance, queues: str) -> tuple[subprocess.Popen, int]:
    """Start `lastmile worker --queues` in its own session; returns it and where its log starts."""
    since = instance.log.stat().st_size if instance.log.exists() else 0
    with open(instance.log, "ab") as out:
        process = subprocess.Popen(
            [str(LASTMILE), "worker", "--queues", queues],
            cwd=ROOT, env=instance.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    wait_for(lambda: b" ready." in instance.log.read_bytes()[since:] or process.poll() is not None, 60)
    assert process.poll() is None, instance.log.read_text(errors="replace")[-3000:]
    return process, since


def upload_directly(instance: Instance, files: int) -> None:
    """Store `files` small reports and queue their batch, as the web's upload does."""
    import io

    from sqlalchemy import func, select

    from app.db import session_scope
    from app.models import Workspace
    from app.services import uploads
    from app.settings import get_settings

    instance.uploads += 1
    incoming = []
    for index in range(files):
        text = f"Report {instance.uploads}-{index}\n\n" + f"Volumes rose in week {index}. " * 40
        name = f"report-{instance.uploads}-{index}.txt"
        incoming.append(uploads.IncomingFile(name, io.BytesIO(text.encode())))
    with session_scope() as session:
        workspace_id = session.scalar(select(func.min(Workspace.id)))
        batch = uploads.create_batch(session, workspace_id, incoming, get_settings())
        uploads.enqueue_batch(session, batch)
        instance.batches.append(batch.id)


def fork_servers(data_dir: Path) -> list[int]:
    """The fork servers among the processes of `data_dir`."""
    from tests.stop_chaos import processes_of

    found = []
    for pid in processes_of(data_dir):
        with contextlib.suppress(OSError):
            if b"fork_server import serve" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def _bring_ingest(instance: Instance, target: str) -> None:
    """Bring an ingest worker to `target`."""
    rng = instance.rng
    if target == "idle":
        time.sleep(rng.uniform(0, 1))
        return
    if target != "importing":  # a fork server exists once a file was read: read one, then break it
        upload_directly(instance, 1)
        wait_for(lambda: fork_servers(instance.data_dir), timeout=60, interval=0.2)
        wait_for(lambda: instance.busy() == "idle", timeout=60, interval=0.2)
        for pid in fork_servers(instance.data_dir):
            os.kill(pid, signal.SIGKILL if target == "fork server dead" else signal.SIGSTOP)
    upload_directly(instance, rng.randint(2, 8))
    time.sleep(rng.uniform(0, 1.5))


def _bring_training(instance: Instance, target: str) -> None:
    """Bring a training worker to `target`."""
    rng = instance.rng
    if target == "idle":
        time.sleep(rng.uniform(0, 1))
        return
    if target == "training" or not instance.runs:
        instance.start_run()
    with contextlib.suppress(AssertionError):  # a fast run may pass through; stop whatever it does
        wait_for(lambda: instance.doing(target), timeout=60, interval=0.3)
    time.sleep(rng.uniform(0, 2))


def worker_stop(instance: Instance, queues: str, target: str, how: str, tally: Tally) -> None:
    """Start a worker on `queues`, bring it to `target`, send `how` to its process group, record the stop."""
    process, since = spawn_worker(instance, queues)
    (_bring_ingest if queues == "ingest" else _bring_training)(instance, target)
    state = target if target.startswith("fork server") else instance.busy()
    stop_and_record(instance, process, since, (f"{queues} worker", state, how), tally)


def finish_worker(instance: Instance, queues: str, tally: Tally, timeout: float = 180) -> list[str]:
    """Start the worker once more, wait until the interrupted work is done, stop it; returns problems."""
    process, since = spawn_worker(instance, queues)
    problems: list[str] = []
    try:
        wait_for(instance.all_done, timeout=timeout, interval=0.5)
    except AssertionError:
        problems.append(f"{queues} worker: work not finished after the last start ({instance.busy()})")
    problems += instance.failures()
    stop_and_record(instance, process, since, (f"{queues} worker", "finished", "SIGTERM"), tally)
    return problems


def worker_chaos(instance: Instance, queues: str, stops: int, tally: Tally) -> list[str]:
    """`stops` stops of a `queues` worker on a fresh folder (migrated here), then a last start to finish."""
    from app.cli import migrate

    as_a_terminal()
    os.environ.update(lastmile_env(instance.data_dir, instance.stop_seconds))
    clear_caches()
    instance.data_dir.mkdir(parents=True, exist_ok=True)
    migrate()
    instance.prepare()
    targets = INGEST_TARGETS if queues == "ingest" else TRAINING_TARGETS
    try:
        for index in range(stops):
            how = "SIGINT" if index % 4 == 3 else "SIGTERM"
            worker_stop(instance, queues, targets[index % len(targets)], how, tally)
        return finish_worker(instance, queues, tally)
    finally:  # a failed step must not leave this folder's processes behind
        wait_gone(instance.data_dir, time.monotonic(), 0)
