"""The training task's body: lease, heartbeat, progress written to the database, cancel, resume, outcome.

`execute(run_id)` is what the Celery task `lastmile.train_run` calls. torch and the training core are
imported inside it only, after the lease is won, so a delivery that does nothing stays cheap.
"""

import json
import logging
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import session_scope
from app.models import Adapter, BaseModel, Run, RunLogLine, Workspace, utcnow
from app.services import model_catalog as catalog
from app.services.comparisons import create_comparison, publish_comparison
from app.services.notices import add_notice, post_webhook
from app.services.runs import publish_run
from app.settings import get_settings
from app.training.presets import Hyperparameters
from worker.loss_cache import DatabaseLossCache
from worker.regression_guard import check_general_writing
from worker.run_lease import acquire_lease, requeue_interrupted, time_limit_message
from worker.run_progress import INTERRUPTED, Heartbeat, ProgressWriter

log = logging.getLogger(__name__)
HUB_PATTERNS = ["*.safetensors", "*.json", "tokenizer*", "*.jinja", "*.txt", "*.model"]
# What a delivery presumed dead returns: the run went on elsewhere, and its files are the new holder's.
LOST = "lost"


def worker_name() -> str:
    """This host's name: capacity and measured speed are per host."""
    return socket.gethostname()


def detect_capacity() -> tuple[str, str, int]:
    """(device, device name, memory bytes) of this host: the first GPU's memory, else the RAM.

    Asks nvidia-smi rather than torch, so the worker's parent process can report at start-up without
    touching CUDA (only tasks may).
    """
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
        try:
            first = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
            name, mebibytes = first.splitlines()[0].rsplit(",", 1)
            return "cuda", name.strip(), int(float(mebibytes)) * 1024 * 1024
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass  # no usable GPU after all: report the RAM
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return "cpu", "CPU", int(memory)


def report_capacity() -> None:
    """Record what this host can hold, for the launch check's "runs on this machine"."""
    device, device_name, memory = detect_capacity()
    with session_scope() as session:
        catalog.record_capacity(session, worker_name(), device, device_name, memory)


def resolve_model_dir(model: BaseModel) -> Path:
    """The folder holding the model's files; Hub models are downloaded once (safetensors only)."""
    if model.source != "hub":
        return catalog.model_dir(model)
    from huggingface_hub import snapshot_download

    from worker.training import TrainingError

    target = get_settings().models_dir / "hub" / model.location.replace("/", "--")
    try:
        # allow_patterns keeps pickled weights (.bin, .pt) out: only safetensors are ever loaded.
        path = snapshot_download(model.location, local_dir=str(target), allow_patterns=HUB_PATTERNS)
    except Exception as exc:
        raise TrainingError(
            f"{model.name} could not be downloaded from the Hugging Face Hub ({type(exc).__name__}). This "
            "server may not reach the Hub, or the model needs its licence accepted there first. Pick the "
            "bundled model or a local folder, or ask your administrator to download it."
        ) from exc
    return Path(path)


def warm_up() -> None:
    """Import the ML libraries' lazily loaded parts before the run's clock starts.

    The first run in a fresh worker process would otherwise count seconds of imports as the model's own
    overhead, and every later estimate would be too long.
    """
    from peft import LoraConfig, get_peft_model  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401


def load_snapshot(sha256: str) -> tuple[list[Any], list[Any]]:
    """(training, held-out) examples of the frozen snapshot file named by `sha256`."""
    from worker.training import TrainingExample

    path = get_settings().snapshots_dir / f"{sha256}.jsonl"
    train, heldout = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            example = TrainingExample(row["instruction"], row["input"], row["output"])
            (heldout if row["split"] == "heldout" else train).append(example)
    return train, heldout


def _record_shapes(model_id: int, folder: Path) -> None:
    """Store the model's layer shapes once (adapter-size estimates on the web), from its config.json."""
    config = folder / "config.json"
    with session_scope() as session:
        model = session.get(BaseModel, model_id)
        if model is not None and model.layer_shapes is None and config.is_file():
            model.layer_shapes = catalog.shapes_from_config(json.loads(config.read_text()))


def _finish_in(session: Session, run_id: int, owner: str, values: dict[str, Any], line: str) -> Run | None:
    """Move the run to its end state in `session` if this delivery still holds it (not committed)."""
    done = session.execute(
        update(Run)
        .execution_options(synchronize_session=False)
        .where(Run.id == run_id, Run.lease_owner == owner, Run.state.in_(("running", "cancelling")))
        .values(finished_at=utcnow(), eta_seconds=None, **values)
    ).rowcount
    if not done:
        return None
    run = session.get(Run, run_id, populate_existing=True)
    assert run is not None
    session.add(RunLogLine(workspace_id=run.workspace_id, run_id=run_id, message=line))
    return run


