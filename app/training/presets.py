"""Training hyperparameters and the quick / balanced / thorough presets, derived from the dataset.

Pure functions the web uses to fill the training form (no torch here). Every preset value follows from what
the data is (see `DataProfile`): how many training examples, how long they are in the base model's tokens,
how many answer tokens they hold, which task kinds they are, and how large the base model is. The rules,
each with its reason beside it:

- steps: a budget of training tokens per preset (quick / balanced / thorough), spent in optimizer steps of
  8 examples; balanced always sees every example at least once, small sets get more passes (capped, past the
  cap they only memorise). Measured on 2 CPU cores: ~190 training tokens per second for the bundled model,
  so balanced's 100k tokens are ~10 minutes there, and a minute on a GPU.
- learning rate: measured on the bundled 135M model (bench/RESULTS.md, "Quality (issue 14)"), scaled by the
  square root of the model's size, which lands on the literature's 1-2e-4 for 7B LoRA; and by the square
  root of the effective batch (Adam's square-root rule, Malladi et al. 2022).
- rank: from the answer tokens, the information the adapter has to hold; alpha stays 32 so the learning rate
  does not move with the rank ("LoRA Without Regret", Schulman et al. 2025: with alpha/rank scaling and a
  fixed alpha the best learning rate is nearly rank-independent).
- target modules: every linear layer, whatever the data (QLoRA, Dettmers et al. 2023; LoRA Without Regret:
  attention-only LoRA learns less even at the same parameter count, the MLP layers carry most of it); the
  data decides the capacity through the rank instead.
- max length: the measured rendered lengths, so that at most 1 % of the examples are cut (a cut answer
  teaches the model to stop mid-sentence); packing means a longer cap wastes no compute.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

PRESET_NAMES = ("quick", "balanced", "thorough")
# Rows of up to this many tokens go through the model at once: about 9 GB of activations for a 135M model
# on a CPU, and a comfortable micro-batch on any GPU. Longer examples mean fewer rows per pass.
MICRO_BATCH_TOKENS = 2048
MIN_MAX_LENGTH = 256
# Power-of-two-ish sizes for max_length: 2^k and 1.5 x 2^k, so the cap lands near the real lengths.
LENGTH_BUCKETS = tuple(sorted({size for k in range(8, 18) for size in (2**k, 3 * 2 ** (k - 1))}))
# The share of examples the length cap may cut.
CUT_SHARE = 0.01


@dataclass(frozen=True)
class Plan:
    """How much a preset trains: a token budget, its bounds in passes and steps."""

    tokens: int  # training tokens (prompt and answer, all passes) the preset aims for
    min_epochs: float  # 1.0 = every example at least once; less = the budget may stop inside the first pass
    max_epochs: int
    min_steps: int  # even a tiny dataset gets this many optimizer steps (within max_epochs)


PLANS = {
    # A look at whether the data works: ~4 minutes on 2 CPU cores, whatever the dataset's size.
    "quick": Plan(tokens=40_000, min_epochs=0.0, max_epochs=3, min_steps=10),
    # The default: every example at least once, small sets up to 6 passes (see bench/RESULTS.md for the
    # measurements on the sample data and two public datasets).
    "balanced": Plan(tokens=100_000, min_epochs=1.0, max_epochs=6, min_steps=30),
    # The held-out checks keep the best point, so more passes cannot end worse than fewer.
    "thorough": Plan(tokens=400_000, min_epochs=2.0, max_epochs=12, min_steps=60),
}
# Examples per optimizer step. LoRA learns best with small batches (LoRA Without Regret); past 2,000
# examples, 16 halves the steps of a pass with little loss.
SMALL_BATCH, LARGE_BATCH, LARGE_DATASET = 8, 16, 2000
# The learning rate measured best on the bundled SmolLM2-135M-Instruct with batches of 8 (bench/RESULTS.md).
REFERENCE_LR, REFERENCE_PARAMS = 1e-3, 134_515_008
LR_RANGE = (5e-5, 2e-3)
# Rank by answer tokens in the training set (one pass): below 50k an adapter of rank 8 already holds more
# than the data says; rank 32 only from half a million answer tokens up (LoRA Without Regret: capacity binds
# only when the data outgrows it).
RANKS = ((50_000, 8), (500_000, 16))
LARGE_RANK = 32
ALPHA = 32
# Held-out checks per run (plus the base model's): enough to keep the best point, cheap next to training.
CHECKS_PER_RUN = 4
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
    `batch_size * grad_accum` examples make one optimizer step. `max_steps` > 0 ends the run after that many
    steps, inside its last pass. `eval_every_steps` and `checkpoint_every_steps` set to 0 mean "at the end
    of every epoch".
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
    max_steps: int = 0

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


@dataclass(frozen=True)
class DataProfile:
    """What the presets follow: the training examples' measured lengths and kinds, and the base model."""

    token_lengths: list[int]  # rendered tokens of each training example (prompt, answer, chat template)
    answer_lengths: list[int] = field(default_factory=list)  # answer tokens of each (empty: unknown)
    kinds: Mapping[str, int] = field(default_factory=dict)  # training examples per task kind
    model_params: int = REFERENCE_PARAMS
    context_tokens: int = 8192

    @property
    def n_train(self) -> int:
        """How many training examples there are."""
        return len(self.token_lengths)


