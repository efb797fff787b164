"""The gpu queue's jobs (training runs, comparisons, generations): publishing one, and publishing again the
queued ones whose messages were lost.

The database is the record: a job is committed as queued (with `published_at`) before its task is published,
and a delivery works on it only after winning its lease, so a duplicate message does nothing.
"""

import logging
from datetime import datetime, timedelta

from kombu.exceptions import KombuError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.models import Run, utcnow
from app.queue import COMPARE_ADAPTER, GENERATE, GPU_QUEUE, TRAIN_RUN, enqueue, tasks_in_broker
from app.review_models import Comparison, Generation
from app.settings import get_settings

log = logging.getLogger(__name__)
Job = type[Run] | type[Comparison] | type[Generation]
# Each job table and the task that works on one of its rows.
JOB_TASKS: dict[Job, str] = {Run: TRAIN_RUN, Comparison: COMPARE_ADAPTER, Generation: GENERATE}


def stale_cutoff() -> datetime:
    """Heartbeats (and publishes) older than this are stale: their worker (their message) is gone."""
    return utcnow() - timedelta(seconds=get_settings().run_stale_seconds)


def publish_job(table: Job, row_id: int) -> bool:
    """Publish the task of a committed, queued job; False (logged) when the broker cannot take it now.

    A queued job whose message never reached the broker, or was lost with it, is published again by
    `republish_lost`.
    """
    try:
        enqueue(JOB_TASKS[table], row_id)
    except KombuError as exc:
        what = f"{table.__tablename__} {row_id}"
        log.warning("%s: not published (%s); it is published again once the broker answers", what, exc)
        return False
    return True


def republish_lost(session: Session) -> list[tuple[str, int]]:
    """Publish again the queued jobs whose messages may be gone (committed); returns (table, id) of each.

    Messages are lost when a process died between its commit and its publish, or the broker was flushed or
    restarted without its data. A queued job's task waits in the broker, or was just handed to a worker that
    has not taken the job's lease yet; fewer such tasks than queued jobs (runs, comparisons and generations
    share the gpu queue) means some are gone. Which ones cannot be told, so every queued job published more
    than run_stale_seconds ago is published again, oldest first (a later one's task may still be on its way).
    """
    queued = sum(
        session.scalar(select(func.count()).select_from(table).where(table.state == "queued")) or 0
        for table in JOB_TASKS
    )
    stale = get_settings().run_stale_seconds
    if not queued or tasks_in_broker(GPU_QUEUE, delivered_within=stale) >= queued:
        return []
    cutoff = stale_cutoff()
    lost: list[tuple[datetime, Job, int]] = []
    for table in JOB_TASKS:
        published_long_ago = or_(table.published_at.is_(None), table.published_at < cutoff)
        stmt = select(table.queued_at, table.id).where(table.state == "queued", published_long_ago)
        ids = [(queued_at, table, row_id) for queued_at, row_id in session.execute(stmt)]
        if ids:
            session.execute(
                update(table)
                .execution_options(synchronize_session=False)
                .where(table.id.in_([row_id for _at, _t, row_id in ids]), table.state == "queued")
                .values(published_at=utcnow())
            )
        lost += ids
    session.commit()
    if not lost:
        return []
    lost.sort(key=lambda job: (job[0], job[1].__tablename__, job[2]))
    names = [(table.__tablename__, row_id) for _at, table, row_id in lost]
    log.warning("%s job(s) queued but fewer tasks in the broker: publishing again %s", queued, names)
    return [(table.__tablename__, row_id) for _at, table, row_id in lost if publish_job(table, row_id)]
