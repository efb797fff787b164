"""The Celery client the web uses to enqueue work by task name, without importing the ML stack."""

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
        options = {"socket_connect_timeout": 5, "socket_timeout": 30}
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


def broker_reachable(timeout: float = 3.0) -> bool:
    """Whether a connection to the broker can be opened now."""
    try:
        with get_celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:
        return False