def steps_per_epoch(n_examples: int, hp: Hyperparameters) -> int:
    """Optimizer steps in one pass over `n_examples` (the last step may take fewer examples)."""
    return math.ceil(n_examples / hp.examples_per_step) if n_examples > 0 else 0


def total_steps(n_examples: int, hp: Hyperparameters) -> int:
    """Optimizer steps of the whole run (`max_steps` may end it inside its last pass); the loop uses this."""
    steps = steps_per_epoch(n_examples, hp) * hp.epochs
    return min(steps, hp.max_steps) if hp.max_steps > 0 else steps


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


def learning_rate(model_params: int, examples_per_step: int) -> float:
    """The peak learning rate for a model of `model_params` parameters and batches of that many examples."""
    size = math.sqrt(REFERENCE_PARAMS / max(model_params, 1))
    batch = math.sqrt(examples_per_step / SMALL_BATCH)
    low, high = LR_RANGE
    return float(f"{min(high, max(low, REFERENCE_LR * size * batch)):.1e}")


def rank_for(answer_tokens: int) -> int:
    """The LoRA rank for a training set holding `answer_tokens` answer tokens (one pass)."""
    return next((rank for limit, rank in RANKS if answer_tokens < limit), LARGE_RANK)


def _steps(plan: Plan, profile: DataProfile, per_epoch: int, batch: int, max_length: int) -> int:
    """Optimizer steps for a plan: the token budget, bounded by the plan's passes and minimum steps."""
    mean_tokens = sum(min(n, max_length) for n in profile.token_lengths) / max(profile.n_train, 1)
    budget = math.ceil(plan.tokens / max(mean_tokens * batch, 1))
    low = max(plan.min_steps, math.ceil(plan.min_epochs * per_epoch))
    return max(1, min(max(budget, low), plan.max_epochs * per_epoch))


def _preset(name: str, profile: DataProfile, max_length: int) -> Hyperparameters:
    """One preset for the profiled dataset (see the module docstring for each rule's reason)."""
    effective = LARGE_BATCH if profile.n_train >= LARGE_DATASET else SMALL_BATCH
    batch_size = min(micro_batch_rows(max_length), effective)
    grad_accum = max(1, effective // batch_size)
    per_epoch = max(1, math.ceil(profile.n_train / (batch_size * grad_accum)))
    steps = _steps(PLANS[name], profile, per_epoch, batch_size * grad_accum, max_length)
    epochs = math.ceil(steps / per_epoch)
    answers = sum(profile.answer_lengths) if profile.answer_lengths else sum(profile.token_lengths) // 2
    every = max(1, math.ceil(steps / CHECKS_PER_RUN))
    return Hyperparameters(
        rank=rank_for(answers),
        alpha=ALPHA,
        learning_rate=learning_rate(profile.model_params, batch_size * grad_accum),
        epochs=epochs,
        batch_size=batch_size,
        grad_accum=grad_accum,
        max_length=max_length,
        eval_every_steps=every,
        checkpoint_every_steps=every,
        max_steps=steps if steps < epochs * per_epoch else 0,
    )


def presets(profile: DataProfile) -> dict[str, Hyperparameters]:
    """The quick, balanced and thorough presets for a dataset."""
    max_length = length_bucket(percentile(profile.token_lengths, 1 - CUT_SHARE), profile.context_tokens)
    return {name: _preset(name, profile, max_length) for name in PRESET_NAMES}


def describe(name: str, hp: Hyperparameters, n_train_examples: int) -> str:
    """One plain-English line about a preset, e.g. 'The recommended choice: 5 passes over your 120 ...'."""
    steps = total_steps(n_train_examples, hp)
    per_epoch = steps_per_epoch(n_train_examples, hp)
    passes = steps / per_epoch if per_epoch else 0
    if passes < 1:
        epochs = f"{max(1, round(100 * passes))}% of one pass"
    elif hp.max_steps and steps < hp.epochs * per_epoch:
        epochs = f"{passes:.1f} passes"
    else:
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
        _range_error("LoRA rank", hp.rank, 1, 256, "8 to 32 suits most datasets."),
        _range_error("LoRA alpha", hp.alpha, 1, 1024, "32 is usual, whatever the rank."),
        _range_error("Dropout", hp.dropout, 0, 0.5, "0.05 is usual.", whole=False),
        _range_error(
            "Learning rate", hp.learning_rate, 1e-7, 1e-2, "1e-4 to 1e-3 is usual for LoRA.", whole=False
        ),
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
        _range_error("Step limit", hp.max_steps, 0, 10**7, "0 means every step of every pass."),
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
