"""The worker's Celery app: the web's client configuration plus the task modules."""

from app.queue import get_celery

celery_app = get_celery()
celery_app.conf.update(include=["worker.tasks"])
# Import for the side effect of registering tasks when the worker loads this module.
import worker.tasks  # noqa: E402, F401