def _finish(run_id: int, owner: str, values: dict[str, Any], line: str) -> Run | None:
    """Move the run to its end state if this delivery still holds it (committed); returns it."""
    with session_scope() as session:
        return _finish_in(session, run_id, owner, values, line)


def _announce(run: Run, message: str, level: str) -> None:
    """A notice in the app and, when the workspace has one, a webhook POST (never fails the run)."""
    link = f"/runs/{run.id}"
    with session_scope() as session:
        add_notice(session, run.workspace_id, message, level, link, run.id)
        workspace = session.get(Workspace, run.workspace_id)
        url = workspace.webhook_url if workspace is not None else None
    if url:
        base = get_settings().public_url.rstrip("/")
        post_webhook(url, message, f"{base}{link}" if base else link)


def _record_success(run: Run, result: Any, owner: str, speed: float | None, line: str) -> Run | None:
    """Put the adapter in the artifact store and record the run as succeeded with its Adapter row and the
    measured speed, in one transaction; None when this delivery no longer holds the run."""
    from worker.training.checkpoints import atomic_dir

    settings = get_settings()
    target = settings.adapters_dir / str(run.id)
    metrics = dict(result.metrics)
    with session_scope() as session:
        # The conditional update keeps the run locked until the commit, so one delivery at most gets past
        # it, and the adapter is complete in its place before anyone can read the run as succeeded.
        ended = _finish_in(session, run.id, owner, {"state": "succeeded", "status_text": "Finished"}, line)
        if ended is None:
            return None
        with atomic_dir(target) as tmp:
            os.replace(result.adapter_dir, tmp)  # the empty temp folder is replaced in one rename
        adapter = Adapter(
            workspace_id=run.workspace_id, run_id=run.id, base_model_id=run.base_model_id,
            snapshot_id=run.snapshot_id, snapshot_sha256=run.snapshot_sha256, name=run.name,
            path=str(target.relative_to(settings.data_dir)), size_bytes=result.adapter_bytes,
            trainable_share=result.trainable_params / max(result.total_params, 1), metrics=metrics,
        )  # fmt: skip
        session.add(adapter)
        session.flush()
        # In the same transaction: an adapter never exists without its comparison of base and adapted drafts.
        comparison = create_comparison(session, adapter)
        train_seconds = metrics.get("train_seconds") or 0.0
        speed = speed or (metrics["tokens_seen"] / train_seconds if train_seconds > 0 else None)
        if run.base_model_id is not None and speed:
            # wall time = a fixed overhead + tokens / speed: the overhead is what the tokens do not explain.
            overhead = max(0.0, (metrics.get("wall_seconds") or 0.0) - metrics["tokens_seen"] / speed)
            catalog.record_speed(session, worker_name(), run.base_model_id, speed, overhead)
    try:
        publish_comparison(comparison)  # after the commit: the worker must find the comparison queued
    except Exception:  # the run did succeed; a broker hiccup must not turn it into a failure
        log.exception("run %s: the comparison of its adapter could not be queued", run.id)
    return ended


def execute(run_id: int) -> str:
    """Train run `run_id` if this delivery wins its lease; returns what happened (for logs and tests)."""
    owner = f"{worker_name()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    with session_scope() as session:
        run = acquire_lease(session, run_id, owner, worker_name())
        if run is None:
            log.info("run %s: not taken by this delivery (finished, cancelled or held elsewhere)", run_id)
            return "skipped"
        model = session.get(BaseModel, run.base_model_id) if run.base_model_id else None
    beat = Heartbeat(run_id, owner)
    beat.start()
    try:
        return _train(run, model, owner)
    finally:
        beat.stopped.set()


