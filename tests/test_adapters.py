"""The adapter library: listed per base model with lineage and results, rename, delete (files too), the zip
download, and "train again on another base model" (same snapshot, new run); roles and workspaces.
No worker: runs and adapters are written to the database directly."""

import io
import zipfile

from sqlalchemy import select

from app.models import Adapter, AuditEvent, Run
from app.review_models import Comparison, ComparisonItem, Generation, Judgement
from app.settings import get_settings
from tests.adapter_helpers import make_adapter, make_generation
from tests.run_helpers import register_tiny
from tests.test_runs_pages import no_queued_runs

__all__ = ["no_queued_runs"]


def _folder(adapter: Adapter):
    return get_settings().data_dir / adapter.path


def test_library_lists_adapters_per_base_model_with_lineage_and_results(client, session, workspace_id):
    tiny = register_tiny(session, workspace_id)
    first = make_adapter(session, workspace_id, "Replies on SmolLM2")
    second = make_adapter(session, workspace_id, "Reports on tiny", base_model_id=tiny.id)
    page = client.get("/adapters")
    assert page.status_code == 200
    text = page.text
    # Shelves per base model, each with its adapters.
    assert text.index("SmolLM2 135M Instruct") < text.index("Replies on SmolLM2")
    assert text.index("Tiny test model") < text.index("Reports on tiny")
    assert "Examples of Replies on SmolLM2" in text and first.snapshot_sha256[:12] in text
    assert "8 training, 2 held-out examples" in text
    assert "4.5 MB" in text and "1.23% of the model’s weights" in text
    assert "base model 2.400 → adapted 1.200 (50% lower)" in text
    assert f'href="/adapters/{first.id}/download"' in text and f"/drafts?adapter_id={second.id}" in text

    listed = client.get("/api/adapters").json()
    assert [a["id"] for a in listed] == [second.id, first.id]  # newest first
    body = client.get(f"/api/adapters/{first.id}").json()
    assert body["model"] == f"adapter-{first.id}" and body["dataset_name"] == "Examples of Replies on SmolLM2"
    assert (body["train_count"], body["heldout_count"], body["size_mb"]) == (8, 2, 4.5)
    assert body["heldout_loss_before"] == 2.4 and body["heldout_loss_after"] == 1.2
    assert body["perplexity_before"] == 11.02 and body["perplexity_after"] == 3.32
    assert body["snapshot_sha256"] == first.snapshot_sha256 and body["trainable_share"] == 0.0123
    assert (body["win_rate"], body["judgements"], body["win_rate_text"]) == (None, 0, "No judgements yet.")


def test_blind_votes_show_as_the_win_rate_in_the_library(client, session, workspace_id):
    from tests.auth_helpers import make_user

    adapter = make_adapter(session, workspace_id)
    comparison = Comparison(workspace_id=workspace_id, adapter_id=adapter.id, state="succeeded", total=1)
    session.add(comparison)
    session.flush()
    item = ComparisonItem(workspace_id=workspace_id, comparison_id=comparison.id, reference="Dear Anna")
    session.add(item)
    session.flush()
    for choice in ("adapted", "adapted", "same", "base"):
        voter = make_user(session, "reviewer", workspace_id)
        session.add(Judgement(workspace_id=workspace_id, item_id=item.id, user_id=voter.id, choice=choice))
    session.commit()
    body = client.get(f"/api/adapters/{adapter.id}").json()
    assert (body["win_rate"], body["judgements"]) == (0.625, 4)
    assert 0 < body["win_rate_low"] < 0.625 < body["win_rate_high"] < 1
    assert "Adapted preferred in 62" in body["win_rate_text"] and "of 4 judgements" in body["win_rate_text"]
    page = client.get("/adapters").text
    assert body["win_rate_text"] in page and f'href="/compare/{comparison.id}"' in page


def test_empty_library_says_what_to_do(client):
    text = client.get("/adapters").text
    assert "No adapters yet" in text and 'href="/runs/new"' in text


