"""The training run: LoRA on the base model, answer-only loss, held-out checks, checkpoints, best kept.

`train` is what the worker's Celery task calls; it writes nothing to the database itself but reports
through `on_progress` and stops early when `should_stop` says so.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from app.training.presets import Hyperparameters, steps_per_epoch, total_steps, validate
from worker.training import checkpoints as ckpt
from worker.training.adapter_card import base_model_info, model_card, write_adapter
from worker.training.config import TrainingError, pick_runtime
from worker.training.data import ExampleLike, PreparedData, dropped_message, load_tokenizer, prepare
from worker.training.evaluation import EvalSet, LossCache, plan_checks, weights_identity
from worker.training.lora_fused import fuse_lora
from worker.training.loss import check_fast_paths
from worker.training.model import load_base, trainable_parameters, with_lora
from worker.training.progress import Progress, RunState, TrainResult
from worker.training.session import Session, heldout_check, train_step

# Settings that do not change the trajectory may differ on resume (e.g. a longer checkpoint interval).
RESUME_FREE = {"eval_every_steps", "checkpoint_every_steps"}
# What `should_stop` answers when the worker is shutting down: checkpoint now, the run resumes later.
INTERRUPTED = "interrupted"


def _save_checkpoint(run: Session, folder: Path, fingerprint: str) -> None:
    """Write a checkpoint after the current step, then drop older ones."""
    tensors = ckpt.prefixed("adapter", dict(run.params))
    optimizer_tensors, groups = ckpt.optimizer_tensors(run.optimizer)
    tensors |= ckpt.prefixed("optimizer", optimizer_tensors) | ckpt.prefixed("rng", ckpt.rng_tensors())
    if run.best is not None:
        tensors |= ckpt.prefixed("best", run.best)
    saved = run.state.to_dict()
    saved["wall_seconds_before"] += time.monotonic() - run.session_started
    state = {
        "run": saved,
        "epoch": run.epoch_of(run.state.step),
        "position_in_epoch": run.state.step - (run.epoch_of(run.state.step) - 1) * run.per_epoch,
        "optimizer_groups": groups,
        "hyperparameters": run.hp.to_dict(),
        "data_fingerprint": fingerprint,
    }
    ckpt.save_checkpoint(folder, run.state.step, tensors, state)
    ckpt.prune(folder)


def _resume(run: Session, path: Path, fingerprint: str) -> None:
    """Load the checkpoint at `path` into the run; refuses one made for other data or settings."""
    tensors, saved = ckpt.load_checkpoint(path)
    same_hp = {k: v for k, v in saved["hyperparameters"].items() if k not in RESUME_FREE} == {
        k: v for k, v in run.hp.to_dict().items() if k not in RESUME_FREE
    }
    if saved["data_fingerprint"] != fingerprint or not same_hp:
        raise TrainingError(
            "This run's checkpoint was made with other examples or settings, so it cannot be continued. "
            "Start a new run."
        )
    with torch.no_grad():
        for name, value in ckpt.unprefixed("adapter", tensors).items():
            run.params[name].copy_(value)
    ckpt.restore_optimizer(run.optimizer, ckpt.unprefixed("optimizer", tensors), saved["optimizer_groups"])
    ckpt.restore_rng(ckpt.unprefixed("rng", tensors))
    run.best = ckpt.unprefixed("best", tensors) or None
    run.state = RunState.from_dict(saved["run"])


def _metrics(
    run: Session, prepared: tuple[PreparedData, PreparedData], wall: float, counts: tuple[int, int]
) -> dict:
    """The run's numbers for the database and the model card."""
    train_data, heldout_data = prepared
    state = run.state
    return {
        "heldout_loss_before": state.heldout_before,
        "heldout_loss_after": state.best_loss,
        "best_step": state.best_step,
        "steps": state.step,
        "total_steps": run.total,
        "train_examples": len(train_data.examples),
        "heldout_examples": len(heldout_data.examples),
        "cut_examples": len(train_data.cut),
        "dropped_examples": len(train_data.dropped),
        "tokens_seen": state.tokens_seen,
        "answer_tokens_seen": state.answer_tokens_seen,
        "padding_share": round(state.padding_share, 4),
        "positions_fed": state.positions_fed,
        "packing": run.fast.packing,
        "head_only_loss": run.fast.head_only,
        "segment_attention": run.fast.segment_attention,
        "fused_lora": run.fast.fused_lora,
        "heldout_loss_examples": len(run.heldout.examples),
        "eval_every_steps": run.eval_every,
        "eval_seconds": round(state.eval_seconds, 2),
        "eval_share": round(state.eval_seconds / state.train_seconds, 4) if state.train_seconds else None,
        "train_seconds": round(state.train_seconds, 2),
        "wall_seconds": round(state.wall_seconds_before + wall, 2),
        "tokens_per_second": round(state.tokens_seen / state.train_seconds, 1)
        if state.train_seconds
        else 0.0,
        "trainable_params": counts[0],
        "total_params": counts[1],
        "trainable_share": counts[0] / counts[1],
        "loss_history": state.loss_history,
        "heldout_history": state.heldout_history,
    }


