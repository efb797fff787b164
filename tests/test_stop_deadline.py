"""What does not stop in time is killed, and the log says what: a worker whose pool process hangs, and a
`lastmile run` whose worker hangs, are gone LASTMILE_STOP_SECONDS after SIGTERM, with nothing left behind."""

import os
import signal
from pathlib import Path

import pytest

from tests.chaos_helpers import Worker, gone
from tests.conftest import wait_for
from tests.live_server import lastmile_run, stop
from tests.stop_chaos import processes_of

pytestmark = [pytest.mark.worker, pytest.mark.timeout(180)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_worker_whose_pool_process_hangs_is_killed_at_its_stop_deadline(env, tmp_path: Path):
    worker = Worker({**env, "LASTMILE_STOP_SECONDS": "2"}, tmp_path / "worker.log").start()
    pool = worker.pool()
    for pid in pool:
        os.kill(pid, signal.SIGSTOP)  # a pool process that never answers: the warm shutdown waits for it
    try:
        worker.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: worker.proc.poll() is not None, timeout=60)
        wait_for(lambda: all(gone(pid) for pid in pool), timeout=30)
    finally:
        worker.stop()
    assert worker.proc.returncode == 1
    said = "the worker did not stop within 2 s (LASTMILE_STOP_SECONDS): killing it and its processes"
    assert f"{said} {pool}" in worker.text()


def test_lastmile_run_kills_a_hung_worker_at_the_bound_and_names_it(tmp_path: Path):
    data = tmp_path / "data"
    # Long enough for the web and the ingest worker to stop on their own, even on a busy machine.
    with lastmile_run(data, {"LASTMILE_STOP_SECONDS": "20"}) as server:
        mains = [pid for pid in processes_of(data) if _parent(pid) == server.process.pid]
        trainer = next(pid for pid in mains if b"--queues\0gpu" in Path(f"/proc/{pid}/cmdline").read_bytes())
        os.kill(trainer, signal.SIGSTOP)  # it cannot act on the SIGTERM it is sent
        assert stop(server) == 1
    text = server.log.read_text(errors="replace")
    assert "The training worker did not stop within 20 s (LASTMILE_STOP_SECONDS): killed it." in text
    assert "Stopped; killed after the time limit: training worker." in text
    wait_for(lambda: not processes_of(data), timeout=30)


def _parent(pid: int) -> int:
    """The parent process id of `pid`."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
