"""Chaos for training jobs, against real processes: a Celery worker subprocess on real Redis, SQLite and
PostgreSQL, the tiny model. Workers are killed, frozen, stopped for a redeploy; messages are lost,
duplicated or never sent. The database stays the record: nothing is lost and nothing runs twice.

Each test prints its measured figures (run with -s) and keeps them in test-artifacts/chaos.json.
"""

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.models import Adapter, Run, utcnow
from app.queue import GPU_QUEUE, get_celery, tasks_in_broker
from app.services import job_queue, runs
from tests.chaos_helpers import (
    FAST,
    FAST_LEASES,
    PageWatch,
    Worker,
    assert_complete_adapter,
    attempt_starts,
    black_hole,
    epoch,
    fresh,
    gone,
    holder_pid,
    log_lines,
    record,
    start_run_process,
    until_state,
)
from tests.conftest import ROOT, flush_broker, wait_for
from tests.run_helpers import make_actor, make_dataset, register_tiny

# 90 s for the test itself; the session's one-off set-up (migrations, the tiny model) is not its own time.
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(90, func_only=True)]
POSTGRESQL = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
_DATASETS = itertools.count(1)


@pytest.fixture
def chaos_env(env, monkeypatch):
    """Short leases for this process and the workers the test starts (the `env` fixture empties the broker
    after each test, so tasks a killed worker of another test left behind never reach these)."""
    for key, value in FAST_LEASES.items():
        monkeypatch.setenv(key, value)
    env.update(FAST_LEASES)
    from app.settings import get_settings

    get_settings.cache_clear()
    return env


@pytest.fixture
def workers(chaos_env, tmp_path):
    """Factory for real worker processes sharing one log; all stopped after the test."""
    started: list[Worker] = []

    def make(**kwargs) -> Worker:
        worker = Worker(chaos_env, tmp_path / "worker.log", **kwargs)
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.stop()


@pytest.fixture
def data_dir(chaos_env):
    """The test's data folder (adapters, checkpoints)."""
    from app.settings import get_settings

    return get_settings().data_dir


def _start(session, workspace_id, hp: dict, count: int = 1, n_train: int = 8):
    """Queue `count` runs of the tiny model with `hp` on a dataset of `n_train` examples; returns them."""
    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id, n_train=n_train, name=f"Replies {next(_DATASETS)}")
    model = register_tiny(session)
    return [runs.create_run(session, actor, dataset.id, model.id, hp={**FAST, **hp}) for _ in range(count)]


def _no_overlap(session, run_id: int, kills: list[float]) -> None:
    """Attempts follow each other: each starts after the process of the one before was gone."""
    starts = attempt_starts(session, run_id)
    times = [epoch(at) for _n, at in starts]
    assert times == sorted(times), starts
    for killed, next_start in zip(kills, times[1:], strict=False):
        assert next_start > killed, (kills, starts)


def _resumed_steps(session, run_id: int) -> list[int]:
    """The steps the run resumed from, one per resumption so far."""
    found = [
        re.match(r"Resumed from the checkpoint at step (\d+) ", m) for _at, m in log_lines(session, run_id)
    ]
    return [int(match.group(1)) for match in found if match]


def _last_checkpoint(data_dir, run_id: int) -> int:
    """The step of the newest complete checkpoint in the run's work folder (0: none)."""
    from worker.training.checkpoints import complete_checkpoints

    found = complete_checkpoints(data_dir / "runs" / str(run_id) / "checkpoints")
    return found[-1][0] if found else 0


def _checkpointed(session, data_dir, run_id: int, timeout: float = 45):
    """Wait for the run's first complete checkpoint, watching the disk (the database's step is written once a
    second, and a tiny run trains many steps in a second); returns the run."""
    wait_for(lambda: _last_checkpoint(data_dir, run_id), timeout=timeout, interval=0.05)
    return fresh(session, run_id)