def train(
    model_dir: Path,
    train_examples: Sequence[ExampleLike],
    heldout_examples: Sequence[ExampleLike],
    hp: Hyperparameters,
    out_dir: Path,
    *,
    on_progress: Callable[[Progress], None],
    should_stop: Callable[[], bool | str | None],
    resume_from: Path | None = None,
    dataset_hash: str = "",
    model_name: str | None = None,
    keep_checkpoints: bool = False,
    base_cache: LossCache | None = None,
) -> TrainResult:
    """Train a LoRA adapter on `train_examples` into out_dir/adapter, keeping the best held-out point.

    `resume_from` (a checkpoint, a checkpoints folder or a run folder) continues the latest complete
    checkpoint with the same data order and trajectory; without one there the run starts over.
    A true `should_stop()` ends the run as cancelled, or checkpointed as interrupted when it is INTERRUPTED.
    The base model's held-out losses come from `base_cache` where an earlier run left them, and go into it.
    Raises TrainingError with a user-facing message when the run cannot start.
    """
    started = time.monotonic()
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    errors = validate(hp)
    if errors:
        raise TrainingError(" ".join(errors))
    runtime = pick_runtime()
    tokenizer = load_tokenizer(model_dir, model_name)
    train_data = prepare(tokenizer, train_examples, hp.max_length)
    heldout_data = prepare(tokenizer, heldout_examples, hp.max_length)
    if not train_data.examples:
        raise TrainingError(
            f"None of the {len(train_examples)} training examples can be used: each needs an answer and a "
            f"prompt shorter than the maximum length ({hp.max_length:,} tokens)."
        )
    torch.manual_seed(hp.seed)
    model = with_lora(load_base(model_dir, runtime), hp)
    context = getattr(model.config, "max_position_embeddings", None)
    if context and hp.max_length > context:
        raise TrainingError(
            f"Maximum length {hp.max_length:,} is more than this model reads ({context:,} tokens)."
        )
    params = trainable_parameters(model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    fast = check_fast_paths(model, train_data.examples, runtime, pad_id)
    fast = replace(fast, fused_lora=fuse_lora(model) > 0)
    n_train = len(train_data.examples)
    total, per_epoch = total_steps(n_train, hp), steps_per_epoch(n_train, hp)
    # How many held-out examples the checks read, and how often, follows from the training time.
    plan = plan_checks(
        [len(example.ids) for example in heldout_data.examples], train_data.real_tokens * total // per_epoch,
        total, hp.eval_every_steps or per_epoch,
    )  # fmt: skip
    run = Session(
        hp=hp,
        runtime=runtime,
        model=model,
        params=params,
        optimizer=torch.optim.AdamW(list(params.values()), lr=hp.learning_rate, weight_decay=0.0),
        train_data=train_data,
        heldout=EvalSet.of([heldout_data.examples[i] for i in plan.examples], pad_id, fast),
        eval_every=plan.every,
        pad_id=pad_id,
        fast=fast,
        total=total,
        per_epoch=per_epoch,
        on_progress=on_progress,
        base_cache=base_cache,
        identity=weights_identity(model_dir) if base_cache is not None else "",
    )
    note = dropped_message(train_data, hp.max_length)
    if note:
        run.report(None, None, note)
    folder = out_dir / "checkpoints"
    ckpt.remove_leftovers(folder)
    ckpt.remove_leftovers(out_dir)
    fingerprint = train_data.fingerprint()
    checkpoint = ckpt.latest_checkpoint(resume_from) if resume_from is not None else None
    if checkpoint is not None:
        _resume(run, checkpoint, fingerprint)
        run.report(None, None, f"Resumed from the checkpoint at step {run.state.step} of {run.total}.")
    else:
        heldout_check(run, None)  # the base model's held-out loss: the baseline
    for step in range(run.state.step, run.total):
        stop = should_stop()
        if stop == INTERRUPTED:
            _save_checkpoint(run, folder, fingerprint)
            return _finish(run, INTERRUPTED, None, 0, (train_data, heldout_data), started)
        if stop:
            return _finish(run, "cancelled", None, 0, (train_data, heldout_data), started)
        loss = train_step(run, step)
        done = run.state.step
        run.report(
            loss,
            None,
            f"Step {done} of {run.total} (pass {run.epoch_of(done)} of {hp.epochs}): "
            f"training loss {loss:.3f}.",
        )
        if run.is_due(run.eval_every, done):
            heldout_check(run, loss)
        if run.is_due(hp.checkpoint_every_steps, done):
            _save_checkpoint(run, folder, fingerprint)
    if run.best is not None:
        with torch.no_grad():
            for name, value in run.best.items():
                params[name].copy_(value)
    wall = time.monotonic() - started
    metrics = _metrics(run, (train_data, heldout_data), wall, model.get_nb_trainable_parameters())
    card = model_card(base_model_info(model_dir, model_name), dataset_hash, hp, metrics)
    adapter_dir = out_dir / "adapter"
    size = write_adapter(model, adapter_dir, card)
    if not keep_checkpoints:
        ckpt.remove_all(folder)
    return _finish(run, "succeeded", adapter_dir, size, (train_data, heldout_data), started)


def _finish(
    run: Session,
    state: str,
    adapter_dir: Path | None,
    size: int,
    prepared: tuple[PreparedData, PreparedData],
    started: float,
) -> TrainResult:
    """The TrainResult of a run that ended as `state`."""
    trainable, total = run.model.get_nb_trainable_parameters()
    metrics = _metrics(run, prepared, time.monotonic() - started, (trainable, total))
    train_data = prepared[0]
    return TrainResult(
        state=state,
        adapter_dir=adapter_dir,
        metrics=metrics,
        trainable_params=trainable,
        total_params=total,
        adapter_bytes=size,
        heldout_loss_before=run.state.heldout_before,
        heldout_loss_after=run.state.best_loss,
        cut_examples=len(train_data.cut),
        dropped_examples=len(train_data.dropped),
    )