def test_rename_by_page_and_api_and_refusals(client, session, workspace_id):
    adapter = make_adapter(session, workspace_id)
    moved = client.post(
        f"/adapters/{adapter.id}/rename", data={"name": "  Spring   replies "}, follow_redirects=False
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/adapters"
    session.refresh(adapter)
    assert adapter.name == "Spring replies"
    refused = client.post(f"/adapters/{adapter.id}/rename", data={"name": "   "})
    assert refused.status_code == 422 and "Give the adapter a name" in refused.text
    htmx = client.post(f"/adapters/{adapter.id}/rename", data={"name": ""}, headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "Give the adapter a name" in htmx.text and 'id="library"' in htmx.text
    api = client.patch(f"/api/adapters/{adapter.id}", json={"name": "Via the API"})
    assert api.status_code == 200 and api.json()["name"] == "Via the API"
    too_long = client.patch(f"/api/adapters/{adapter.id}", json={"name": "x" * 201})
    assert too_long.status_code == 422 and "under 200 characters" in too_long.text


def test_delete_removes_the_row_its_comparison_and_its_files(client, session, workspace_id):
    keep = make_adapter(session, workspace_id, "Keep me")
    gone = make_adapter(session, workspace_id, "Delete me")
    session.add(Comparison(workspace_id=workspace_id, adapter_id=gone.id))
    session.commit()
    draft = make_generation(session, workspace_id, gone, state="succeeded", output="Dear Anna")
    folder, kept_folder = _folder(gone), _folder(keep)
    gone_id, keep_id = gone.id, keep.id
    assert folder.is_dir()
    response = client.post(f"/adapters/{gone_id}/delete", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Keep me" in response.text and "Delete me" not in response.text
    session.expire_all()
    assert session.get(Adapter, gone_id) is None and not folder.exists()
    assert session.scalars(select(Comparison).where(Comparison.adapter_id == gone_id)).all() == []
    # The draft stays readable: it only forgets which adapter wrote it.
    assert session.get(Generation, draft.id).adapter_id is None
    assert session.get(Adapter, keep_id) is not None and kept_folder.is_dir()
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "delete_adapter")).one()
    assert event.target == "Delete me" and event.detail["adapter"] == gone_id
    assert client.delete(f"/api/adapters/{keep_id}").status_code == 204
    assert not kept_folder.exists() and client.get(f"/api/adapters/{keep_id}").status_code == 404


def test_download_is_a_zip_of_weights_config_and_card_with_a_safe_name(client, session, workspace_id):
    weights = bytes(range(256)) * 12_000  # ~3 MB: several chunks of the stream
    adapter = make_adapter(session, workspace_id, 'Replies "2026" ../../etc/passwd', weights=weights)
    response = client.get(f"/adapters/{adapter.id}/download")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert f'filename="adapter-{adapter.id}-replies-2026-etc-passwd.zip"' in disposition
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    stem = f"adapter-{adapter.id}-replies-2026-etc-passwd"
    assert sorted(archive.namelist()) == sorted(
        f"{stem}/{n}" for n in ("adapter_model.safetensors", "adapter_config.json", "README.md")
    )
    assert archive.read(f"{stem}/adapter_model.safetensors") == weights
    assert archive.read(f"{stem}/adapter_config.json") == b'{"r": 8}'
    api = client.get(f"/api/adapters/{adapter.id}/download")
    assert (
        api.status_code == 200 and zipfile.ZipFile(io.BytesIO(api.content)).namelist() == archive.namelist()
    )
    downloads = session.scalars(select(AuditEvent).where(AuditEvent.action == "download_adapter")).all()
    assert len(downloads) == 2
    # Files gone from the store: a plain 404 saying so, not a broken zip.
    (_folder(adapter) / "adapter_config.json").unlink()
    missing = client.get(f"/api/adapters/{adapter.id}/download")
    assert missing.status_code == 404 and "missing: adapter_config.json" in missing.json()["detail"]


def test_train_again_queues_a_run_on_the_same_snapshot_with_the_other_model(
    client, session, workspace_id, no_queued_runs
):
    tiny = register_tiny(session, workspace_id)
    adapter = make_adapter(session, workspace_id, "Replies on SmolLM2", preset="thorough")
    first = session.get(Run, adapter.run_id)
    # The dataset moves on after the snapshot: training again must not pick that up.
    from app.services.datasets import add_examples as add_to_dataset
    from app.services.datasets import get_dataset
    from tests.examples_data import add_examples

    extra = add_examples(session, workspace_id, [{"instruction": "A later example"}])
    add_to_dataset(session, workspace_id, get_dataset(session, workspace_id, first.dataset_id), extra)
    session.commit()

    created = client.post(f"/api/adapters/{adapter.id}/train-again", json={"base_model_id": tiny.id})
    assert created.status_code == 201, created.text
    body = created.json()
    run = session.get(Run, body["id"])
    assert (run.state, run.base_model_id, run.snapshot_sha256) == ("queued", tiny.id, adapter.snapshot_sha256)
    assert (run.snapshot_id, run.dataset_id, run.preset) == (
        adapter.snapshot_id,
        first.dataset_id,
        "thorough",
    )
    assert (run.train_count, run.heldout_count) == (8, 2)
    assert run.name == "Examples of Replies on SmolLM2 on Tiny test model"
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "train")).one()
    assert event.detail["from_adapter"] == adapter.id

    page = client.post(
        f"/adapters/{adapter.id}/train-again", data={"base_model_id": tiny.id, "preset": "quick"},
        follow_redirects=False,
    )  # fmt: skip
    assert page.status_code == 303
    second = session.get(Run, int(page.headers["location"].rsplit("/", 1)[1]))
    assert second.preset == "quick" and second.snapshot_sha256 == adapter.snapshot_sha256


