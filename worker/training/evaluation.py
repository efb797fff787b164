"""Held-out loss, cheaply: examples packed like training, the base model's losses looked up, checks budgeted.

For anything that scores a set of examples with a model (the held-out checks here, the regression guard's
general set):
- `EvalSet.of(examples, pad_id, fast)` lays tokenised examples out in packed rows once (no padding between
  them, no example attending to another, logits only where an answer token is predicted);
  `eval_set.losses(model, runtime)` gives each example's summed answer loss, `eval_set.mean(sums)` the loss
  per answer token.
- `base_losses(eval_set, model, runtime, cache, identity)`: the same numbers for the base model, read from a
  `LossCache` where known and stored where computed. The run task passes the database's cache
  (worker/loss_cache.py: table base_losses); a key is `loss_key(identity, example)`, where the identity is
  `weights_identity(model_dir)`, so every later run on the same examples and model reads them instead.
- `plan_checks(...)`: on how many held-out examples, and how often, the loss is checked during a run, so
  that the checks cost at most EVAL_SHARE of the training time.

Note for the regression guard (worker/regression_guard.py): its general set is scored the same way, e.g.
`EvalSet.of(prepare(engine.tokenizer, items, n).examples, engine.pad_id)`, then inside the engine's
`model.disable_adapter()` `base_losses(eval_set, engine.model, engine.runtime, DatabaseLossCache(model_id),
weights_identity(model_dir), engine.pad_id)` for the base model and, with the adapter set,
`eval_set.losses(engine.model, engine.runtime)` for the adapted one (per-example sums: divide by each
example's answer_tokens for its mean). Drop a guard adapter with `engine.drop_adapter(name)`.
"""

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from worker.training.batching import IGNORE, MicroBatch, epoch_order, micro_batches
from worker.training.config import Runtime
from worker.training.data import TokenizedExample
from worker.training.loss import FastPaths, target_losses

# Held-out checks may take this share of the training time. The rest of the 10 % that all evaluation may
# take is left to the regression guard after training (worker/regression_guard.py).
EVAL_SHARE = 0.06
# A token read without gradients costs this share of a token trained on: the backward pass costs about twice
# the forward. `python -m bench.eval_cost` measured 0.10-0.19 on the 2-core CPU (the optimizer and the LoRA
# backward make training dearer still): a third keeps the plan on the safe side on any device.
FORWARD_COST = 0.33
# Fewer checks than this cannot pick a best point worth the name; fewer examples give a noisy loss.
MIN_CHECKS = 4
MIN_EXAMPLES = 16
# Tokens per forward pass: without gradients nothing is kept for a backward pass, so passes can be longer
# than training's (worker/training/session.py: step_batches).
PASS_TOKENS = 8192


class LossCache(Protocol):
    """Where the base model's per-example losses are kept between runs: key -> (loss sum, answer tokens)."""

    def get(self, keys: Sequence[str]) -> dict[str, tuple[float, int]]:
        """The known losses among `keys`."""
        ...

    def put(self, values: dict[str, tuple[float, int]]) -> None:
        """Keep these losses (a key already there keeps its value)."""
        ...


