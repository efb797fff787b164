"""Celery tasks: thin wrappers that call plain functions and keep state in the database."""

from app.db import session_scope
from app.ingest.pipeline import take_turn
from app.queue import COMPARE_ADAPTER, GENERATE, INGEST_BATCH, REAP_RUNS, TRAIN_RUN
from app.settings import get_settings
from worker.celery_app import celery_app
from worker.generation_task import (
    COMPARISON_TIME_LIMIT,
    GENERATION_TIME_LIMIT,
    execute_comparison,
    execute_generation,
)
from worker.run_lease import look_after_runs
from worker.run_task import execute

_limit, _grace = get_settings().run_time_limit_seconds, get_settings().run_kill_grace_seconds


@celery_app.task(name=INGEST_BATCH)
def ingest_batch(batch_id: int) -> None:
    """One turn of an upload batch; a batch with work left goes back in the queue behind the others."""
    take_turn(batch_id)


# The soft limit lets the run fail with a message; the hard one kills a stuck process and its request
# (TrainRequest) fails the run.
@celery_app.task(
    name=TRAIN_RUN,
    soft_time_limit=_limit,
    time_limit=_limit + _grace,
    Request="worker.celery_app:TrainRequest",
)
def train_run(run_id: int) -> str:
    """Train one run (one per GPU at a time: the gpu queue's worker has concurrency 1)."""
    return execute(run_id)


@celery_app.task(name=REAP_RUNS)
def reap_runs() -> list[tuple[str, int]]:
    """Re-queue or fail gpu jobs whose worker stopped sending heartbeats; publish again lost queued ones."""
    with session_scope() as session:
        return look_after_runs(session)


# Soft limits let the comparison or draft fail with a message; the hard ones stop a stuck process.
@celery_app.task(
    name=COMPARE_ADAPTER, soft_time_limit=COMPARISON_TIME_LIMIT, time_limit=COMPARISON_TIME_LIMIT + _grace
)
def compare_adapter(comparison_id: int) -> str:
    """Write base and adapted drafts for every held-out example of an adapter's run."""
    return execute_comparison(comparison_id)


@celery_app.task(
    name=GENERATE, soft_time_limit=GENERATION_TIME_LIMIT, time_limit=GENERATION_TIME_LIMIT + _grace
)
def generate(generation_id: int) -> str:
    """Answer one brief, draft or API completion (and with the base model too when asked)."""
    return execute_generation(generation_id)
