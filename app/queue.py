"""The Celery client the web uses to enqueue work by task name, without importing the ML stack."""

import time
from functools import lru_cache
from typing import Any

from celery import Celery

from app.settings import Settings, get_settings

# Task names are the contract between web and worker; the web never imports worker code.
INGEST_BATCH = "lastmile.ingest_batch"
INGEST_QUEUE = "ingest"
GPU_QUEUE = "gpu"
TRAIN_RUN = "lastmile.train_run"
REAP_RUNS = "lastmile.reap_runs"
# Both run on the gpu queue behind training: the worker that trains is the one that holds the model.
COMPARE_ADAPTER = "lastmile.compare_adapter"
GENERATE = "lastmile.generate"


def make_celery(settings: Settings) -> Celery:
    """A Celery app for `settings`: late acks and prefetch 1, so long tasks are not hoarded."""
    broker = settings.effective_broker_url
    celery = Celery("lastmile", broker=broker)
    options: dict[str, Any] = {}
    if broker.startswith("sqla+sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # kombu hands these to create_engine: web and worker share the file, so wait on its lock.
        options = {"connect_args": {"timeout": 30}}
    elif broker.startswith("redis"):
        timeout = settings.broker_visibility_timeout
        options = {
            "socket_connect_timeout": 5,
            "socket_timeout": 30,
            "visibility_timeout": timeout,
            # kombu looks for such tasks about every 100 s; a tenth of the timeout keeps a short one honest.
            "unacked_restore_interval": max(1, min(10, timeout // 10)),
            "unacked_restore_throttle": 1,
        }
        if settings.broker_key_prefix:
            options["global_keyprefix"] = settings.broker_key_prefix
    celery.conf.update(
        broker_transport_options=options,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=INGEST_QUEUE,
        task_routes={
            INGEST_BATCH: {"queue": INGEST_QUEUE},
            TRAIN_RUN: {"queue": GPU_QUEUE},
            REAP_RUNS: {"queue": INGEST_QUEUE},
            COMPARE_ADAPTER: {"queue": GPU_QUEUE},
            GENERATE: {"queue": GPU_QUEUE},
        },
        worker_hijack_root_logger=False,
    )
    return celery


@lru_cache
def get_celery() -> Celery:
    """The process-wide Celery client."""
    return make_celery(get_settings())


def enqueue(task_name: str, *args: Any) -> None:
    """Publish a task by name; its state lives in the database, not in Celery."""
    get_celery().send_task(task_name, args=args)


def tasks_in_broker(queue: str, delivered_within: float) -> int:
    """Tasks the broker holds for `queue`: those waiting there and, on Redis, those handed to a worker in the
    last `delivered_within` seconds and not yet acknowledged (of any queue: Redis keeps one index of them)."""
    with get_celery().connection_for_read() as conn:
        channel = conn.default_channel
        count = channel.queue_declare(queue=queue).message_count
        if hasattr(channel, "unacked_index_key"):  # scored by the time each task was handed out
            since = time.time() - delivered_within
            count += len(channel.client.zrange(channel.unacked_index_key, since, "+inf", byscore=True))
        return count


def broker_reachable(timeout: float = 3.0) -> bool:
    """Whether a connection to the broker can be opened now."""
    try:
        with get_celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:
        return False
