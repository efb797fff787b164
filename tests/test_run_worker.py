"""Training runs on a real Celery worker process (Redis, SQLite and PostgreSQL) with the tiny test model."""

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from app.models import Adapter, Notice, Run, RunLogLine, WorkerCapacity, WorkerSpeed
from app.services import runs
from tests.conftest import wait_for
from tests.run_helpers import make_actor, make_dataset, register_tiny

# Small, fast runs: one row per pass, a tiny LoRA rank.
FAST = {"batch_size": 2, "grad_accum": 1, "max_length": 256, "rank": 4, "alpha": 8, "epochs": 2}


@pytest.fixture
def fast_leases(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Short heartbeat, stale and reap intervals, for this process and the worker started after it."""
    values = {
        "LASTMILE_RUN_HEARTBEAT_SECONDS": "0.5",
        "LASTMILE_RUN_STALE_SECONDS": "4",
        "LASTMILE_RUN_REAP_SECONDS": "1",
        "LASTMILE_RUN_CANCEL_CHECK_SECONDS": "0.5",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    env.update(values)  # the celery_worker fixture starts its process with these
    from app.settings import get_settings

    get_settings.cache_clear()
    return values


@pytest.fixture
def webhook_inbox(env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """A real HTTP server on localhost that keeps the JSON bodies POSTed to it; yields (url, bodies).

    Loopback is allowed as a webhook range, as an admin would allow their chat server's network.
    """
    from app.settings import get_settings

    monkeypatch.setenv("LASTMILE_OUTBOUND_ALLOW_NETWORKS", "127.0.0.0/8")
    env["LASTMILE_OUTBOUND_ALLOW_NETWORKS"] = "127.0.0.0/8"  # for the worker started after it
    get_settings.cache_clear()
    bodies: list[dict] = []

    class Inbox(BaseHTTPRequestHandler):
        """Stores each POST body and answers 204."""

        def do_POST(self) -> None:  # the name http.server calls
            """Keep the body."""
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Inbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", bodies
    server.shutdown()
    server.server_close()


def _fresh(session, run_id: int) -> Run:
    """The run as the database holds it now."""
    session.expire_all()
    return session.get(Run, run_id)


def _log(session, run_id: int) -> list[str]:
    """The run's log lines."""
    return list(session.scalars(select(RunLogLine.message).where(RunLogLine.run_id == run_id)))


def _until_state(session, run_id: int, states: tuple[str, ...], timeout: float = 60) -> Run:
    """Wait until the run is in one of `states`."""
    return wait_for(lambda: (r := _fresh(session, run_id)).state in states and r, timeout=timeout)


def test_a_run_trains_an_adapter_and_the_next_estimate_is_close(
    fast_leases, webhook_inbox, celery_worker, session, workspace_id
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from app.settings import get_settings

    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id)
    model = register_tiny(session)
    from app.models import Workspace
    from app.services.notices import set_webhook

    set_webhook(session, session.get(Workspace, workspace_id), webhook_inbox[0])
    run = runs.create_run(session, actor, dataset.id, model.id, hp=FAST)
    seen = {_until_state(session, run.id, ("running", "succeeded")).state}
    done = _until_state(session, run.id, ("succeeded", "failed"))
    assert done.state == "succeeded", done.error
    assert "running" in seen or done.started_at is not None
    assert (done.step, done.total_steps, done.attempt) == (8, 8, 1)
    assert done.status_text == "Finished" and done.finished_at is not None
    assert [s for s, _ in done.loss_history] == list(range(1, 9)) and done.heldout_history[0][0] == 0
    adapter = session.scalar(select(Adapter).where(Adapter.run_id == run.id))
    assert adapter.path == f"adapters/{run.id}" and adapter.size_bytes > 0 and 0 < adapter.trainable_share < 1
    assert adapter.metrics["steps"] == 8 and adapter.snapshot_sha256 == run.snapshot_sha256
    from tests.tiny_model import tiny_model_dir

    peft_model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir()), get_settings().data_dir / adapter.path
    )
    assert peft_model.peft_config["default"].r == 4
    notice = session.scalar(select(Notice).where(Notice.run_id == run.id))
    assert notice.level == "success" and notice.message.startswith(
        "Training “Replies on Tiny test model” finished"
    )
    # The webhook is posted after the run's final state is written: wait for it rather than race it.
    message = wait_for(lambda: webhook_inbox[1] and webhook_inbox[1][0], timeout=30)
    assert message["link"] == f"/runs/{run.id}" and "finished" in message["text"]
    assert session.scalar(select(WorkerCapacity.memory_bytes)) > 0
    assert (
        session.scalar(select(WorkerSpeed.tokens_per_second).where(WorkerSpeed.base_model_id == model.id)) > 0
    )
    # The next run's estimate uses the measured speed and overhead, and lands within 2x of the real time.
    # The machine is shared: a burst of load during one run can skew one pair, so up to three pairs are tried.
    pairs = []
    for _ in range(3):
        check = runs.launch_check(session, workspace_id, dataset.id, model.id, hp=FAST)
        assert check.speed_measured and "first guess" not in check.estimate_text
        following = runs.create_run(session, actor, dataset.id, model.id, hp=FAST)
        assert _until_state(session, following.id, ("succeeded", "failed")).state == "succeeded"
        measured = session.scalar(select(Adapter.metrics).where(Adapter.run_id == following.id))[
            "wall_seconds"
        ]
        pairs.append((round(check.estimate.seconds, 2), measured))
        if measured / 2 <= check.estimate.seconds <= measured * 2:
            break
    else:
        raise AssertionError(f"estimate vs measured seconds, never within 2x: {pairs}")


