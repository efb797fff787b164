"""The regression guard's decision: did the adapter get worse at everyday writing? And how to say so.

After training, the worker scores the bundled everyday instructions (general_set.py) with the base and the
adapted model: the loss per answer token on the reference answers, item by item. This module turns those
numbers into a decision and into plain words; it needs no model, so the pages and tests use it directly.

The threshold is measured (bench/regression_guard.py, numbers in bench/RESULTS.md "Regression guard"):
adapters trained the normal way moved the loss on the set by a few percent, adapters trained too hard on a
narrow set raised it by far more. The warning sits between the two, with margin on both sides.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# A relative rise of the mean loss per answer token above this share is "noticeably worse".
THRESHOLD = 0.15
# Examples shown with drafts of both models: where the adapter's loss rose most.
EXAMPLES_SHOWN = 3


@dataclass(frozen=True)
class GuardDecision:
    """Base vs adapted on the everyday instructions: mean losses, the relative change, and the verdict."""

    items: int
    base_loss: float
    adapted_loss: float
    change: float  # (adapted - base) / base: 0.38 = the loss rose 38%
    rose: int  # items whose loss went up
    threshold: float
    worse: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (stored in the adapter's metrics)."""
        return asdict(self)


def mean_loss(losses: Sequence[float], tokens: Sequence[int]) -> float:
    """The mean loss per answer token over items (each item's mean loss weighted by its answer tokens)."""
    total = sum(tokens)
    return sum(loss * count for loss, count in zip(losses, tokens, strict=True)) / total if total else 0.0


def judge(
    base_losses: Sequence[float],
    adapted_losses: Sequence[float],
    tokens: Sequence[int],
    threshold: float = THRESHOLD,
) -> GuardDecision:
    """Compare per-item losses of the base and the adapted model (same items, same order)."""
    if not (len(base_losses) == len(adapted_losses) == len(tokens)) or not tokens:
        raise ValueError("base and adapted losses need one value per item, and at least one item")
    base, adapted = mean_loss(base_losses, tokens), mean_loss(adapted_losses, tokens)
    change = (adapted - base) / base if base > 0 else 0.0
    rose = sum(a > b for a, b in zip(adapted_losses, base_losses, strict=True))
    return GuardDecision(
        items=len(tokens), base_loss=round(base, 4), adapted_loss=round(adapted, 4), change=round(change, 4),
        rose=rose, threshold=threshold, worse=change > threshold,
    )  # fmt: skip


def worst_items(base_losses: Sequence[float], adapted_losses: Sequence[float], count: int) -> list[int]:
    """Indices of the `count` items whose loss rose most (largest rise first; ties by position)."""
    pairs = enumerate(zip(base_losses, adapted_losses, strict=True))
    rises = sorted(((adapted - base, -index) for index, (base, adapted) in pairs), reverse=True)
    return [-index for _rise, index in rises[:count]]


def _percent(change: float) -> str:
    """0.381 -> '38 %' style words: 'rose 38%' / 'fell 4%' / 'did not change'."""
    points = round(100 * abs(change))
    if points == 0:
        return "did not change"
    return f"{'rose' if change > 0 else 'fell'} {points}%"


TRY_INSTEAD = (
    "Train again with fewer passes over your examples (the Quick preset, or fewer passes in the advanced "
    "settings).",
    "Lower the learning rate (half of it is a good next try).",
    "Add more varied examples, so the adapter learns your style rather than a handful of answers by heart.",
)


def describe(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The guard's result as the run page, the adapter library and the API show it; None when not checked.

    `result` is what the worker stored in the adapter's metrics under "general_writing"; the decision is made
    again with the current THRESHOLD.
    """
    if not result or "change" not in result:
        return None
    items, change = int(result["items"]), float(result["change"])
    # Judged again with today's threshold, so every adapter on the pages is held to the same line.
    worse = change > THRESHOLD
    numbers = f"{result['base_loss']:.2f} → {result['adapted_loss']:.2f}"
    if worse:
        headline = (
            f"This adapter writes general text noticeably worse than the base model: on {items} everyday "
            f"instructions its loss {_percent(change)} ({numbers})."
        )
        detail = (
            "The loss measures how surprised a model is by good answers, so a rise means it lost some of its "
            "general writing while it learnt your examples. Look at these examples before you use it for "
            "anything beyond the kind of documents it was trained on."
        )
        advice = list(TRY_INSTEAD)
    else:
        headline = (
            f"General writing is intact: on {items} everyday instructions the adapter's loss "
            f"{_percent(change)} ({numbers}) compared with the base model."
        )
        detail = (
            f"Lastmile warns when it rises more than {round(100 * THRESHOLD)}%: that is "
            "when an adapter starts to forget how to write anything but its training examples."
        )
        advice = []
    return {
        "worse": worse,
        "headline": headline,
        "detail": detail,
        "advice": advice,
        "items": items,
        "base_loss": float(result["base_loss"]),
        "adapted_loss": float(result["adapted_loss"]),
        "change": change,
        "change_percent": round(100 * change),
        "rose": int(result.get("rose", 0)),
        "threshold": THRESHOLD,
        "examples": list(result.get("examples", [])),
    }
