"""Training runs without a worker: launch check, start, queue, cancel, lease, heartbeat and the reaper."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from app.models import Run, RunLogLine, utcnow
from app.services import model_catalog as catalog
from app.services import runs
from tests.run_helpers import make_actor, make_dataset, register_tiny


def test_launch_check_gives_presets_and_an_estimate_from_the_default_speed(session, workspace_id):
    dataset = make_dataset(session, workspace_id, n_train=12, n_heldout=3)
    model = register_tiny(session)
    check = runs.launch_check(session, workspace_id, dataset.id, model.id, preset="quick")
    assert check.can_start, check.problems
    assert (check.train_count, check.heldout_count) == (12, 3)
    assert set(check.presets) == {"quick", "balanced", "thorough"}
    assert "12 examples" in check.preset_text["balanced"]
    assert check.hyperparameters == check.presets["quick"]
    assert not check.speed_measured and "first guess" in check.estimate_text
    assert check.estimate is not None and check.estimate.seconds > 0
    assert check.warnings == ["No worker has reported yet; the run waits until one starts."]


def test_launch_check_blocks_with_plain_reasons(session, workspace_id):
    model = register_tiny(session)
    no_heldout = make_dataset(session, workspace_id, n_train=5, n_heldout=0, name="No held-out")
    check = runs.launch_check(session, workspace_id, no_heldout.id, model.id)
    assert not check.can_start
    assert any("no held-out examples" in p and "“No held-out”" in p for p in check.problems)
    empty = make_dataset(session, workspace_id, n_train=0, n_heldout=0, name="Empty")
    assert (
        "has no included examples" in runs.launch_check(session, workspace_id, empty.id, model.id).problems[0]
    )
    good = make_dataset(session, workspace_id, name="Good")
    bad_hp = runs.launch_check(session, workspace_id, good.id, model.id, hp={"rank": 0})
    assert any(p.startswith("LoRA rank must be") for p in bad_hp.problems)


def test_a_model_too_large_for_the_worker_blocks_start(session, workspace_id):
    dataset = make_dataset(session, workspace_id)
    catalog.record_capacity(session, "small-host", "cuda", "Tiny GPU", 4 * catalog.GIB)
    session.commit()
    big = session.scalar(select(catalog.BaseModel).where(catalog.BaseModel.key == "qwen2.5-7b-instruct"))
    assert big is None  # the catalog is created on first use
    models = {m.key: m for m in catalog.list_models(session, workspace_id)}
    check = runs.launch_check(session, workspace_id, dataset.id, models["qwen2.5-7b-instruct"].id)
    assert any(
        "Qwen2.5 7B Instruct needs about" in p and "GB of GPU memory; the worker has 4.0 GB" in p
        for p in check.problems
    )
    small = runs.launch_check(session, workspace_id, dataset.id, models["smollm2-135m-instruct"].id)
    assert small.can_start and small.warnings == []
    with pytest.raises(runs.RunBlocked) as blocked:
        runs.create_run(
            session, make_actor(session, workspace_id), dataset.id, models["qwen2.5-7b-instruct"].id
        )
    assert "GPU memory" in str(blocked.value)
    assert session.scalar(select(Run.id)) is None
    # Any worker that can hold the model will do: a host with 64 GB of RAM can (slowly).
    catalog.record_capacity(session, "cpu-host", "cpu", "CPU", 64 * catalog.GIB)
    session.commit()
    fit, host = catalog.worker_for(session, models["qwen2.5-7b-instruct"])
    assert (fit, host.worker) == (True, "cpu-host")


def test_local_folders_need_safetensors(session, workspace_id, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(catalog.InvalidModelFolder) as bad:
        catalog.register_local_model(session, workspace_id, "Pickled", str(tmp_path))
    assert "no .safetensors weights" in bad.value.errors["folder"]
    model = register_tiny(session, workspace_id)
    assert model.source == "local" and model.context_tokens == 512 and model.size_bytes > 0
    assert model.id in [m.id for m in catalog.list_models(session, workspace_id)]
    with pytest.raises(catalog.ModelNotFound):
        catalog.get_model(session, workspace_id + 1000, model.id)


def test_create_run_freezes_a_snapshot_and_queues_first_in_first_out(session, workspace_id):
    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id)
    model = register_tiny(session)
    first = runs.create_run(session, actor, dataset.id, model.id, preset="quick")
    second = runs.create_run(session, actor, dataset.id, model.id, hp={"epochs": 2})
    assert first.state == "queued" and first.snapshot_sha256 and first.snapshot_id is not None
    assert (first.train_count, first.heldout_count) == (8, 2)
    assert first.preset == "quick" and second.preset == "custom" and second.hyperparameters["epochs"] == 2
    assert runs.queue_position(session, first) == 1 and runs.queue_position(session, second) == 2
    assert [r.id for r in runs.list_runs(session, workspace_id)] == [second.id, first.id]
    assert "Queued" in runs.run_log(session, first)[0].message
    cancelled = runs.cancel_run(session, workspace_id, first.id, actor)
    assert cancelled.state == "cancelled" and cancelled.finished_at is not None
    assert runs.queue_position(session, second) == 1
    with pytest.raises(runs.RunNotFound):
        runs.get_run(session, workspace_id + 1000, second.id)


def _queued_run(session, workspace_id) -> Run:
    """A queued run on the tiny model."""
    return runs.create_run(
        session,
        make_actor(session, workspace_id),
        make_dataset(session, workspace_id).id,
        register_tiny(session).id,
    )


def test_only_one_delivery_wins_the_lease(session, workspace_id):
    from worker.run_lease import acquire_lease, heartbeat

    run = _queued_run(session, workspace_id)
    won = acquire_lease(session, run.id, "owner-a", "host")
    assert won is not None and won.state == "running" and won.attempt == 1
    # A second delivery while the heartbeat is fresh does nothing.
    assert acquire_lease(session, run.id, "owner-b", "host") is None
    session.refresh(run)
    assert (run.lease_owner, run.attempt) == ("owner-a", 1)
    assert heartbeat(session, run.id, "owner-a") == "running"
    assert heartbeat(session, run.id, "owner-b") is None
    # Cancelling a running run asks it to stop; the heartbeat reports it.
    runs.cancel_run(session, workspace_id, run.id)
    assert heartbeat(session, run.id, "owner-a") == "cancelling"


def test_a_duplicate_delivery_does_no_steps(session, workspace_id):
    from worker.run_lease import acquire_lease
    from worker.run_task import execute

    run = _queued_run(session, workspace_id)
    acquire_lease(session, run.id, "someone-else", "other-host")
    assert execute(run.id) == "skipped"
    session.refresh(run)
    assert (run.state, run.step, run.attempt, run.lease_owner) == ("running", 0, 1, "someone-else")


def test_the_reaper_requeues_a_stale_run_and_fails_it_past_the_budget(session, workspace_id, monkeypatch):
    from worker.run_lease import acquire_lease, reap_stale_runs

    monkeypatch.setenv("LASTMILE_RUN_MAX_ATTEMPTS", "2")
    from app.settings import get_settings

    get_settings.cache_clear()
    run = _queued_run(session, workspace_id)
    old = utcnow() - timedelta(hours=1)
    for attempt in (1, 2):
        assert acquire_lease(session, run.id, f"owner-{attempt}", "host") is not None
        assert reap_stale_runs(session) == []  # fresh heartbeat: left alone
        session.execute(update(Run).where(Run.id == run.id).values(heartbeat_at=old))
        session.commit()
        if attempt == 1:
            assert reap_stale_runs(session) == [run.id]
            session.refresh(run)
            assert run.state == "queued" and run.lease_owner is None and run.attempt == 1
            assert runs.run_status_text(run) == "Waiting for a worker (interrupted, will resume)"
    assert reap_stale_runs(session) == []
    session.refresh(run)
    assert run.state == "failed" and "stopped unexpectedly 2 times" in run.error
    lines = session.scalars(select(RunLogLine.message).where(RunLogLine.run_id == run.id)).all()
    assert any("will resume" in line for line in lines) and lines[-1] == "Failed after 2 attempts."


def test_progress_is_written_throttled_and_histories_survive_a_resume(session, workspace_id, monkeypatch):
    import worker.run_progress
    from worker.run_lease import acquire_lease
    from worker.run_progress import ProgressWriter

    # Reports between held-out checks wait for the next write; a long interval makes "not yet written"
    # independent of how fast this machine writes (a busy one took over a second for the first write).
    monkeypatch.setattr(worker.run_progress, "PROGRESS_WRITE_SECONDS", 3600)

    run = acquire_lease(session, _queued_run(session, workspace_id).id, "me", "host")
    writer = ProgressWriter(run, "me")

    def report(step, loss=None, heldout=None, message="Step"):
        """Send one Progress-like report."""
        writer(
            SimpleNamespace(step=step, total_steps=10, train_loss=loss, heldout_loss=heldout,
                            tokens_seen=step * 50, tokens_per_second=100.0, eta_seconds=5.0, message=message)
        )  # fmt: skip

    report(0, heldout=2.0, message="Base model")  # held-out checks are written at once
    report(1, loss=1.9)
    report(2, loss=1.8)  # within the write interval: kept in memory only
    session.refresh(run)
    assert run.heldout_history == [[0, 2.0]] and run.loss_history == []
    report(3, loss=1.5, heldout=1.2, message="Held-out loss at step 3")
    session.refresh(run)
    assert run.loss_history == [[1, 1.9], [2, 1.8], [3, 1.5]] and run.step == 3
    assert runs.run_status_text(run) == "Learning — held-out loss down 40%" == run.status_text
    # A resumed delivery repeats step 3 onwards: the replayed steps replace the old entries.
    resumed = ProgressWriter(run, "me")
    resumed(SimpleNamespace(step=3, total_steps=10, train_loss=1.4, heldout_loss=None, tokens_seen=150,
                            tokens_per_second=90.0, eta_seconds=4.0, message="Step 3"))  # fmt: skip
    resumed.flush()
    session.refresh(run)
    assert run.loss_history == [[1, 1.9], [2, 1.8], [3, 1.4]]
    messages = session.scalars(select(RunLogLine.message).where(RunLogLine.run_id == run.id)).all()
    assert "Base model" in messages and "Step" not in messages
    # A writer that lost its lease writes nothing.
    session.execute(update(Run).where(Run.id == run.id).values(lease_owner="other"))
    session.commit()
    resumed(SimpleNamespace(step=4, total_steps=10, train_loss=1.0, heldout_loss=0.5, tokens_seen=200,
                            tokens_per_second=90.0, eta_seconds=3.0, message="Held-out"))  # fmt: skip
    session.refresh(run)
    assert run.step == 3 and resumed.should_stop()


def test_notices_and_webhook_failures_never_raise(session, workspace_id, monkeypatch):
    from app.models import Workspace
    from app.services import notices
    from app.settings import get_settings

    # A closed port on this machine: loopback allowed as a webhook range, as for a chat server in-house.
    monkeypatch.setenv("LASTMILE_OUTBOUND_ALLOW_NETWORKS", "127.0.0.0/8")
    get_settings.cache_clear()
    workspace = session.get(Workspace, workspace_id)
    with pytest.raises(ValueError, match="must start with https://"):
        notices.set_webhook(session, workspace, "ftp://example.com")
    notices.set_webhook(session, workspace, "http://127.0.0.1:9/hook")
    assert workspace.webhook_url == "http://127.0.0.1:9/hook"
    assert notices.post_webhook(workspace.webhook_url, "Training finished", "/runs/1") is False
    notice = notices.add_notice(session, workspace_id, "Training “A” finished", "success", "/runs/1")
    session.commit()
    assert [n.id for n in notices.unread_notices(session, workspace_id)] == [notice.id]
    assert notices.dismiss_notice(session, workspace_id, notice.id) is True
    assert notices.unread_notices(session, workspace_id) == []


def test_a_hub_model_this_host_cannot_download_fails_the_run_with_a_plain_message(
    session, workspace_id, monkeypatch
):
    from app.models import Notice
    from worker.run_task import execute

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network in tests: the download fails at once
    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id)
    hub = {m.key: m for m in catalog.list_models(session, workspace_id)}["smollm2-360m-instruct"]
    run = runs.create_run(session, actor, dataset.id, hub.id, preset="quick")
    assert execute(run.id) == "failed"
    session.expire_all()
    failed = runs.get_run(session, workspace_id, run.id)
    assert failed.state == "failed" and failed.attempt == 1 and failed.lease_owner is not None
    assert "could not be downloaded from the Hugging Face Hub" in failed.error
    assert runs.run_status_text(failed).startswith("Failed — SmolLM2 360M Instruct could not be downloaded")
    notice = session.scalar(select(Notice).where(Notice.run_id == run.id))
    assert notice.level == "error" and notice.link == f"/runs/{run.id}"
    assert execute(run.id) == "skipped"  # a failed run is never picked up again
