"""Win rate of the adapted model in blind judgements, with a Wilson 95% confidence interval."""

from collections.abc import Mapping
from dataclasses import dataclass
from math import sqrt

Z_95 = 1.959964


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0, 1 when there are no trials).

    Unlike "rate ± 2 standard errors" it stays within 0–1 and is honest for the few votes a team casts.
    """
    if trials <= 0:
        return 0.0, 1.0
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    spread = z * sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - spread), min(1.0, centre + spread)


def _percent(share: float) -> str:
    """0.734 -> '73%'."""
    return f"{round(100 * share)}%"


@dataclass(frozen=True)
class WinRate:
    """Blind judgements of one adapter: adapted preferred (wins), base preferred, same, both bad."""

    wins: int = 0
    losses: int = 0
    ties: int = 0
    both_bad: int = 0

    @property
    def judged(self) -> int:
        """Judgements that compare the drafts (both-bad ones say nothing about which is better)."""
        return self.wins + self.losses + self.ties

    @property
    def total(self) -> int:
        """Every judgement, both-bad ones included."""
        return self.judged + self.both_bad

    @property
    def rate(self) -> float | None:
        """Share of judgements the adapted draft won, a tie counting half; None before any."""
        return (self.wins + 0.5 * self.ties) / self.judged if self.judged else None

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% confidence interval of the rate."""
        return wilson_interval(self.wins + 0.5 * self.ties, self.judged)

    def sentence(self) -> str:
        """The result in words: "Adapted preferred in 70% of 10 judgements (95% CI 40–89%)."""
        if self.rate is None:
            if self.both_bad:
                return f"No pair judged yet; {self.both_bad} marked both bad."
            return "No judgements yet."
        low, high = self.interval
        votes = "1 judgement" if self.judged == 1 else f"{self.judged} judgements"
        interval = f"95% confidence interval {round(100 * low)}–{_percent(high)}"
        text = f"Adapted preferred in {_percent(self.rate)} of {votes} ({interval})."
        if self.both_bad:
            text += f" {self.both_bad} marked both bad."
        return text

    def verdict(self) -> str:
        """What the interval lets one say: better, worse, or not clear yet."""
        if self.rate is None:
            return "Not judged yet"
        low, high = self.interval
        if low > 0.5:
            return "Adapted is better"
        if high < 0.5:
            return "Base is better"
        return "Not clear yet: more judgements needed"


def win_rate(choices: Mapping[str, int]) -> WinRate:
    """A WinRate from counts per choice ("adapted", "base", "same", "both_bad")."""
    return WinRate(
        wins=choices.get("adapted", 0),
        losses=choices.get("base", 0),
        ties=choices.get("same", 0),
        both_bad=choices.get("both_bad", 0),
    )
