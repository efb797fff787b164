"""The regression guard in the training task, with the tiny in-process model: a finished run's adapter carries
base vs adapted losses on every everyday instruction and drafts of both for the worst ones; the base model's
losses are computed once and reused; a guard that breaks never fails the run."""

import pytest
from sqlalchemy import select

from app.evaluation.general_set import general_set
from app.evaluation.regression_guard import EXAMPLES_SHOWN
from app.models import Adapter, RunLogLine
from app.services import runs
from app.settings import get_settings
from tests.run_helpers import make_actor, make_dataset, register_tiny

FAST = {"batch_size": 2, "grad_accum": 1, "max_length": 256, "rank": 4, "alpha": 8, "epochs": 2}


def _trained_run(session, workspace_id: int):
    """A run of the tiny model trained in this process through the task's own body; (run, its adapter)."""
    from worker.run_task import execute

    actor = make_actor(session, workspace_id)
    dataset = make_dataset(session, workspace_id)
    run = runs.create_run(session, actor, dataset.id, register_tiny(session).id, hp=FAST)
    assert execute(run.id) == "succeeded"
    session.expire_all()
    return run, session.scalar(select(Adapter).where(Adapter.run_id == run.id))


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the other test runs on SQLite
def test_a_finished_run_is_checked_on_everyday_writing(client, session, workspace_id, monkeypatch):
    import worker.regression_guard as guard_module
    from app.evaluation.regression_guard import judge
    from tests.tiny_model import tiny_model_dir
    from worker.generation.engine import engine_for
    from worker.loss_cache import DatabaseLossCache
    from worker.regression_guard import score_general_writing

    run, adapter = _trained_run(session, workspace_id)
    guard = adapter.metrics["general_writing"]
    assert guard["items"] == len(general_set()) and 0 <= guard["rose"] <= guard["items"]
    assert guard["base_loss"] > 0 and guard["adapted_loss"] > 0 and guard["base_cached"] is False
    # Drafts are written only as the evidence of a warning.
    assert guard["seconds"] >= guard["loss_seconds"] > 0 and (guard["draft_seconds"] > 0) == guard["worse"]
    assert guard["change"] == pytest.approx(
        (guard["adapted_loss"] - guard["base_loss"]) / guard["base_loss"], abs=1e-3
    )
    assert guard["worse"] == (guard["change"] > guard["threshold"])
    examples = guard["examples"]
    assert len(examples) == EXAMPLES_SHOWN
    rises = [e["adapted_loss"] - e["base_loss"] for e in examples]
    assert rises == sorted(rises, reverse=True)
    known = {item.instruction: item.output for item in general_set()}
    assert all(known[e["instruction"]] == e["reference"] for e in examples)
    assert all(("adapted" in e) == guard["worse"] for e in examples)
    lines = list(session.scalars(select(RunLogLine.message).where(RunLogLine.run_id == run.id)))
    assert f"Checking everyday writing on {len(general_set())} general instructions." in lines
    assert any(line.startswith("Everyday writing: loss ") for line in lines)
    assert 'id="general-writing"' in client.get(f"/runs/{run.id}").text
    assert "Everyday writing" in client.get("/adapters").text
    # The guard's copy of the adapter was dropped from the engine the comparison will reuse.
    engine = engine_for(tiny_model_dir())
    assert f"guard-run-{run.id}" not in engine.adapters
    # A second check of the same adapter reads the base model's losses from the database: same numbers.
    folder, cache = get_settings().data_dir / adapter.path, DatabaseLossCache(adapter.base_model_id)
    # Checked under a line every adapter crosses, it warns and shows both models' drafts.
    monkeypatch.setattr(guard_module, "judge", lambda *args: judge(*args, threshold=-1.0))
    again = score_general_writing(tiny_model_dir(), None, folder, "again", cache)
    assert again["base_cached"] is True and again["worse"] and again["draft_seconds"] > 0
    assert (again["base_loss"], again["adapted_loss"]) == (guard["base_loss"], guard["adapted_loss"])
    assert all(
        e["base_stop"] in ("eos", "length", "repetition") and isinstance(e["adapted"], str)
        for e in again["examples"]
    )
    assert "again" not in engine.adapters


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_guard_that_breaks_leaves_the_run_succeeded_without_a_check(session, workspace_id, monkeypatch):
    import worker.regression_guard as guard_module

    def broken(*_args, **_kwargs):
        raise RuntimeError("the general set could not be scored")

    monkeypatch.setattr(guard_module, "score_general_writing", broken)
    run, adapter = _trained_run(session, workspace_id)
    assert run.id and "general_writing" not in adapter.metrics and adapter.metrics["steps"] == 8