def _running_at(session, run_id: int, step: int, timeout: float = 45):
    """Wait until the run is running at `step` or later; returns it."""
    return wait_for(
        lambda: (r := fresh(session, run_id)).step >= step and r.state == "running" and r, timeout
    )


def _age(session, *run_ids: int) -> None:
    """Make the runs' last publish older than the stale limit."""
    past = utcnow() - timedelta(seconds=60)
    session.execute(update(Run).where(Run.id.in_(run_ids)).values(published_at=past))
    session.commit()


def test_runs_are_published_again_only_when_the_broker_lost_their_tasks(chaos_env, session, workspace_id):
    first, second = _start(session, workspace_id, {}, count=2)
    _age(session, first.id, second.id)
    assert job_queue.republish_lost(session) == []  # both tasks wait on the queue
    flush_broker()
    assert job_queue.republish_lost(session) == [("runs", first.id), ("runs", second.id)]
    assert tasks_in_broker(GPU_QUEUE, delivered_within=60) == 2
    assert job_queue.republish_lost(session) == []  # published again just now, and waiting: nothing loops
    flush_broker()
    assert job_queue.republish_lost(session) == []  # published under run_stale_seconds ago: on its way
    _age(session, first.id, second.id)
    runs.publish_run(first.id), runs.publish_run(second.id)
    with get_celery().connection_for_read() as conn:
        # A worker got the first run's task and has not taken its lease yet: that task still counts.
        assert conn.default_channel.basic_get(GPU_QUEUE, no_ack=False) is not None
        assert tasks_in_broker(GPU_QUEUE, delivered_within=60) == 2
        assert job_queue.republish_lost(session) == []