@dataclass
class EvalSet:
    """Tokenised examples laid out once in packed forward passes, for scoring with any model."""

    examples: list[TokenizedExample]
    batches: list[MicroBatch]
    head_only: bool = True

    @classmethod
    def of(
        cls, examples: Sequence[TokenizedExample], pad_id: int, fast: FastPaths = FastPaths()
    ) -> "EvalSet":
        """The examples packed as the model allows (`fast`, as checked for training)."""
        examples = list(examples)
        if not examples:
            return cls([], [], fast.head_only)
        longest = max(len(example.ids) for example in examples)
        if fast.segment_attention:
            # Attention runs per example, so one long row costs no more than several short ones.
            batches = micro_batches(examples, 1, pad_id, capacity=max(PASS_TOKENS, longest))
        else:
            batches = micro_batches(examples, max(1, PASS_TOKENS // longest), pad_id, pack=fast.packing)
        return cls(examples, batches, fast.head_only)

    @property
    def answer_tokens(self) -> int:
        """Tokens that carry a loss, in all examples."""
        return sum(example.answer_tokens for example in self.examples)

    @torch.no_grad()
    def losses(self, model: Any, runtime: Runtime) -> list[float]:
        """Each example's summed loss over its answer tokens (in the examples' order), dropout off."""
        sums = torch.zeros(len(self.examples), dtype=torch.float64)
        was_training = model.training
        model.eval()
        try:
            for batch in self.batches:
                with runtime.autocast():
                    losses = target_losses(model, batch.to(runtime.device), self.head_only)
                assert batch.owners is not None
                owners = batch.owners[batch.targets != IGNORE]
                sums.index_add_(0, owners, losses.detach().double().cpu())
        finally:
            model.train(was_training)
        return sums.tolist()

    def mean(self, sums: Sequence[float]) -> float | None:
        """Loss per answer token over the set, from its examples' sums (None for an empty set)."""
        tokens = self.answer_tokens
        return sum(sums) / tokens if tokens else None

    def subset(self, indices: Sequence[int], pad_id: int, fast: FastPaths) -> "EvalSet":
        """A new set of some of these examples."""
        return EvalSet.of([self.examples[i] for i in indices], pad_id, fast)


def weights_identity(model_dir: Path) -> str:
    """What tells a model's weights apart from another's: its config and its weight files' names and sizes."""
    model_dir = Path(model_dir)
    config = model_dir / "config.json"
    parts = [hashlib.sha256(config.read_bytes()).hexdigest() if config.is_file() else ""]
    parts += sorted(f"{path.name}:{path.stat().st_size}" for path in model_dir.glob("*.safetensors"))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def loss_key(identity: str, example: TokenizedExample) -> str:
    """The cache key of one example's base loss: the model's identity and the example's exact tokens."""
    payload = json.dumps([identity, example.answer_start, example.ids])
    return hashlib.sha256(payload.encode()).hexdigest()


def base_losses(
    eval_set: EvalSet,
    model: Any,
    runtime: Runtime,
    cache: LossCache | None,
    identity: str,
    pad_id: int,
    fast: FastPaths = FastPaths(),
) -> tuple[list[float], int]:
    """Each example's summed loss under the base model (`model` must be it, or act as it: a fresh LoRA, an
    adapter switched off), and how many had to be computed: the others come from `cache`, and the computed
    ones go into it."""
    if cache is None:
        return eval_set.losses(model, runtime), len(eval_set.examples)
    keys = [loss_key(identity, example) for example in eval_set.examples]
    known = cache.get(keys)
    missing = [i for i, key in enumerate(keys) if key not in known]
    if missing:
        computed = eval_set.subset(missing, pad_id, fast).losses(model, runtime)
        tokens = [eval_set.examples[i].answer_tokens for i in missing]
        fresh = {keys[i]: pair for i, pair in zip(missing, zip(computed, tokens, strict=True), strict=True)}
        cache.put(fresh)
        known = {**known, **fresh}
    return [known[key][0] for key in keys], len(missing)


@dataclass(frozen=True)
class CheckPlan:
    """Which held-out examples the checks use (indices, in order) and every how many steps they run."""

    examples: tuple[int, ...]
    every: int


def checks_for(total_steps: int, every: int) -> int:
    """How many checks a run of `total_steps` makes when one falls every `every` steps and at the end."""
    return math.ceil(total_steps / every) if total_steps else 0


def plan_checks(
    heldout_tokens: Sequence[int], train_tokens: int, total_steps: int, every_asked: int
) -> CheckPlan:
    """The held-out checks of a run: as asked (every `every_asked` steps, all examples) when they fit in
    EVAL_SHARE of the training time, else fewer checks (not under MIN_CHECKS), then fewer examples (a fixed
    shuffle, so that runs with other settings pick the same ones and read their base losses back; not under
    MIN_EXAMPLES), then fewer checks again. The base model's check counts in, cached or not.

    Costs are counted in tokens: a check reads its examples' tokens forward only (FORWARD_COST of a training
    token each); the run trains on `train_tokens`. Checks never come more often than asked.
    """
    everything = tuple(range(len(heldout_tokens)))
    if not heldout_tokens or total_steps <= 0:
        return CheckPlan(everything, max(1, every_asked))
    budget = EVAL_SHARE * train_tokens / FORWARD_COST  # tokens all checks may read, the base model's included
    asked = checks_for(total_steps, every_asked)
    total = sum(heldout_tokens)
    if (asked + 1) * total <= budget:
        return CheckPlan(everything, every_asked)
    checks = min(asked, int(budget // total) - 1)
    if checks >= MIN_CHECKS:
        return CheckPlan(everything, max(every_asked, math.ceil(total_steps / checks)))
    checks = min(asked, MIN_CHECKS)
    chosen: list[int] = []
    spent = 0
    for index in epoch_order(len(heldout_tokens), 0, 0):
        if len(chosen) >= MIN_EXAMPLES and (spent + heldout_tokens[index]) * (checks + 1) > budget:
            break
        chosen.append(index)
        spent += heldout_tokens[index]
    checks = max(1, min(checks, int(budget // spent) - 1))
    return CheckPlan(tuple(sorted(chosen)), max(every_asked, math.ceil(total_steps / checks)))
