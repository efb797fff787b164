"""Training hyperparameters and the quick / balanced / thorough presets derived from a dataset.

Pure functions the web uses to fill the training form (no torch here). The defaults follow the LoRA
literature for 100-1,000 instruction examples: LoRA on all linear layers, rank 16, alpha 32, learning
rate 2e-4, an effective batch of 8-16 examples and about 100-300 optimizer steps.
"""

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

PRESET_NAMES = ("quick", "balanced", "thorough")
# Rows of up to this many tokens go through the model at once: about 9 GB of activations for a 135M model
# on a CPU, and a comfortable micro-batch on any GPU. Longer examples mean fewer rows per pass.
MICRO_BATCH_TOKENS = 2048
MIN_MAX_LENGTH = 256
# Power-of-two-ish sizes for max_length: 2^k and 1.5 x 2^k, so the cap lands near the real lengths.
LENGTH_BUCKETS = tuple(sorted({size for k in range(8, 18) for size in (2**k, 3 * 2 ** (k - 1))}))
# (target optimizer steps, largest number of passes over the data, effective batch for small / large sets)
_PLANS = {
    "quick": (40, 3, 8, 16),
    "balanced": (150, 8, 8, 16),
    "thorough": (250, 12, 8, 16),
}
# From this many examples on, the larger effective batch is used (fewer, less noisy steps).
LARGE_DATASET = 300
_DESCRIPTIONS = {
    "quick": "A fast first try: {epochs} over your {n} examples ({steps}). Good to check the data works.",
    "balanced": "The recommended choice: {epochs} over your {n} examples ({steps}).",
    "thorough": "Trains longest, {epochs} over your {n} examples ({steps}); "
    "the best point on the held-out examples is kept.",
}
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class Hyperparameters:
    """Everything that shapes a training run; stored with the run as a plain dict (see `to_dict`).

    `batch_size` is the number of rows (of at most `max_length` tokens) the model sees in one pass;
    `batch_size * grad_accum` examples make one optimizer step. `eval_every_steps` and
    `checkpoint_every_steps` set to 0 mean "at the end of every epoch".
    """

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    learning_rate: float = 2e-4
    epochs: int = 3
    batch_size: int = 4
    grad_accum: int = 4
    max_length: int = 1024
    target_modules: str = "all-linear"
    seed: int = 0
    eval_every_steps: int = 0
    checkpoint_every_steps: int = 0

    @property
    def examples_per_step(self) -> int:
        """How many examples one optimizer step learns from (the effective batch)."""
        return self.batch_size * self.grad_accum

    def to_dict(self) -> dict[str, Any]:
        """The values as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Hyperparameters":
        """Hyperparameters from a stored dict; unknown keys (from older or newer versions) are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def steps_per_epoch(n_examples: int, hp: Hyperparameters) -> int:
    """Optimizer steps in one pass over `n_examples` (the last step may take fewer examples)."""
    return math.ceil(n_examples / hp.examples_per_step) if n_examples > 0 else 0


def total_steps(n_examples: int, hp: Hyperparameters) -> int:
    """Optimizer steps of the whole run; the training loop uses this very function."""
    return steps_per_epoch(n_examples, hp) * hp.epochs


def percentile(values: list[int], share: float) -> int:
    """The nearest-rank percentile of `values` (e.g. share=0.95), 0 for an empty list."""
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def length_bucket(tokens: int, context_tokens: int) -> int:
    """The smallest bucket size that holds `tokens`, at least 256 and at most the model's context."""
    for size in LENGTH_BUCKETS:
        if size >= max(tokens, MIN_MAX_LENGTH):
            return min(size, context_tokens)
    return context_tokens


