"""Training pages: runs list, launch form with estimate and blocking reasons, start, run page polling, cancel,
notices, the models page, roles and escaping. No worker: run states are set in the database directly."""

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Adapter, Notice, Run, RunLogLine
from app.services.datasets import create_dataset
from tests.examples_data import add_examples

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


@pytest.fixture
def no_queued_runs(env: dict[str, str]) -> Iterator[None]:
    """Runs started here publish tasks no worker reads: drop them, so no later worker test gets them."""
    yield
    from app.queue import GPU_QUEUE, get_celery

    with get_celery().connection_for_write() as conn:
        conn.default_channel.queue_purge(GPU_QUEUE)


def make_dataset(
    session: Session, workspace_id: int, name: str = "Client replies", heldout: bool = True
) -> int:
    """A dataset of three training examples and (when `heldout`) one held-out example; its id."""
    specs: list[dict] = [{}, {}, {}] + ([{"split": "heldout"}] if heldout else [])
    ids = add_examples(session, workspace_id, specs)
    return create_dataset(session, workspace_id, name, "", ids).id


def make_run(session: Session, workspace_id: int, dataset_id: int | None, **fields) -> Run:
    """A run row straight in the database, in the state the test needs (committed)."""
    values = {
        "workspace_id": workspace_id,
        "dataset_id": dataset_id,
        "snapshot_sha256": "0" * 64,
        "name": "Replies run",
        "preset": "balanced",
        "hyperparameters": {"rank": 16},
        "state": "queued",
        "loss_history": [],
        "heldout_history": [],
    } | fields
    run = Run(**values)
    session.add(run)
    session.commit()
    return run


def run_id_of(response) -> int:
    """The run id of a redirect to /runs/<id>."""
    return int(re.fullmatch(r"/runs/(\d+)", response.headers["location"]).group(1))


def test_empty_list_teaches(client):
    page = client.get("/runs")
    assert page.status_code == 200
    assert "Pick a dataset and start your first run" in page.text
    assert 'href="/runs/new"' in page.text


def test_launch_page_shows_datasets_models_presets_and_estimate(client, session, workspace_id):
    make_dataset(session, workspace_id)
    page = client.get("/runs/new").text
    assert "Client replies — 4 examples (3 to train on, 1 held out)" in page
    assert "SmolLM2 135M Instruct (bundled)" in page and "8,192 tokens" in page
    for title in ("Quick", "Balanced", "Thorough"):
        assert f'<span class="choice-title">{title}</span>' in page
    assert "The recommended choice:" in page and "over your 3 examples" in page
    assert "About this run: " in page and "on this machine; adapter ~" in page
    assert '<details class="advanced"' in page and 'name="learning_rate"' in page
    assert 'hx-post="/runs/estimate"' in page
    # Nothing blocks: Start is on.
    assert re.search(r'<button type="submit" class="btn btn-primary"\s*>Start training', page)


def test_estimate_partial_follows_the_choices(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id)
    page = client.get("/runs/new").text
    model_id = re.search(r'name="base_model_id" value="(\d+)" checked', page).group(1)
    chosen = {"dataset_id": dataset_id, "base_model_id": model_id, "preset": "quick"}
    quick = client.post("/runs/estimate", data=chosen).text
    thorough = client.post("/runs/estimate", data={"dataset_id": dataset_id, "preset": "thorough"}).text
    assert "About this run:" in quick and quick != thorough
    # The preset descriptions come along out of band for the dataset picked.
    assert 'id="preset-desc-balanced" hx-swap-oob="true"' in quick
    bad = client.post("/runs/estimate", data={"dataset_id": dataset_id, "rank": "many", "epochs": "0"}).text
    assert "LoRA rank must be a whole number; “many” is not." in bad
    assert "Passes over the data (epochs) must be a whole number from 1 to 100" in bad
    assert "disabled" in bad


def test_blocking_reasons_disable_start(client, session, workspace_id):
    make_dataset(session, workspace_id, heldout=False)
    page = client.get("/runs/new").text
    assert "The run cannot start yet:" in page
    assert "has no held-out examples" in page and "Split automatically" in page
    assert re.search(r'<button type="submit" class="btn btn-primary" disabled', page)