def test_train_again_is_refused_with_reasons(client, session, workspace_id):
    tiny = register_tiny(session, workspace_id)
    adapter = make_adapter(session, workspace_id)
    bad_preset = client.post(
        f"/api/adapters/{adapter.id}/train-again", json={"base_model_id": tiny.id, "preset": "fastest"}
    )
    assert bad_preset.status_code == 422 and "Pick a preset" in bad_preset.json()["problems"][0]
    unknown = client.post(f"/api/adapters/{adapter.id}/train-again", json={"base_model_id": 999999})
    assert unknown.status_code == 404 and "Base model 999999 does not exist" in unknown.text
    (get_settings().snapshots_dir / f"{adapter.snapshot_sha256}.jsonl").unlink()
    refused = client.post(f"/api/adapters/{adapter.id}/train-again", json={"base_model_id": tiny.id})
    assert refused.status_code == 422
    assert "are no longer on this server" in refused.json()["problems"][0]
    page = client.post(
        f"/adapters/{adapter.id}/train-again", data={"base_model_id": tiny.id}, headers={"HX-Request": "true"}
    )
    assert page.status_code == 200 and "It cannot be trained again yet" in page.text
    assert session.scalars(select(Run).where(Run.state == "queued")).all() == []


def test_roles_and_other_workspaces(client_as, session):
    reviewer = client_as("reviewer", "team-a")
    editor = client_as("editor", "team-a")
    outsider = client_as("admin", "team-b")
    adapter = make_adapter(session, reviewer.workspace_id)
    assert reviewer.get("/adapters").status_code == 200
    assert reviewer.get(f"/adapters/{adapter.id}/download").status_code == 200
    assert reviewer.patch(f"/api/adapters/{adapter.id}", json={"name": "No"}).status_code == 403
    assert (
        reviewer.post(f"/api/adapters/{adapter.id}/train-again", json={"base_model_id": 1}).status_code == 403
    )
    assert editor.delete(f"/api/adapters/{adapter.id}").status_code == 403
    assert editor.post(f"/adapters/{adapter.id}/delete").status_code == 403
    # Reviewers see no rename, retrain or delete controls they could not use.
    page = reviewer.get("/adapters").text
    assert "Rename" not in page and "Train again" not in page and "Delete" not in page
    for path in (
        f"/api/adapters/{adapter.id}",
        f"/api/adapters/{adapter.id}/download",
        f"/adapters/{adapter.id}/download",
    ):
        assert outsider.get(path).status_code == 404
    assert outsider.delete(f"/api/adapters/{adapter.id}").status_code == 404
    assert outsider.get("/api/adapters").json() == [] and "No adapters yet" in outsider.get("/adapters").text
    assert _folder(adapter).is_dir() and session.get(Adapter, adapter.id) is not None
