"""Comparisons and generations on a real Celery worker process (Redis, SQLite and PostgreSQL), tiny model."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models import Adapter, Run
from app.queue import COMPARE_ADAPTER, GENERATE, enqueue
from app.review_models import Comparison, Generation
from app.services import runs
from app.services.comparisons import create_comparison, publish_comparison
from app.services.generation_requests import request_generation
from app.settings import get_settings
from app.training.presets import Hyperparameters
from tests.adapter_helpers import make_adapter
from tests.conftest import wait_for
from tests.run_helpers import make_actor, make_dataset, register_tiny
from tests.tiny_model import tiny_model_dir
from worker.training import TrainingExample, train

# A high learning rate and no dropout: a few steps are enough for the adapter to change the drafts.
HP = {"batch_size": 2, "grad_accum": 1, "max_length": 128, "rank": 4, "alpha": 8, "epochs": 2}
HP |= {"learning_rate": 1e-2, "dropout": 0.0}
BRIEF = [{"role": "user", "content": "Reply to the client about the late container"}]


@pytest.fixture
def short_drafts(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Comparison drafts of at most 48 tokens, for this process and the worker started after it."""
    monkeypatch.setenv("LASTMILE_COMPARISON_MAX_NEW_TOKENS", "48")
    env["LASTMILE_COMPARISON_MAX_NEW_TOKENS"] = "48"
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def trained_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny-model adapter trained in this process (the generation tests need one, not a run)."""
    examples = [
        TrainingExample("Reply to the client", f"Ticket {i}", "Dear client, thank you.") for i in range(8)
    ]
    result = train(
        tiny_model_dir(), examples, examples[:2], Hyperparameters(**HP), tmp_path_factory.mktemp("adapter"),
        on_progress=lambda _p: None, should_stop=lambda: False,
    )  # fmt: skip
    return result.adapter_dir


def _fresh(session, table, row_id: int):
    """The row as the database holds it now."""
    session.expire_all()
    return session.get(table, row_id)


def _until_done(session, table, row_id: int, timeout: float = 120):
    """Wait until the comparison or generation succeeded or failed; returns it."""
    return wait_for(
        lambda: (r := _fresh(session, table, row_id)).state in ("succeeded", "failed") and r, timeout
    )


def _drafts(comparison: Comparison) -> list[tuple]:
    """Each item's drafts, lengths and stop reasons."""
    return [
        (i.base_output, i.adapted_output, i.base_tokens, i.adapted_tokens, i.base_stop, i.adapted_stop)
        for i in comparison.items
    ]


def test_a_finished_run_is_compared_on_its_heldout_examples(
    short_drafts, celery_worker, session, workspace_id
):
    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id, n_train=8, n_heldout=3)
    model = register_tiny(session)
    run = runs.create_run(session, actor, dataset.id, model.id, hp=HP)
    done = wait_for(lambda: (r := _fresh(session, Run, run.id)).state in ("succeeded", "failed") and r, 120)
    assert done.state == "succeeded", done.error
    adapter = session.scalar(select(Adapter).where(Adapter.run_id == run.id))
    comparison_id = session.scalar(select(Comparison.id).where(Comparison.adapter_id == adapter.id))
    assert comparison_id is not None  # created with the adapter, in the same transaction
    comparison = _until_done(session, Comparison, comparison_id)
    assert comparison.state == "succeeded", comparison.error
    assert (comparison.done, comparison.total, comparison.status_text) == (3, 3, "Finished")
    assert comparison.seconds > 0 and comparison.worker and comparison.settings["max_new_tokens"] == 48
    drafts = _drafts(comparison)
    assert len(drafts) == 3
    for base, adapted, base_tokens, adapted_tokens, base_stop, adapted_stop in drafts:
        assert base and adapted and base != adapted
        assert 0 < base_tokens <= 48 and 0 < adapted_tokens <= 48
        assert {base_stop, adapted_stop} <= {"eos", "length", "repetition"}
    # A duplicate delivery of the finished comparison does nothing: a draft published after it is done once
    # the duplicate has been handled (one gpu worker, first in first out), and the comparison is unchanged.
    enqueue(COMPARE_ADAPTER, comparison_id)
    later = request_generation(session, workspace_id, None, BRIEF, base_model_id=model.id, max_new_tokens=2)
    assert _until_done(session, Generation, later.id).state == "succeeded"
    same = _fresh(session, Comparison, comparison_id)
    assert (same.lease_owner, same.finished_at) == (comparison.lease_owner, comparison.finished_at)
    assert _drafts(same) == drafts
    # A second comparison of the same adapter gives the same drafts (greedy decoding, fixed seed).
    session.delete(same)
    session.commit()
    again = create_comparison(session, session.get(Adapter, adapter.id))
    session.commit()
    publish_comparison(again)
    again = _until_done(session, Comparison, again.id)
    assert again.state == "succeeded" and _drafts(again) == drafts


def test_briefs_and_drafts_are_answered_and_a_duplicate_delivery_does_nothing(
    trained_adapter, celery_worker, session, workspace_id
):
    model = register_tiny(session)
    adapter = make_adapter(session, workspace_id, name="Replies", base_model_id=model.id)
    shutil.copytree(trained_adapter, get_settings().data_dir / adapter.path, dirs_exist_ok=True)
    brief = request_generation(
        session, workspace_id, None, BRIEF, adapter_id=adapter.id, purpose="brief", with_base=True,
        max_new_tokens=24,
    )  # fmt: skip
    plain = request_generation(session, workspace_id, None, BRIEF, base_model_id=model.id, max_new_tokens=24)
    brief, plain = _until_done(session, Generation, brief.id), _until_done(session, Generation, plain.id)
    assert brief.state == "succeeded", brief.error
    assert brief.output and brief.base_output and brief.output != brief.base_output
    assert brief.prompt_tokens > 0 and 0 < brief.completion_tokens <= 24
    assert brief.stop_reason in ("eos", "length", "repetition") and brief.worker
    # The base model alone writes what the brief's base side wrote (the same weights, greedy).
    assert plain.state == "succeeded" and plain.output == brief.base_output and plain.base_output is None
    # A duplicate delivery leaves the finished generation alone; a generation published after it is done
    # once the duplicate has been handled (one gpu worker, first in first out).
    owner, finished_at = brief.lease_owner, brief.finished_at
    enqueue(GENERATE, brief.id)
    later = request_generation(session, workspace_id, None, BRIEF, base_model_id=model.id, max_new_tokens=4)
    assert _until_done(session, Generation, later.id).state == "succeeded"
    again = _fresh(session, Generation, brief.id)
    assert (again.lease_owner, again.finished_at, again.output) == (owner, finished_at, brief.output)


def test_an_adapter_whose_files_are_gone_fails_with_a_plain_message(celery_worker, session, workspace_id):
    model = register_tiny(session)
    adapter = make_adapter(session, workspace_id, name="Gone", base_model_id=model.id)
    shutil.rmtree(get_settings().data_dir / adapter.path)
    generation = request_generation(
        session, workspace_id, None, BRIEF, adapter_id=adapter.id, max_new_tokens=8
    )
    failed = _until_done(session, Generation, generation.id)
    assert failed.state == "failed" and failed.output is None
    assert failed.error.startswith("This adapter's files are missing from the artifact store")