def micro_batch_rows(max_length: int) -> int:
    """Rows per forward pass for rows of `max_length` tokens: a power of two within MICRO_BATCH_TOKENS."""
    rows = max(1, MICRO_BATCH_TOKENS // max_length)
    return 2 ** int(math.log2(rows))


def _preset(name: str, n_train: int, max_length: int) -> Hyperparameters:
    """One preset for `n_train` examples: epochs chosen so the step count lands near the plan's target."""
    target_steps, max_epochs, small_batch, large_batch = _PLANS[name]
    effective = large_batch if n_train >= LARGE_DATASET else small_batch
    batch_size = min(micro_batch_rows(max_length), effective)
    grad_accum = max(1, effective // batch_size)
    per_epoch = math.ceil(n_train / (batch_size * grad_accum)) if n_train > 0 else 1
    # Small datasets need more passes to reach the target, but past the cap they would only memorise.
    epochs = min(max_epochs, max(1, math.ceil(target_steps / per_epoch)))
    steps = per_epoch * epochs
    # About ten held-out checks per run: enough to pick the best point, cheap next to training.
    every = max(1, math.ceil(steps / 10))
    return Hyperparameters(
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_length=max_length,
        eval_every_steps=every,
        checkpoint_every_steps=every,
    )


def presets(
    n_train_examples: int, token_lengths: list[int], context_tokens: int = 8192
) -> dict[str, Hyperparameters]:
    """The quick, balanced and thorough presets for a dataset (token lengths of its rendered examples)."""
    max_length = length_bucket(percentile(token_lengths, 0.95), context_tokens)
    return {name: _preset(name, n_train_examples, max_length) for name in PRESET_NAMES}


def describe(name: str, hp: Hyperparameters, n_train_examples: int) -> str:
    """One plain-English line about a preset, e.g. 'The recommended choice: 5 passes over your 120 ...'."""
    steps = total_steps(n_train_examples, hp)
    epochs = "1 pass" if hp.epochs == 1 else f"{hp.epochs} passes"
    step_text = "1 training step" if steps == 1 else f"{steps:,} training steps"
    return _DESCRIPTIONS[name].format(epochs=epochs, n=f"{n_train_examples:,}", steps=step_text)


def _range_error(
    label: str, value: Any, low: float, high: float, hint: str, whole: bool = True
) -> str | None:
    """A message when `value` is not a number (a whole one when `whole`) between low and high, else None."""
    kind = "a whole number" if whole else "a number"
    ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if ok and not isinstance(value, bool) and low <= value <= high:
        return None
    return f"{label} must be {kind} from {low:g} to {high:g}; it is {value!r}. {hint}"


def validate(hp: Hyperparameters, context_tokens: int | None = None) -> list[str]:
    """What is wrong with `hp`, one message per field (empty when all values are usable)."""
    longest = context_tokens or 131072
    checks = [
        _range_error("LoRA rank", hp.rank, 1, 256, "16 suits most datasets."),
        _range_error("LoRA alpha", hp.alpha, 1, 1024, "Twice the rank (32 for rank 16) is usual."),
        _range_error("Dropout", hp.dropout, 0, 0.5, "0.05 is usual.", whole=False),
        _range_error("Learning rate", hp.learning_rate, 1e-7, 1e-2, "2e-4 is usual for LoRA.", whole=False),
        _range_error("Passes over the data (epochs)", hp.epochs, 1, 100, "1 to 10 is usual."),
        _range_error("Batch size", hp.batch_size, 1, 512, "Lower it if the worker runs out of memory."),
        _range_error(
            "Gradient accumulation", hp.grad_accum, 1, 512, "Batch x accumulation of 8-16 is usual."
        ),
        _range_error(
            "Maximum length", hp.max_length, 32, longest, "Longer examples are cut at this many tokens."
        ),
        _range_error("Seed", hp.seed, 0, 2**31 - 1, "Any whole number; the same seed repeats a run."),
        _range_error("Held-out check interval", hp.eval_every_steps, 0, 10**6, "0 means once per pass."),
        _range_error("Checkpoint interval", hp.checkpoint_every_steps, 0, 10**6, "0 means once per pass."),
    ]
    errors = [message for message in checks if message]
    names = str(hp.target_modules).split(",")
    if not isinstance(hp.target_modules, str) or (
        hp.target_modules.strip() != "all-linear" and not all(_MODULE_NAME.match(n.strip()) for n in names)
    ):
        errors.append(
            f"Target modules must be 'all-linear' or layer names separated by commas (like 'q_proj,v_proj'); "
            f"it is {hp.target_modules!r}."
        )
    return errors