def test_start_creates_a_queued_run(client, session, workspace_id, no_queued_runs):
    dataset_id = make_dataset(session, workspace_id)
    response = client.post(
        "/runs",
        data={"dataset_id": dataset_id, "preset": "quick", "name": "First try"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    run = session.get(Run, run_id_of(response))
    assert (run.state, run.name, run.preset, run.dataset_id) == ("queued", "First try", "quick", dataset_id)
    assert run.train_count == 3 and run.heldout_count == 1
    page = client.get(f"/runs/{run.id}").text
    assert "Queued, position 1" in page
    assert f'hx-get="/runs/{run.id}/status" hx-trigger="every 2s"' in page
    assert "Cancel run" in page
    listing = client.get("/runs").text
    assert "Queued, position 1" in listing and 'hx-trigger="every 3s"' in listing


def test_advanced_settings_make_a_custom_run_and_bad_ones_are_refused(
    client, session, workspace_id, no_queued_runs
):
    dataset_id = make_dataset(session, workspace_id)
    refused = client.post("/runs", data={"dataset_id": dataset_id, "rank": "0"}, follow_redirects=False)
    assert refused.status_code == 422
    assert "LoRA rank must be a whole number from 1 to 256; it is 0." in refused.text
    assert session.scalars(select(Run)).all() == []
    started = client.post("/runs", data={"dataset_id": dataset_id, "rank": "8"}, follow_redirects=False)
    run = session.get(Run, run_id_of(started))
    assert run.preset == "custom" and run.hyperparameters["rank"] == 8


def test_run_page_stops_polling_when_finished(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id)
    run = make_run(
        session, workspace_id, dataset_id, state="running", step=5, total_steps=20, eta_seconds=300.0,
        tokens_per_second=1234.0, loss_history=[[1, 2.5], [5, 1.9]], heldout_history=[[0, 2.4], [5, 2.0]],
    )  # fmt: skip
    session.add(RunLogLine(workspace_id=workspace_id, run_id=run.id, message="Step 5 of 20"))
    session.commit()
    status = client.get(f"/runs/{run.id}/status").text
    assert 'hx-trigger="every 2s"' in status
    assert 'value="5"' in status and "5 of 20" in status and "about 5 minutes" in status
    assert "1,234 tokens/s" in status and "Step 5 of 20" in status
    assert "data-train='[[1, 2.5], [5, 1.9]]'" in status and "data-heldout='[[0, 2.4], [5, 2.0]]'" in status
    assert "Learning — held-out loss down 17%" in status
    page = client.get(f"/runs/{run.id}").text
    assert '<script src="/static/js/run_chart.js" defer></script>' in page and 'id="run-chart"' in page
    assert "<script>" not in page

    run.state, run.step = "succeeded", 20
    session.add(
        Adapter(workspace_id=workspace_id, run_id=run.id, name="a", path="adapters/1", size_bytes=19_000_000,
                trainable_share=0.0365, metrics={"heldout_loss_before": 2.4, "heldout_loss_after": 1.8})
    )  # fmt: skip
    session.commit()
    finished = client.get(f"/runs/{run.id}/status").text
    assert "hx-trigger" not in finished and "Cancel run" not in finished
    assert "19.0 MB" in finished and "3.65% of the model’s weights" in finished
    assert "base model 2.400 → adapted 1.800 (25% lower)" in finished
    assert "Succeeded" in client.get("/runs").text


def test_cancel_queued_and_running(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id)
    queued = make_run(session, workspace_id, dataset_id)
    running = make_run(session, workspace_id, dataset_id, state="running", step=1, total_steps=10)
    answer = client.post(f"/runs/{queued.id}/cancel", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "Cancelled" in answer.text and "hx-trigger" not in answer.text
    plain = client.post(f"/runs/{running.id}/cancel", follow_redirects=False)
    assert plain.status_code == 303
    session.expire_all()
    assert session.get(Run, queued.id).state == "cancelled"
    assert session.get(Run, running.id).state == "cancelling"
    # Stopping is still a moving state: the page keeps polling until the worker confirms.
    assert 'hx-trigger="every 2s"' in client.get(f"/runs/{running.id}/status").text


def test_reviewer_sees_but_cannot_start_or_cancel(client_as, session, workspace_id, no_queued_runs):
    dataset_id = make_dataset(session, workspace_id)
    run = make_run(session, workspace_id, dataset_id)
    reviewer = client_as("reviewer")
    page = reviewer.get("/runs/new").text
    assert "About this run:" in page and "Start training" not in page
    assert "an editor or admin starts them" in page
    assert reviewer.get(f"/runs/{run.id}").status_code == 200
    assert "Cancel run" not in reviewer.get(f"/runs/{run.id}").text
    assert reviewer.post("/runs", data={"dataset_id": dataset_id}).status_code == 403
    assert reviewer.post(f"/runs/{run.id}/cancel").status_code == 403
    assert session.scalars(select(Run.id)).all() == [run.id]
    editor = client_as("editor")
    assert editor.post("/runs", data={"dataset_id": dataset_id}, follow_redirects=False).status_code == 303


def test_other_workspace_runs_are_missing(client, session, workspace_id):
    from tests.auth_helpers import workspace_for

    other = workspace_for(session, "other-team-runs")
    session.commit()
    dataset_id = make_dataset(session, other, name="Theirs")
    run = make_run(session, other, dataset_id, name="Their run")
    assert client.get(f"/runs/{run.id}").status_code == 404
    assert client.post(f"/runs/{run.id}/cancel").status_code == 404
    assert "Their run" not in client.get("/runs").text


def test_names_are_escaped(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id, name=f"Data {XSS}")
    run = make_run(session, workspace_id, dataset_id, name=f"Run {XSS}", error=f"Broke {XSS}", state="failed")
    link = f"/runs/{run.id}"
    session.add(
        Notice(workspace_id=workspace_id, level="error", message=f"Failed {XSS}", link=link, run_id=run.id)
    )
    session.commit()
    pages = [
        client.get("/runs").text,
        client.get(f"/runs/{run.id}").text,
        client.get("/runs/new").text,
        client.get("/notices/runs").text,
    ]
    for page in pages:
        assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0] and "Broke &lt;script&gt;" in pages[1]


def test_notices_banner_and_dismiss(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id)
    run = make_run(session, workspace_id, dataset_id, state="succeeded")
    notice = Notice(workspace_id=workspace_id, level="success", message="Training “Replies run” finished.",
                    link=f"/runs/{run.id}", run_id=run.id)  # fmt: skip
    session.add(notice)
    session.commit()
    banner = client.get("/notices/runs").text
    assert "Training “Replies run” finished." in banner and f'href="/runs/{run.id}"' in banner
    assert client.post(f"/notices/{notice.id}/dismiss").status_code == 200
    assert "finished" not in client.get("/notices/runs").text


def test_models_page(client):
    page = client.get("/models").text
    assert "SmolLM2 135M Instruct (bundled)" in page and "Qwen2.5 7B Instruct" in page
    assert "No worker has reported yet" in page and "Not checked yet" in page
