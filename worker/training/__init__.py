"""The LoRA training core: plain functions the worker's training task calls (no database, no Celery here)."""

from worker.training.config import TrainingError
from worker.training.data import TrainingExample
from worker.training.loop import train
from worker.training.progress import Progress, TrainResult

__all__ = ["Progress", "TrainResult", "TrainingError", "TrainingExample", "train"]
