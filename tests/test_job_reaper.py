"""Comparisons and generations are looked after like runs: a lease with a heartbeat, a reaper that re-queues
those whose worker died (or fails them after too many attempts), and lost messages published again. Real
Redis, SQLite and PostgreSQL, the tiny model; deliveries run in this process, one test on a real worker."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.models import utcnow
from app.queue import GPU_QUEUE, tasks_in_broker
from app.review_models import Comparison, ComparisonItem, Generation
from app.services import job_queue, runs
from app.services.generation_requests import request_generation
from app.settings import get_settings
from tests.adapter_helpers import tiny_adapter
from tests.chaos_helpers import FAST, FAST_LEASES, Worker, epoch
from tests.conftest import flush_broker, wait_for
from tests.run_helpers import make_actor, make_dataset, register_tiny
from worker.generation_task import (
    ComparisonWriter,
    LeaseLost,
    _beating,
    execute_comparison,
    execute_generation,
)
from worker.job_lease import gave_up_message, heartbeat, reap_stale_jobs, take

pytestmark = pytest.mark.timeout(90, func_only=True)
BRIEF = [{"role": "user", "content": "Reply to the client about the late container"}]
ELSEWHERE = "elsewhere:4242:a1b2c3d4"  # a live delivery on another host


@pytest.fixture
def fast_leases(env, monkeypatch):
    """Short heartbeat, stale and reap intervals for this process and the workers started after it."""
    for key, value in FAST_LEASES.items():
        monkeypatch.setenv(key, value)
    env.update(FAST_LEASES)
    get_settings.cache_clear()
    return env


def _fresh(session, table, row_id: int):
    """The row as the database holds it now."""
    session.expire_all()
    return session.get(table, row_id)


def _comparison(session, workspace_id: int, **fields) -> Comparison:
    """A queued comparison of a real tiny adapter with two held-out examples, 4-token drafts (committed)."""
    adapter = tiny_adapter(session, workspace_id, register_tiny(session).id)
    comparison = Comparison(
        workspace_id=workspace_id, adapter_id=adapter.id, total=2, settings={"max_new_tokens": 4, "seed": 0},
        published_at=utcnow(), **fields,
    )  # fmt: skip
    session.add(comparison)
    session.flush()
    for position in range(2):
        session.add(
            ComparisonItem(
                workspace_id=workspace_id, comparison_id=comparison.id, position=position,
                instruction=f"Reply to the client ({position})", reference="Dear client, thank you.",
            )
        )  # fmt: skip
    session.commit()
    return comparison


def _generation(session, workspace_id: int) -> Generation:
    """A queued 4-token draft of the tiny base model (committed and published)."""
    model = register_tiny(session)
    return request_generation(session, workspace_id, None, BRIEF, base_model_id=model.id, max_new_tokens=4)


def _age(session, table, row_id: int, **columns: bool) -> None:
    """Move the named time columns (heartbeat_at, published_at) a minute into the past."""
    past = utcnow() - timedelta(seconds=60)
    session.execute(update(table).where(table.id == row_id).values(dict.fromkeys(columns, past)))
    session.commit()


def test_a_live_comparison_is_left_alone_and_a_silent_one_goes_on_elsewhere(
    fast_leases, session, workspace_id
):
    comparison = _comparison(session, workspace_id)
    # The first delivery's drafts of the first example, written before its worker went silent.
    first = comparison.items[0].id
    kept = {
        "base_output": "Kept base",
        "adapted_output": "Kept adapted",
        "base_tokens": 2,
        "adapted_tokens": 2,
    }
    session.execute(update(ComparisonItem).where(ComparisonItem.id == first).values(kept))
    session.commit()
    assert take(session, Comparison, comparison.id, ELSEWHERE, "elsewhere")
    # A duplicate delivery while the holder's heartbeat is fresh does nothing, and the reaper waits.
    assert execute_comparison(comparison.id) == "skipped"
    assert reap_stale_jobs(session) == []
    # A holder that works longer than run_stale_seconds keeps its lease fresh while it works.
    _age(session, Comparison, comparison.id, heartbeat_at=True)
    with _beating(Comparison, comparison.id, ELSEWHERE):
        wait_for(lambda: epoch(_fresh(session, Comparison, comparison.id).heartbeat_at) > time.time() - 2, 5)
        assert reap_stale_jobs(session) == [] and execute_comparison(comparison.id) == "skipped"
    held = _fresh(session, Comparison, comparison.id)
    assert (held.state, held.lease_owner, held.attempt, held.done) == ("running", ELSEWHERE, 1, 0)
    # The holder goes silent: the reaper asks its worker to stop it, re-queues and publishes it once.
    _age(session, Comparison, comparison.id, heartbeat_at=True)
    stopped: list[str] = []
    assert reap_stale_jobs(session, stopped.append) == [("comparisons", comparison.id)]
    assert stopped == [ELSEWHERE] and reap_stale_jobs(session) == []
    back = _fresh(session, Comparison, comparison.id)
    assert (back.state, back.lease_owner, back.attempt) == ("queued", None, 1)
    assert back.status_text == "Waiting for a worker (interrupted, will go on)"
    assert tasks_in_broker(GPU_QUEUE, delivered_within=60) == 1
    # Another delivery finishes it, keeping the drafts written before; the silent one can write no more.
    assert execute_comparison(comparison.id) == "succeeded"
    done = _fresh(session, Comparison, comparison.id)
    assert (done.state, done.attempt, done.done, done.status_text) == ("succeeded", 2, 2, "Finished")
    assert (done.items[0].base_output, done.items[0].adapted_output) == ("Kept base", "Kept adapted")
    assert done.items[1].base_output and done.items[1].adapted_output
    assert heartbeat(Comparison, session, comparison.id, ELSEWHERE) is None
    with pytest.raises(LeaseLost):
        ComparisonWriter(comparison.id, ELSEWHERE, [], set(), 2)({})
    assert execute_comparison(comparison.id) == "skipped"  # a late duplicate of the finished one


def test_a_silent_generation_is_re_queued_and_answered_by_another_delivery(
    fast_leases, session, workspace_id
):
    generation = _generation(session, workspace_id)
    assert take(session, Generation, generation.id, ELSEWHERE, "elsewhere")
    assert execute_generation(generation.id) == "skipped"  # the original delivery, arriving second
    assert _fresh(session, Generation, generation.id).lease_owner == ELSEWHERE
    _age(session, Generation, generation.id, heartbeat_at=True)
    assert reap_stale_jobs(session) == [("generations", generation.id)]
    assert execute_generation(generation.id) == "succeeded"
    done = _fresh(session, Generation, generation.id)
    assert (done.state, done.attempt) == ("succeeded", 2) and done.output and done.completion_tokens > 0


def test_a_draft_whose_adapter_was_deleted_fails_by_name_instead_of_answering_with_the_base(
    env, session, workspace_id
):
    adapter = tiny_adapter(session, workspace_id, register_tiny(session).id)
    generation = request_generation(
        session, workspace_id, None, BRIEF, adapter_id=adapter.id, max_new_tokens=4
    )
    name = adapter.name
    session.delete(adapter)  # deleted while the draft waited in line: the row's adapter_id is emptied
    session.commit()
    assert execute_generation(generation.id) == "failed"
    done = _fresh(session, Generation, generation.id)
    assert done.adapter_id is None and done.output is None
    assert (
        done.error == f"The adapter “{name}” was deleted before this draft was written. Pick another adapter."
    )


def test_jobs_that_keep_killing_their_worker_fail_with_a_plain_message(fast_leases, session, workspace_id):
    limit = get_settings().run_max_attempts
    comparison = _comparison(session, workspace_id, state="running", attempt=limit, lease_owner=ELSEWHERE)
    _age(session, Comparison, comparison.id, heartbeat_at=True)
    generation = _generation(session, workspace_id)
    session.execute(update(Generation).where(Generation.id == generation.id).values(attempt=limit))
    session.commit()
    flush_broker()
    # The reaper fails the comparison instead of re-queuing it; a delivery of the generation fails it too.
    assert reap_stale_jobs(session) == []
    assert not take(session, Generation, generation.id, "here:1:a", "here")
    failed = _fresh(session, Comparison, comparison.id)
    assert (failed.state, failed.lease_owner) == ("failed", None)
    assert failed.error == failed.status_text == gave_up_message(Comparison, limit)
    assert failed.error.startswith(f"The worker stopped unexpectedly {limit} times while writing the drafts")
    assert _fresh(session, Generation, generation.id).error == gave_up_message(Generation, limit)
    assert tasks_in_broker(GPU_QUEUE, delivered_within=60) == 0 and reap_stale_jobs(session) == []


def test_one_count_decides_for_runs_comparisons_and_generations(fast_leases, session, workspace_id):
    actor, model = make_actor(session, workspace_id), register_tiny(session)
    run = runs.create_run(session, actor, make_dataset(session, workspace_id).id, model.id, hp=FAST)
    comparison = _comparison(session, workspace_id)  # committed, never published: a crash came between
    generation = _generation(session, workspace_id)
    assert tasks_in_broker(GPU_QUEUE, delivered_within=60) == 2
    assert job_queue.republish_lost(session) == []  # published less than run_stale_seconds ago
    for table, row_id in ((type(run), run.id), (Comparison, comparison.id), (Generation, generation.id)):
        _age(session, table, row_id, published_at=True)
    # Two tasks for three queued jobs: which one is lost cannot be told, so all three go again, oldest first.
    expected = [("runs", run.id), ("comparisons", comparison.id), ("generations", generation.id)]
    assert job_queue.republish_lost(session) == expected
    assert tasks_in_broker(GPU_QUEUE, delivered_within=60) == 5
    assert job_queue.republish_lost(session) == []  # enough tasks now: nothing loops


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_worker_publishes_lost_jobs_again_and_takes_over_dead_ones(
    fast_leases, session, workspace_id, tmp_path
):
    lost = _comparison(session, workspace_id)
    generation = _generation(session, workspace_id)
    # Held by a delivery whose worker died a minute ago (its message acknowledged or gone).
    dead = _comparison(session, workspace_id, state="running", attempt=1, lease_owner=ELSEWHERE)
    _age(session, Comparison, dead.id, heartbeat_at=True)
    flush_broker()  # a Redis restart without its data
    _age(session, Comparison, lost.id, published_at=True)
    _age(session, Generation, generation.id, published_at=True)
    jobs = ((Comparison, lost.id), (Generation, generation.id), (Comparison, dead.id))
    worker = Worker(fast_leases, tmp_path / "worker.log").start()
    try:
        wait_for(lambda: all(_fresh(session, t, i).state in ("succeeded", "failed") for t, i in jobs), 60)
    finally:
        worker.stop()
    states = [(row.state, row.attempt, row.error) for row in (_fresh(session, t, i) for t, i in jobs)]
    assert states == [("succeeded", 1, None), ("succeeded", 1, None), ("succeeded", 2, None)]
    assert _fresh(session, Comparison, dead.id).done == 2
