"""What a run reports while it trains (Progress), what it returns (TrainResult), and its counters."""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Progress:
    """One report, sent after every optimizer step and after every held-out check (step 0: the base model)."""

    step: int
    total_steps: int
    epoch: int  # 1-based pass over the data the step belongs to (0 before training starts)
    train_loss: float | None  # mean loss per answer token of the last step
    tokens_seen: int  # real tokens trained on so far (padding excluded)
    tokens_per_second: float
    heldout_loss: float | None  # set on held-out reports only
    eta_seconds: float | None
    message: str  # one plain-English line for the run page


@dataclass(frozen=True)
class TrainResult:
    """How a run ended: 'succeeded' (with an adapter folder), 'cancelled' or 'interrupted' (without)."""

    state: str
    adapter_dir: Path | None
    metrics: dict[str, Any]
    trainable_params: int
    total_params: int
    adapter_bytes: int
    heldout_loss_before: float | None
    heldout_loss_after: float | None
    cut_examples: int
    dropped_examples: int


@dataclass
class RunState:
    """Counters and histories that survive a resume (saved as JSON in every checkpoint)."""

    step: int = 0
    tokens_seen: int = 0
    answer_tokens_seen: int = 0
    positions_fed: int = 0  # real tokens + padding, for the padding share
    train_seconds: float = 0.0
    eval_seconds: float = 0.0  # held-out checks, the base model's included
    wall_seconds_before: float = 0.0  # wall time of earlier sessions of this run
    heldout_before: float | None = None
    best_loss: float | None = None
    best_step: int | None = None
    loss_history: list[list[float]] = field(default_factory=list)  # [step, train loss]
    heldout_history: list[list[float]] = field(default_factory=list)  # [step, held-out loss]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunState":
        """The state saved by `to_dict` (unknown keys ignored)."""
        return cls(**{key: values[key] for key in cls.__dataclass_fields__ if key in values})

    @property
    def padding_share(self) -> float:
        """Share of the positions fed to the model that were padding."""
        return 1 - self.tokens_seen / self.positions_fed if self.positions_fed else 0.0


def eta_seconds(
    remaining_steps: int, step_seconds: float, remaining_checks: int, check_seconds: float
) -> float:
    """Seconds left: the remaining steps and held-out checks at the pace measured so far."""
    return remaining_steps * step_seconds + remaining_checks * check_seconds