def test_a_run_started_while_the_broker_is_down_is_kept_and_published_later(
    chaos_env, monkeypatch, session, workspace_id
):
    from app.settings import get_settings

    monkeypatch.setenv("LASTMILE_BROKER_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear(), get_celery.cache_clear()
    (run,) = _start(session, workspace_id, {})
    assert fresh(session, run.id).state == "queued" and fresh(session, run.id).published_at is not None
    monkeypatch.setenv("LASTMILE_BROKER_URL", chaos_env["LASTMILE_BROKER_URL"])
    get_settings.cache_clear(), get_celery.cache_clear()
    _age(session, run.id)
    assert job_queue.republish_lost(session) == [("runs", run.id)]
    assert tasks_in_broker(GPU_QUEUE, delivered_within=60) == 1


def test_an_interruption_gives_its_attempt_back_and_a_hard_limit_fails_only_the_killed_process(
    chaos_env, session, workspace_id
):
    from worker.run_lease import acquire_lease, fail_over_time, reap_stale_runs, requeue_interrupted

    (run,) = _start(session, workspace_id, {})
    assert acquire_lease(session, run.id, "host:11:a", "host").attempt == 1
    assert requeue_interrupted(session, run.id, "host:11:a", step=3)
    back = fresh(session, run.id)
    assert (back.state, back.attempt, back.step, back.lease_owner) == ("queued", 0, 3, None)
    assert runs.run_status_text(back) == "Waiting for a worker (interrupted, will resume)"
    assert acquire_lease(session, run.id, "host:12:b", "host").attempt == 1
    assert not requeue_interrupted(session, run.id, "host:11:a", step=4)  # not the holder any more
    assert not fail_over_time(session, run.id, "host:1:")  # another process (pid 1, not 12)
    # A stale lease: the reaper asks the worker to stop its holder before the run goes on elsewhere.
    session.execute(update(Run).where(Run.id == run.id).values(heartbeat_at=utcnow() - timedelta(seconds=60)))
    session.commit()
    stopped: list[str] = []
    assert reap_stale_runs(session, stopped.append) == [run.id] and stopped == ["host:12:b"]
    assert acquire_lease(session, run.id, "host:13:c", "host").attempt == 2
    assert fail_over_time(session, run.id, "host:13:")
    failed = fresh(session, run.id)
    assert failed.state == "failed" and failed.error.startswith("The run took longer than this server's time")
    assert log_lines(session, run.id)[-1][1] == f"Failed: {failed.error}"


@pytest.mark.worker
@pytest.mark.parametrize("victim", ["pool process", "whole worker"])
def test_a_sigkilled_worker_resumes_the_run_from_its_last_complete_checkpoint(
    victim, workers, session, workspace_id, data_dir, client
):
    hp = {"epochs": 10, "checkpoint_every_steps": 4, "eval_every_steps": 40}
    (run,) = _start(session, workspace_id, hp)
    watch = PageWatch(client, data_dir, [run.id])
    worker = workers().start()
    holder = holder_pid(_checkpointed(session, data_dir, run.id))
    assert holder in worker.pool()
    if victim == "pool process":
        os.kill(holder, signal.SIGKILL)  # as the OOM killer would
        wait_for(lambda: gone(holder), timeout=10)
    else:
        worker.kill()  # main process and pool at once, as a host crash would; then the host comes back
    killed_at, last_complete = time.time(), _last_checkpoint(data_dir, run.id)
    if victim == "whole worker":
        workers().start()
    resumed = wait_for(lambda: _resumed_steps(session, run.id), timeout=45)
    resumed_after = time.time() - killed_at
    done = until_state(session, run.id, ("succeeded", "failed"), timeout=45, check=watch)
    assert done.state == "succeeded" and done.attempt == 2, done.error
    assert resumed == [last_complete] and last_complete >= 4, (resumed, last_complete)
    assert [n for n, _at in attempt_starts(session, run.id)] == [1, 2]
    _no_overlap(session, run.id, [killed_at])
    assert [s for s, _ in done.loss_history] == list(range(1, done.total_steps + 1))
    assert_complete_adapter(data_dir, session, run.id)
    record(
        f"sigkill_{victim.replace(' ', '_')}[{session.bind.dialect.name}]",
        {"resumed_after_s": resumed_after, "finished_after_s": epoch(done.finished_at) - killed_at,
         "resumed_at_step": resumed[0], "total_steps": done.total_steps},
    )  # fmt: skip


@pytest.fixture
def short_visibility(chaos_env, monkeypatch):
    """Redis hands an unacknowledged task to a worker again after 2 s (Celery's default: an hour)."""
    monkeypatch.setenv("LASTMILE_BROKER_VISIBILITY_TIMEOUT", "2")
    chaos_env["LASTMILE_BROKER_VISIBILITY_TIMEOUT"] = "2"


@pytest.mark.worker
def test_a_duplicate_delivery_while_the_lease_is_held_does_no_training(
    short_visibility, workers, session, workspace_id, data_dir
):
    # Two pool processes: the copy Redis hands out again is taken while the first delivery still trains.
    worker = workers(concurrency=2).start()
    (run,) = _start(session, workspace_id, {"epochs": 4})
    done = until_state(session, run.id, ("succeeded", "failed"), timeout=75)
    assert done.state == "succeeded" and done.attempt == 1, done.error
    log = worker.text()
    task_ids = set(re.findall(r"Task lastmile\.train_run\[([0-9a-f-]+)\] received", log))
    assert len(task_ids) == 1
    deliveries = len(re.findall(r"Task lastmile\.train_run\[[0-9a-f-]+\] received", log))
    skipped = len(re.findall(r"train_run\[[0-9a-f-]+\] succeeded in [0-9.]+s: 'skipped'", log))
    assert skipped >= 1, log[-3000:]
    assert [n for n, _at in attempt_starts(session, run.id)] == [1]
    # Every step was trained once: a copy that trained would have replaced steps or added an attempt.
    assert [s for s, _ in done.loss_history] == list(range(1, done.total_steps + 1))
    assert_complete_adapter(data_dir, session, run.id)
    record(
        f"visibility_timeout_duplicate[{session.bind.dialect.name}]",
        {"deliveries": deliveries, "skipped": skipped, "steps": done.total_steps},
    )


@POSTGRESQL
@pytest.mark.worker
def test_a_run_that_kills_its_worker_every_time_fails_after_its_attempts_and_the_next_one_succeeds(
    chaos_env, monkeypatch, workers, session, workspace_id, data_dir, client
):
    monkeypatch.setenv("LASTMILE_RUN_MAX_ATTEMPTS", "2")
    chaos_env["LASTMILE_RUN_MAX_ATTEMPTS"] = "2"
    # The worker host allows each process 20 s of CPU (ulimit -t): the kernel kills a pool process past it
    # with SIGXCPU, as it would OOM-kill one past a memory limit. The first run needs far more than that
    # (4,000 steps: each attempt resumes from a checkpoint, never near its end); the second a few seconds.
    worker = workers(cpu_seconds=20).start()
    (poison,) = _start(session, workspace_id, {"epochs": 100, "checkpoint_every_steps": 20}, n_train=80)
    began = time.monotonic()
    (good,) = _start(session, workspace_id, {})
    watch = PageWatch(client, data_dir, [poison.id, good.id])
    failed = until_state(session, poison.id, ("failed", "succeeded"), timeout=80, check=watch)
    failed_after = time.monotonic() - began
    assert failed.state == "failed" and failed.attempt == 2
    assert failed.error.startswith("The training worker stopped unexpectedly 2 times"), failed.error
    done = until_state(session, good.id, ("succeeded", "failed"), timeout=40, check=watch)
    assert done.state == "succeeded" and done.attempt == 1, done.error
    assert worker.text().count("SIGXCPU") >= 2
    # Nothing loops: a few reaper rounds later the failed run is as it was, with no new attempt or line.
    lines = log_lines(session, poison.id)
    time.sleep(3)
    assert log_lines(session, poison.id) == lines and fresh(session, poison.id).attempt == 2
    assert [n for n, _at in attempt_starts(session, poison.id)] == [1, 2]
    record(
        "poison_run[postgresql]",
        {"failed_after_s": failed_after, "next_run_done_after_s": time.monotonic() - began},
    )


@pytest.mark.worker
def test_a_crash_between_the_commit_and_the_publish_still_runs_the_run_once(
    chaos_env, workers, session, workspace_id, data_dir
):
    actor = make_actor(session, workspace_id)
    dataset, model = make_dataset(session, workspace_id), register_tiny(session)
    with black_hole() as broker_url:
        web = start_run_process(
            {**chaos_env, "LASTMILE_BROKER_URL": broker_url}, actor, dataset.id, model.id, FAST
        )
        # The web process committed the run and now waits on a broker that never answers: kill it there.
        run_id = wait_for(lambda: session.scalar(select(Run.id)) or web.poll() is not None, timeout=40)
        assert web.poll() is None, "the web process ended by itself"
        os.kill(web.pid, signal.SIGKILL)
        web.wait()
    assert fresh(session, run_id).state == "queued"
    assert tasks_in_broker(GPU_QUEUE, delivered_within=60) == 0  # nothing reached the real broker
    began = time.monotonic()
    workers().start()
    done = until_state(session, run_id, ("succeeded", "failed"), timeout=60)
    assert done.state == "succeeded" and done.attempt == 1, done.error
    assert [n for n, _at in attempt_starts(session, run_id)] == [1]
    assert session.scalar(select(func.count()).select_from(Adapter).where(Adapter.run_id == run_id)) == 1
    time.sleep(2)  # a few reaper rounds: the run is not published again
    assert fresh(session, run_id).attempt == 1 and len(attempt_starts(session, run_id)) == 1
    record(
        f"lost_publish[{session.bind.dialect.name}]",
        {"succeeded_after_worker_start_s": time.monotonic() - began},
    )


@POSTGRESQL
@pytest.mark.worker
def test_a_flushed_broker_loses_no_run_and_the_pages_stay_true(
    workers, session, workspace_id, data_dir, client
):
    (running,) = _start(session, workspace_id, {"epochs": 10, "eval_every_steps": 2})
    (waiting,) = _start(session, workspace_id, {})
    watch = PageWatch(client, data_dir, [running.id, waiting.id])
    workers().start()
    wait_for(lambda: (watch() or True) and fresh(session, running.id).step >= 3, timeout=60)
    flushed_at = time.monotonic()
    # Redis restarts without its data: the waiting run's task and the running one's unacknowledged copy go.
    assert flush_broker() > 0
    (after,) = _start(session, workspace_id, {})  # a run started after the restart is published as usual
    watch.run_ids.append(after.id)
    watch.seen[after.id] = []
    for run in (running, waiting, after):
        done = until_state(session, run.id, ("succeeded", "failed"), timeout=60, check=watch)
        assert done.state == "succeeded" and done.attempt == 1, (run.id, done.error)
        assert_complete_adapter(data_dir, session, run.id)
    watch(force=True)
    assert all(states[-1] == "succeeded" for states in watch.seen.values()), watch.seen
    record(
        "broker_flush[postgresql]",
        {"all_done_after_flush_s": time.monotonic() - flushed_at, "page_polls": watch.polls,
         "states_seen": watch.seen},
    )  # fmt: skip


@pytest.mark.worker
def test_sigterm_checkpoints_requeues_and_resumes_without_using_an_attempt(
    workers, session, workspace_id, data_dir, client
):
    # No periodic checkpoints: whatever the new worker resumes from was written at the interruption.
    # Held-out checks every 2 steps write the progress at once, so the stop lands early in the run.
    hp = {"epochs": 8, "checkpoint_every_steps": 10_000, "eval_every_steps": 2}
    (run,) = _start(session, workspace_id, hp)
    watch = PageWatch(client, data_dir, [run.id])
    worker = workers().start()
    _running_at(session, run.id, 4)
    shutdown_s = worker.terminate(timeout=30)
    back = fresh(session, run.id)
    watch()
    assert back.state == "queued" and back.attempt == 0 and back.lease_owner is None
    assert back.status_text == "Waiting for a worker (interrupted, will resume)"
    assert (
        client.get(f"/api/runs/{run.id}")
        .json()["status_text"]
        .startswith("Waiting for a worker (interrupted, will resume)")
    )
    lines = [message for _at, message in log_lines(session, run.id)]
    step = int(re.search(r"Interrupted at step (\d+) of", lines[-1]).group(1))
    assert "does not count as a failed attempt" in lines[-1]
    assert (data_dir / "runs" / str(run.id) / "checkpoints" / f"step-{step}").is_dir()
    restarted = time.time()
    workers().start()
    done = until_state(session, run.id, ("succeeded", "failed"), timeout=60, check=watch)
    assert done.state == "succeeded" and done.attempt == 1, done.error
    resumed_at = next(at for at, message in log_lines(session, run.id) if message.startswith("Resumed from"))
    lines = [message for _at, message in log_lines(session, run.id)]
    assert f"Resumed from the checkpoint at step {step} of {done.total_steps}." in lines
    assert [n for n, _at in attempt_starts(session, run.id)] == [1, 1]
    assert [s for s, _ in done.loss_history] == list(range(1, done.total_steps + 1))
    assert_complete_adapter(data_dir, session, run.id)
    record(
        f"sigterm_redeploy[{session.bind.dialect.name}]",
        {"worker_exit_after_sigterm_s": shutdown_s, "interrupted_at_step": step,
         "resumed_after_restart_s": epoch(resumed_at) - restarted,
         "finished_after_restart_s": epoch(done.finished_at) - restarted, "total_steps": done.total_steps},
    )  # fmt: skip


@POSTGRESQL
@pytest.mark.worker
def test_a_frozen_worker_process_is_reaped_and_the_run_resumes(workers, session, workspace_id, data_dir):
    (run,) = _start(session, workspace_id, {"epochs": 10, "checkpoint_every_steps": 4})
    worker = workers().start()
    frozen = holder_pid(_checkpointed(session, data_dir, run.id))
    os.kill(frozen, signal.SIGSTOP)  # no heartbeat, no progress: as a process hung in a driver call
    frozen_at = time.time()
    resumed = wait_for(lambda: (r := fresh(session, run.id)).attempt == 2 and r.state == "running" and r, 40)
    assert resumed.lease_owner and holder_pid(resumed) != frozen
    assert gone(frozen)
    assert "holds a stale run lease: killing it" in worker.text()
    done = until_state(session, run.id, ("succeeded", "failed"), timeout=40)
    assert done.state == "succeeded" and done.attempt == 2, done.error
    reaped = next(at for at, message in log_lines(session, run.id) if "stopped during attempt 1" in message)
    _no_overlap(session, run.id, [epoch(reaped)])
    assert_complete_adapter(data_dir, session, run.id)
    record(
        "frozen_process[postgresql]",
        {"reaped_after_s": epoch(reaped) - frozen_at,
         "next_attempt_after_s": epoch(attempt_starts(session, run.id)[1][1]) - frozen_at,
         "finished_after_s": epoch(done.finished_at) - frozen_at},
    )  # fmt: skip


@POSTGRESQL
@pytest.mark.worker
def test_runs_past_the_time_limits_fail_with_a_reason_and_the_worker_takes_the_next(
    chaos_env, monkeypatch, workers, session, workspace_id, data_dir
):
    # A 20 s limit per run, a kill 2 s after it; the reaper's stale limit is longer, so the limits act first.
    limits = {"LASTMILE_RUN_TIME_LIMIT_SECONDS": "20", "LASTMILE_RUN_KILL_GRACE_SECONDS": "2",
              "LASTMILE_RUN_STALE_SECONDS": "120"}  # fmt: skip
    for key, value in limits.items():
        monkeypatch.setenv(key, value)
    chaos_env.update(limits)
    # 100 passes over 80 examples: far past the 20 s limit even on a quiet machine (over 8 examples the tiny
    # model finished in under 20 s).
    (stuck,) = _start(session, workspace_id, {"epochs": 100}, n_train=80)  # frozen: only the hard limit acts
    (slow,) = _start(session, workspace_id, {"epochs": 100}, n_train=80)  # the soft limit stops it
    (quick,) = _start(session, workspace_id, {})
    worker = workers().start()
    frozen = holder_pid(_running_at(session, stuck.id, 2, timeout=15))  # before its soft limit
    os.kill(frozen, signal.SIGSTOP)
    ends = {}
    for run in (stuck, slow, quick):
        ends[run.id] = until_state(session, run.id, ("failed", "succeeded"), timeout=30)
    limit_message = "The run took longer than this server's time limit for one run (under a minute)"
    for run in (stuck, slow):
        assert ends[run.id].state == "failed" and ends[run.id].attempt == 1, ends[run.id].error
        assert ends[run.id].error.startswith(limit_message), ends[run.id].error
    assert "Hard time limit (22s) exceeded" in worker.text() and gone(frozen)
    # The soft limit may land anywhere (mid-import): that pool process is replaced before the next run.
    assert "this pool process is replaced" in worker.text()
    assert ends[quick.id].state == "succeeded", ends[quick.id].error
    record(
        "time_limits[postgresql]",
        {f"{name}_failed_after_s": (ends[r.id].finished_at - ends[r.id].started_at).total_seconds()
         for name, r in (("hard", stuck), ("soft", slow))},
    )  # fmt: skip


def test_adapter_and_checkpoint_writes_leave_a_complete_copy_or_none(tmp_path):
    from tests.tiny_model import tiny_model_dir

    code = (
        "import sys; from tests.chaos_helpers import kill_during_writes as k; k(sys.argv[1], sys.argv[2], 30)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tiny_model_dir()), str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=85, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["adapter_complete"] + counts["adapter_none"] == 30
    # Kills landed both inside and between writes: some rounds left temp folders behind, some a complete copy.
    assert counts["adapter_complete"] > 0 and counts["leftover_temp_folders"] > 0, counts
    record("kill_during_adapter_and_checkpoint_writes", counts)
