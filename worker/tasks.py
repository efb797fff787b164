"""Celery tasks: thin wrappers that call plain functions and keep state in the database."""

from app.db import session_scope
from app.ingest.pipeline import run_batch
from app.queue import INGEST_BATCH, REAP_RUNS, TRAIN_RUN
from app.settings import get_settings
from worker.celery_app import celery_app
from worker.run_lease import reap_stale_runs
from worker.run_task import execute

_limit = get_settings().run_time_limit_seconds


@celery_app.task(name=INGEST_BATCH)
def ingest_batch(batch_id: int) -> None:
    """Parse every pending file of an upload batch into examples."""
    run_batch(batch_id)


# The soft limit lets the run fail with a message; the hard one (a minute later) kills a stuck process.
@celery_app.task(name=TRAIN_RUN, soft_time_limit=_limit, time_limit=_limit + 60)
def train_run(run_id: int) -> str:
    """Train one run (one per GPU at a time: the gpu queue's worker has concurrency 1)."""
    return execute(run_id)


@celery_app.task(name=REAP_RUNS)
def reap_runs() -> list[int]:
    """Re-queue or fail runs whose worker stopped sending heartbeats."""
    with session_scope() as session:
        return reap_stale_runs(session)
