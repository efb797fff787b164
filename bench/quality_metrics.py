"""The numbers `bench.quality` reports beside the product's own: a paired bootstrap interval for the main
metric, and a loop detector that reads the final draft text (independent of the generator's guard)."""

import random
import re
from dataclasses import dataclass
from statistics import fmean

_TOKEN = re.compile(r"\w+|[^\w\s]")
# A loop: the same block of tokens (digits folded, so "12" and "13" count as the same) at least three
# times in a row and at least this many tokens in all, each block matching the previous one in at least
# this share of its positions (an extraction that repeats its fields with changing values still counts).
LOOP_MIN_TOKENS = 24
LOOP_MIN_REPEATS = 3
LOOP_MATCH_SHARE = 0.75
LOOP_MAX_PERIOD = 60


def _tokens(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens with every digit folded to 0."""
    return [re.sub(r"\d", "0", token) for token in _TOKEN.findall(text.lower())]


def _similar(tokens: list[str], first: int, second: int, period: int) -> bool:
    """Whether the blocks of `period` tokens at `first` and `second` match in enough positions."""
    same = sum(tokens[first + i] == tokens[second + i] for i in range(period))
    return same >= LOOP_MATCH_SHARE * period


def has_loop(text: str) -> bool:
    """Whether `text` repeats one block of tokens over and over (the shape of a degenerate draft).

    Rows of a table or bullets that share a prefix do not count: their blocks differ after a few tokens.
    """
    tokens = _tokens(text)
    for period in range(1, LOOP_MAX_PERIOD + 1):
        repeats = max(LOOP_MIN_REPEATS, -(-LOOP_MIN_TOKENS // period))
        for start in range(0, len(tokens) - repeats * period + 1):
            blocks = range(start, start + (repeats - 1) * period, period)
            if all(_similar(tokens, first, first + period, period) for first in blocks):
                return True
    return False


@dataclass(frozen=True)
class PairedMeans:
    """Mean of a per-example score for base and adapted, with a 95 % bootstrap interval of the difference."""

    base: float
    adapted: float
    diff_low: float
    diff_high: float

    @property
    def ratio(self) -> float | None:
        """adapted / base (None when base is 0)."""
        return self.adapted / self.base if self.base else None

    @property
    def clear_win(self) -> bool:
        """The issue's bar: 1.5 x base, or an interval of the difference entirely above zero."""
        return (self.ratio is not None and self.ratio >= 1.5) or self.diff_low > 0


def paired_bootstrap(
    base: list[float], adapted: list[float], rounds: int = 2000, seed: int = 0
) -> PairedMeans:
    """Means of paired scores and the 95 % percentile-bootstrap interval of (adapted - base)."""
    if not base:
        return PairedMeans(0.0, 0.0, 0.0, 0.0)
    rng = random.Random(seed)
    diffs = [a - b for a, b in zip(adapted, base, strict=True)]
    n = len(diffs)
    means = sorted(fmean(diffs[rng.randrange(n)] for _ in range(n)) for _ in range(rounds))
    return PairedMeans(
        fmean(base), fmean(adapted), means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]
    )
