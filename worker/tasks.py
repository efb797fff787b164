"""Celery tasks: thin wrappers that call plain functions and keep state in the database."""

from app.ingest.pipeline import run_batch
from app.queue import INGEST_BATCH
from worker.celery_app import celery_app


@celery_app.task(name=INGEST_BATCH)
def ingest_batch(batch_id: int) -> None:
    """Parse every pending file of an upload batch into examples."""
    run_batch(batch_id)
