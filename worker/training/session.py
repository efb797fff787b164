"""One session of a training run: its model, optimizer and counters, an optimizer step, a held-out check.

A run may span several sessions when it resumes from a checkpoint; what must survive lives in RunState.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from app.training.presets import Hyperparameters
from worker.training.batching import MicroBatch, micro_batches, step_indices
from worker.training.config import Runtime
from worker.training.data import PreparedData, TokenizedExample
from worker.training.evaluation import EvalSet, LossCache, base_losses
from worker.training.loss import FastPaths, loss_sum
from worker.training.progress import Progress, RunState, eta_seconds

WARMUP_SHARE = 0.05
MIN_LR_SHARE = 0.1  # the cosine decay ends at a tenth of the peak rate, not zero
MAX_GRAD_NORM = 1.0


def lr_factor(step: int, total: int) -> float:
    """Share of the peak learning rate for optimizer step `step` (0-based): linear warmup, cosine decay."""
    warmup = int(total * WARMUP_SHARE)
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(1, total - warmup)
    return MIN_LR_SHARE + (1 - MIN_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class Session:
    """Everything one session of a run works with."""

    hp: Hyperparameters
    runtime: Runtime
    model: Any
    params: dict[str, torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    train_data: PreparedData
    heldout: EvalSet  # the held-out examples the checks use (worker/training/evaluation.py: plan_checks)
    eval_every: int  # steps between held-out checks (the last step is always checked)
    pad_id: int
    fast: FastPaths
    total: int
    per_epoch: int
    on_progress: Callable[[Progress], None]
    base_cache: LossCache | None = None  # where the base model's held-out losses are kept between runs
    identity: str = ""  # the base model's weights (the cache's key)
    state: RunState = field(default_factory=RunState)
    best: dict[str, torch.Tensor] | None = None
    session_steps: int = 0
    session_seconds: float = 0.0
    session_tokens: int = 0
    check_seconds: list[float] = field(default_factory=list)
    session_started: float = field(default_factory=time.monotonic)

    def is_due(self, every: int, step: int) -> bool:
        """Whether a check or checkpoint falls after `step` (every N steps, or each epoch end when N is 0)."""
        return step == self.total or step % (every or self.per_epoch) == 0

    def epoch_of(self, step: int) -> int:
        """The 1-based epoch optimizer step `step` (1-based) belongs to; 0 before training."""
        return 0 if step == 0 else (step - 1) // self.per_epoch + 1

    def report(self, train_loss: float | None, heldout: float | None, message: str) -> None:
        """Send a Progress with the current counters and ETA."""
        step = self.state.step
        checks_left = sum(1 for s in range(step + 1, self.total + 1) if self.is_due(self.eval_every, s))
        eta = None
        if self.session_steps:
            average_check = sum(self.check_seconds) / len(self.check_seconds) if self.check_seconds else 0.0
            checks_left = checks_left if self.heldout.examples else 0
            step_seconds = self.session_seconds / self.session_steps
            eta = eta_seconds(self.total - step, step_seconds, checks_left, average_check)
        speed = self.session_tokens / self.session_seconds if self.session_seconds else 0.0
        self.on_progress(
            Progress(
                step=step,
                total_steps=self.total,
                epoch=self.epoch_of(step),
                train_loss=train_loss,
                tokens_seen=self.state.tokens_seen,
                tokens_per_second=speed,
                heldout_loss=heldout,
                eta_seconds=eta,
                message=message,
            )
        )


def step_batches(
    examples: list[TokenizedExample], rows_per_batch: int, pad_id: int, fast: FastPaths
) -> list[MicroBatch]:
    """The forward passes for `examples` with the speed-ups the model supports.

    With attention per packed example a row's length no longer costs attention work, so each pass is one
    row of up to `rows_per_batch` x the longest example: the same memory bound as `rows_per_batch` rows,
    and no padding where rows of one pass would differ in length.
    """
    if fast.segment_attention and examples:
        longest = max(len(example.ids) for example in examples)
        return micro_batches(examples, 1, pad_id, capacity=rows_per_batch * longest)
    return micro_batches(examples, rows_per_batch, pad_id, pack=fast.packing)


def train_step(run: Session, step: int) -> float:
    """One optimizer step (0-based `step`); returns its mean loss per answer token."""
    started = time.monotonic()
    indices = step_indices(len(run.train_data.examples), run.hp.examples_per_step, run.hp.seed, step)
    examples = [run.train_data.examples[i] for i in indices]
    batches = step_batches(examples, run.hp.batch_size, run.pad_id, run.fast)
    answer_tokens = sum(batch.loss_tokens for batch in batches)
    for group in run.optimizer.param_groups:
        group["lr"] = run.hp.learning_rate * lr_factor(step, run.total)
    run.model.train()
    run.optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for batch in batches:
        with run.runtime.autocast():
            summed = loss_sum(run.model, batch.to(run.runtime.device), run.fast.head_only)
        # Dividing by the step's answer tokens (not the micro-batch's) weights every answer token the
        # same, however the step's examples were split into micro-batches.
        (summed / answer_tokens).backward()
        total += summed.item()
    torch.nn.utils.clip_grad_norm_(list(run.params.values()), MAX_GRAD_NORM)
    run.optimizer.step()
    real = sum(batch.real_tokens for batch in batches)
    elapsed = time.monotonic() - started
    state = run.state
    state.step = step + 1
    state.tokens_seen += real
    state.answer_tokens_seen += answer_tokens
    state.positions_fed += sum(batch.input_ids.numel() for batch in batches)
    state.train_seconds += elapsed
    run.session_steps += 1
    run.session_seconds += elapsed
    run.session_tokens += real
    loss = total / answer_tokens
    state.loss_history.append([state.step, loss])
    return loss


def heldout_check(run: Session, train_loss: float | None) -> None:
    """Measure the held-out loss, keep the adapter if it is the best so far, and report."""
    if not run.heldout.examples:
        return
    started = time.monotonic()
    state = run.state
    if state.step == 0:
        # The fresh LoRA adds nothing yet: this is the base model, whose losses earlier runs may have kept.
        sums, computed = base_losses(
            run.heldout, run.model, run.runtime, run.base_cache, run.identity, run.pad_id, run.fast
        )
    else:
        sums, computed = run.heldout.losses(run.model, run.runtime), len(run.heldout.examples)
    loss = run.heldout.mean(sums)
    assert loss is not None
    elapsed = time.monotonic() - started
    state.eval_seconds += elapsed
    if state.step > 0:
        run.check_seconds.append(elapsed)
    state.heldout_history.append([state.step, loss])
    n = len(run.heldout.examples)
    if state.step == 0:
        state.heldout_before = loss
        known = " (known from an earlier run)" if computed == 0 else ""
        run.report(None, loss, f"Base model on {n} held-out examples: loss {loss:.3f}{known}.")
        return
    # The base model's score is the reference, not a candidate: the kept adapter is a trained one.
    best = state.best_loss is None or loss < state.best_loss
    if best:
        state.best_loss, state.best_step = loss, state.step
        run.best = {name: p.detach().to("cpu", copy=True) for name, p in run.params.items()}
    note = " Best so far: this adapter is kept." if best else ""
    base = f" (base model {state.heldout_before:.3f})" if state.heldout_before is not None else ""
    run.report(train_loss, loss, f"Held-out loss at step {state.step}: {loss:.3f}{base}.{note}")