def _train(run: Run, model: BaseModel | None, owner: str) -> str:
    """The training part of `execute`, with every outcome written to the database."""
    from worker.generation.engine import release_engine
    from worker.training import TrainingError, train

    work_dir = get_settings().runs_dir / str(run.id)
    writer = ProgressWriter(run, owner)
    try:
        report_capacity()
        if model is None:
            raise TrainingError("The base model of this run was removed from the catalog. Start a new run.")
        train_examples, heldout_examples = load_snapshot(run.snapshot_sha256)
        warm_up()
        release_engine()  # a model kept for drafts would take memory the training needs
        folder = resolve_model_dir(model)
        _record_shapes(model.id, folder)
        writer.seed_from_checkpoint(work_dir)
        # Checkpoints are kept until the run is recorded as succeeded: a kill before that resumes from them.
        result = train(
            folder, train_examples, heldout_examples,
            Hyperparameters.from_dict(run.hyperparameters), work_dir,
            on_progress=writer, should_stop=writer.should_stop, resume_from=work_dir,
            dataset_hash=run.snapshot_sha256, model_name=model.name, keep_checkpoints=True,
            base_cache=DatabaseLossCache(model.id),
        )  # fmt: skip
        # The run's own histories are complete (the reports after a resume start at the checkpoint).
        writer.loss, writer.heldout = result.metrics["loss_history"], result.metrics["heldout_history"]
        writer.flush()
        check_general_writing(run.id, folder, model, result, writer)  # the regression guard
    except FileNotFoundError as exc:
        return _fail(run, owner, f"A file this run needs is missing ({exc.filename}). Start a new run.")
    except TrainingError as exc:
        writer.flush()
        return _fail(run, owner, str(exc))
    except Exception as exc:
        log.exception("run %s failed", run.id)
        timed_out = _time_limit_hit(exc)
        try:
            writer.flush()
        except Exception:  # the error may have broken a database connection; the outcome matters more
            log.warning("run %s: the last progress could not be written", run.id)
        outcome = _fail(run, owner, time_limit_message() if timed_out else _plain_error(exc))
        if timed_out:
            # Raised wherever the process was, mid-import or mid-query: what it left half-done would break
            # later tasks here, so this pool process ends once the failure is written (Celery starts another).
            log.warning("run %s reached the time limit: this pool process is replaced", run.id)
            raise SystemExit(1) from exc
        return outcome
    if result.state == INTERRUPTED and _requeue(run, owner, result.metrics["steps"]):
        return INTERRUPTED
    if result.state != "succeeded":
        return _stopped(run, owner, work_dir)
    before, after = result.heldout_loss_before, result.heldout_loss_after
    summary = f"held-out loss {before:.3f} → {after:.3f}" if before and after else "no held-out loss"
    try:
        ended = _record_success(run, result, owner, writer.steady_speed(), f"Finished: {summary}.")
    except OSError as exc:
        log.exception("run %s: the adapter could not be stored", run.id)
        return _fail(run, owner, f"The trained adapter could not be stored ({exc}). Free space in the data "
                     "folder, then start the run again.")  # fmt: skip
    if ended is None:
        return LOST
    shutil.rmtree(work_dir, ignore_errors=True)  # its checkpoints only served to resume
    _announce(ended, f"Training “{ended.name}” finished: {summary}.", "success")
    return "succeeded"


def _requeue(run: Run, owner: str, step: int) -> bool:
    """Back to the queue after a worker shutdown (committed) and published again; False when not held."""
    with session_scope() as session:
        if not requeue_interrupted(session, run.id, owner, step):
            return False
    publish_run(run.id)
    return True


def _stopped(run: Run, owner: str, work_dir: Path) -> str:
    """End a run that stopped early: cancelled if this delivery holds it, else left to its new holder."""
    ended = _finish(run.id, owner, {"state": "cancelled", "status_text": "Cancelled"}, "Cancelled.")
    if ended is None:
        # Presumed dead, this delivery lost the run to another attempt, which owns the work folder now.
        return LOST
    shutil.rmtree(work_dir, ignore_errors=True)
    _announce(ended, f"Training “{ended.name}” was cancelled.", "info")
    return "cancelled"


def _time_limit_hit(exc: BaseException | None) -> bool:
    """Whether the soft time limit raised `exc`, or an error raised as it unwound (a query it cut short)."""
    while exc is not None:
        if isinstance(exc, SoftTimeLimitExceeded):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _plain_error(exc: Exception) -> str:
    """A message for business users about an unexpected error."""
    if "out of memory" in str(exc).lower():
        return (
            "The worker ran out of memory. Pick a smaller model, a smaller batch size or a shorter maximum "
            "length, and start the run again."
        )
    return f"Training stopped with an unexpected error ({type(exc).__name__}: {exc}). Start the run again."


def _fail(run: Run, owner: str, message: str) -> str:
    """End the run as failed with `message` (committed) and announce it."""
    values = {"state": "failed", "error": message, "status_text": f"Failed — {message}"}
    ended = _finish(run.id, owner, values, f"Failed: {message}")
    if ended is None:
        return LOST
    _announce(ended, f"Training “{ended.name}” failed: {message}", "error")
    return "failed"
