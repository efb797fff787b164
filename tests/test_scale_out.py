"""Scale-out: two worker processes on one `gpu` queue, as two GPU hosts would run them against the same
PostgreSQL and Redis, share the queued runs; no run is trained twice."""

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil
import pytest
from sqlalchemy import func, select

from app.models import Adapter, Run, RunLogLine, WorkerCapacity
from app.queue import GPU_QUEUE, INGEST_QUEUE
from app.services import runs
from tests.conftest import ROOT, wait_for
from tests.run_helpers import make_actor, make_dataset, register_tiny

pytestmark = pytest.mark.worker
N_RUNS = 4
FINISH_SECONDS = 75  # the test is bounded to 90 s; each first run includes loading the ML libraries
# A few seconds each on the tiny model; the first run in each worker also loads the ML libraries.
HP = {"batch_size": 2, "grad_accum": 1, "max_length": 256, "rank": 4, "alpha": 8, "epochs": 2}


@contextmanager
def gpu_worker(env: dict[str, str], log: Path, queues: str = GPU_QUEUE) -> Iterator[subprocess.Popen]:
    """A `lastmile worker --queues QUEUES` process (gpu: the command a GPU host runs), ready to consume."""
    from app.cli import worker_command

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            worker_command(queues, 1), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_for(lambda: b"ready." in log.read_bytes() or proc.poll() is not None, timeout=60)
            assert proc.poll() is None, log.read_text(errors="replace")
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_workers_share_the_queue_and_no_run_runs_twice(env, session, workspace_id, tmp_path: Path):
    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id)
    model = register_tiny(session)
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    started = time.monotonic()
    with ExitStack() as stack:
        # One core each, as each host would have its own: two torch thread pools on one CPU only contend.
        worker_env = {**os.environ, **env, "OMP_NUM_THREADS": "1"}
        workers = [stack.enter_context(gpu_worker(worker_env, log)) for log in logs]
        ids = [runs.create_run(session, actor, dataset.id, model.id, hp=HP).id for _ in range(N_RUNS)]

        def finished() -> list[Run]:
            session.expire_all()
            done = list(
                session.scalars(select(Run).where(Run.id.in_(ids), Run.state.in_(("succeeded", "failed"))))
            )
            return done if len(done) == N_RUNS else []

        try:
            done = wait_for(finished, timeout=FINISH_SECONDS, interval=0.5)
        except AssertionError:
            states = session.execute(
                select(Run.id, Run.state, Run.step, Run.lease_owner).where(Run.id.in_(ids))
            )
            tails = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
            raise AssertionError(f"not finished in {FINISH_SECONDS}s: {states.all()}\n{tails}") from None
        # Which process trained each run: the lease owner is "host:pid:nonce", pid a pool child of one worker.
        children = [{c.pid for c in psutil.Process(w.pid).children(recursive=True)} for w in workers]
    elapsed = time.monotonic() - started

    assert all(r.state == "succeeded" for r in done), [(r.id, r.state, r.error) for r in done]
    trained_by = {
        r.id: [i for i, pids in enumerate(children) if int(r.lease_owner.split(":")[1]) in pids] for r in done
    }
    assert all(len(owners) == 1 for owners in trained_by.values()), trained_by
    share = [sum(owners == [i] for owners in trained_by.values()) for i in range(2)]
    assert min(share) >= 1, f"runs per worker: {share}"

    # Once each: one attempt, one "Attempt 1 started" line, one adapter, one task that trained it.
    assert [r.attempt for r in done] == [1] * N_RUNS
    starts = session.scalars(
        select(RunLogLine.run_id).where(
            RunLogLine.run_id.in_(ids), RunLogLine.message.like("Attempt % started%")
        )
    ).all()
    assert sorted(starts) == sorted(ids)
    adapters = session.scalar(select(func.count()).select_from(Adapter).where(Adapter.run_id.in_(ids)))
    assert adapters == N_RUNS
    outcomes = [
        line for log in logs for line in log.read_text().splitlines() if "lastmile.train_run[" in line
    ]
    assert sum("succeeded in" in line for line in outcomes) == N_RUNS, outcomes
    assert not any("'skipped'" in line for line in outcomes), outcomes
    print(f"\nscale-out: {N_RUNS} runs on 2 workers in {elapsed:.1f}s, runs per worker {share}")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_only_training_workers_report_their_host_for_the_launch_check(env, session, tmp_path: Path):
    """An ingest-only host (the web server, say) never trains: its memory must not make a model "fit"."""
    worker_env = {**os.environ, **env}
    with gpu_worker(worker_env, tmp_path / "ingest.log", INGEST_QUEUE):
        time.sleep(2)  # the reaper thread reports right after "ready."; give it the time it would take
        session.expire_all()
        assert session.scalar(select(func.count()).select_from(WorkerCapacity)) == 0
    with gpu_worker(worker_env, tmp_path / "gpu.log"):
        hosts = wait_for(lambda: session.expire_all() or session.scalars(select(WorkerCapacity)).all(), 20)
    assert len(hosts) == 1 and hosts[0].memory_bytes > 0