def test_cancel_a_queued_and_a_running_run(fast_leases, celery_worker, session, workspace_id):
    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id)
    model = register_tiny(session)
    long = runs.create_run(session, actor, dataset.id, model.id, hp={**FAST, "epochs": 100})
    waiting = runs.create_run(session, actor, dataset.id, model.id, hp=FAST)
    assert runs.queue_position(session, waiting) == 2
    assert runs.cancel_run(session, workspace_id, waiting.id, actor).state == "cancelled"
    wait_for(lambda: _fresh(session, long.id).step >= 2, timeout=60)
    assert runs.cancel_run(session, workspace_id, long.id, actor).state == "cancelling"
    stopped = _until_state(session, long.id, ("cancelled", "succeeded", "failed"), timeout=30)
    assert stopped.state == "cancelled" and stopped.step < 400
    assert session.scalar(select(Adapter).where(Adapter.run_id == long.id)) is None
    # The queued run's message reaches the worker afterwards and does nothing.
    time.sleep(2)
    assert _fresh(session, waiting.id).state == "cancelled" and _fresh(session, waiting.id).attempt == 0
    assert session.scalar(select(Notice.message).where(Notice.run_id == long.id)).endswith("was cancelled.")


def test_a_killed_worker_process_resumes_the_run_from_its_checkpoint(
    fast_leases, celery_worker, session, workspace_id
):
    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id)
    model = register_tiny(session)
    hp = {**FAST, "epochs": 6, "checkpoint_every_steps": 4, "eval_every_steps": 8}
    run = runs.create_run(session, actor, dataset.id, model.id, hp=hp)
    running = wait_for(lambda: (r := _fresh(session, run.id)).step >= 6 and r.state == "running" and r, 60)
    child_pid = int(running.lease_owner.split(":")[1])
    assert child_pid != celery_worker.pid
    os.kill(child_pid, signal.SIGKILL)
    # The redelivered message finds a fresh heartbeat and waits for the reaper; the next attempt resumes.
    done = _until_state(session, run.id, ("succeeded", "failed"), timeout=80)
    assert done.state == "succeeded" and done.attempt == 2, done.error
    lines = _log(session, run.id)
    assert any(line.startswith("Resumed from the checkpoint at step") for line in lines), lines
    assert any("will resume" in line for line in lines)
    assert [s for s, _ in done.loss_history] == list(range(1, 25))
