"""Training JSON API: models, estimate, start (and what blocks it), read with progress and losses, cancel,
roles and workspaces. No worker: run states are set in the database directly."""

from sqlalchemy import select

from app.models import Adapter, Run
from tests.test_runs_pages import make_dataset, make_run, no_queued_runs

__all__ = ["no_queued_runs"]


def test_models_catalog(client):
    models = client.get("/api/models").json()
    bundled = next(m for m in models if m["key"] == "smollm2-135m-instruct")
    assert bundled["context_tokens"] == 8192 and bundled["params"] == 134_515_008
    assert bundled["runs_here"] is None and "No worker has reported" in bundled["reason"]
    assert [m["params"] for m in models] == sorted(m["params"] for m in models)


def test_estimate_and_blocking_problems(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id)
    ok = client.post("/api/runs/estimate", json={"dataset_id": dataset_id, "preset": "quick"}).json()
    assert ok["can_start"] is True and ok["problems"] == []
    assert ok["train_count"] == 3 and ok["heldout_count"] == 1
    assert ok["seconds"] > 0 and ok["adapter_mb"] > 1 and ok["steps"] >= 1
    assert "on this machine" in ok["summary"]
    assert [p["name"] for p in ok["presets"]] == ["quick", "balanced", "thorough"]
    assert ok["hyperparameters"] == next(p for p in ok["presets"] if p["name"] == "quick")["hyperparameters"]
    bad = client.post("/api/runs/estimate", json={"dataset_id": dataset_id, "hyperparameters": {"rank": 0}})
    assert bad.json()["can_start"] is False
    assert "LoRA rank must be a whole number from 1 to 256; it is 0." in bad.json()["problems"][0]
    assert client.post("/api/runs/estimate", json={"dataset_id": 999999}).status_code == 404
    # A mistyped preset is refused, never trained as another one.
    for path in ("/api/runs/estimate", "/api/runs"):
        typo = client.post(path, json={"dataset_id": dataset_id, "preset": "thourough"})
        assert typo.status_code == 422 and typo.json()["detail"][0]["loc"] == ["body", "preset"]


def test_start_read_and_list(client, session, workspace_id, no_queued_runs):
    dataset_id = make_dataset(session, workspace_id)
    created = client.post(
        "/api/runs", json={"dataset_id": dataset_id, "preset": "thorough", "name": "API run"}
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["state"], body["name"], body["preset"], body["queue_position"]) == (
        "queued",
        "API run",
        "thorough",
        1,
    )
    assert body["train_count"] == 3 and len(body["snapshot_sha256"]) == 64 and body["log"]
    row = session.get(Run, body["id"])
    assert row.state == "queued" and row.hyperparameters == body["hyperparameters"]
    listed = client.get("/api/runs").json()
    assert [r["id"] for r in listed] == [body["id"]] and listed[0]["status_text"].startswith("Waiting")


def test_start_is_refused_with_reasons(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id, heldout=False)
    refused = client.post("/api/runs", json={"dataset_id": dataset_id})
    assert refused.status_code == 422
    assert any("has no held-out examples" in p for p in refused.json()["problems"])
    assert session.scalars(select(Run)).all() == []
    assert (
        client.post("/api/runs", json={"dataset_id": dataset_id, "base_model_id": 999999}).status_code == 404
    )


def test_progress_losses_and_adapter(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id)
    run = make_run(
        session, workspace_id, dataset_id, state="running", step=3, total_steps=12, eta_seconds=90.0,
        loss_history=[[1, 2.0], [3, 1.5]], heldout_history=[[0, 2.2]],
    )  # fmt: skip
    detail = client.get(f"/api/runs/{run.id}").json()
    assert (detail["step"], detail["total_steps"], detail["percent"]) == (3, 12, 25)
    assert detail["eta_seconds"] == 90.0 and detail["eta_text"] == "about 2 minutes"
    assert detail["loss_history"] == [[1, 2.0], [3, 1.5]] and detail["heldout_history"] == [[0, 2.2]]
    assert detail["adapter"] is None
    run.state = "succeeded"
    session.add(
        Adapter(workspace_id=workspace_id, run_id=run.id, name="a", path="adapters/x", size_bytes=4_500_000,
                trainable_share=0.01, metrics={"heldout_loss_before": 2.2, "heldout_loss_after": 1.4})
    )  # fmt: skip
    session.commit()
    done = client.get(f"/api/runs/{run.id}").json()
    assert done["adapter"] == {
        "size_mb": 4.5, "trainable_share": 0.01, "heldout_loss_before": 2.2, "heldout_loss_after": 1.4,
        "general_writing": None,
    }  # fmt: skip
    assert done["eta_seconds"] is None


def test_cancel(client, session, workspace_id):
    dataset_id = make_dataset(session, workspace_id)
    queued = make_run(session, workspace_id, dataset_id)
    running = make_run(session, workspace_id, dataset_id, state="running")
    assert client.post(f"/api/runs/{queued.id}/cancel").json()["state"] == "cancelled"
    assert client.post(f"/api/runs/{running.id}/cancel").json()["state"] == "cancelling"


def test_roles_and_workspaces(client_as, session, workspace_id, no_queued_runs):
    dataset_id = make_dataset(session, workspace_id)
    run = make_run(session, workspace_id, dataset_id)
    reviewer = client_as("reviewer")
    assert reviewer.get(f"/api/runs/{run.id}").status_code == 200
    assert reviewer.post("/api/runs/estimate", json={"dataset_id": dataset_id}).status_code == 200
    assert reviewer.post("/api/runs", json={"dataset_id": dataset_id}).status_code == 403
    assert reviewer.post(f"/api/runs/{run.id}/cancel").status_code == 403
    outsider = client_as("admin", "other-team-api")
    assert outsider.get(f"/api/runs/{run.id}").status_code == 404
    assert outsider.get("/api/runs").json() == []
    assert outsider.post("/api/runs", json={"dataset_id": dataset_id}).status_code == 404
    session.expire_all()
    assert session.get(Run, run.id).state == "queued"
