"""The comparison's verdict in plain words: did the adapter make the drafts closer to what the company wrote?

Pure: per-example similarity scores of both drafts in, a decision and its sentences out. The decision rests
on the paired 95% interval of the similarity gain (adapted minus base, example by example): above zero the
adapter helped, below zero it hurt, across zero the examples do not tell them apart. Too few examples give
no verdict at all: with under MIN_CASES a few lucky drafts would decide it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import sqrt
from statistics import mean, stdev

# Below this many held-out examples no verdict is given: the paired interval of 9 examples is typically as
# wide as the whole effect of a good adapter (chrF gains of 5-10 points with a spread of 8-12 per example).
MIN_CASES = 10
# From this many examples on, an interval that still spans zero means "no clear help", not "too few".
ENOUGH_CASES = 30
# Student's t for a two-sided 95% interval, by degrees of freedom 1-30 (beyond: 1.96 + 2.4/df, within 0.002).
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
NEXT_PRESET = {"quick": "Balanced", "balanced": "Thorough"}
PLENTY_OF_EXAMPLES = 300


def t95(df: int) -> float:
    """Student's t quantile for a two-sided 95% interval with `df` degrees of freedom (df >= 1)."""
    return _T95[df - 1] if df <= len(_T95) else 1.96 + 2.4 / df


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% confidence interval."""

    mean: float
    low: float
    high: float


def mean_interval(values: Sequence[float]) -> Interval:
    """The mean of `values` and its t-based 95% interval (the mean alone for fewer than two values)."""
    centre = mean(values) if values else 0.0
    if len(values) < 2:
        return Interval(round(centre, 1), round(centre, 1), round(centre, 1))
    spread = t95(len(values) - 1) * stdev(values) / sqrt(len(values))
    return Interval(round(centre, 1), round(centre - spread, 1), round(centre + spread, 1))


@dataclass(frozen=True)
class RunFacts:
    """What the advice needs to know about the run: its training examples, preset and base model."""

    train_count: int | None = None
    preset: str = ""
    model_name: str = ""
    heldout_loss_before: float | None = None
    heldout_loss_after: float | None = None


@dataclass(frozen=True)
class Verdict:
    """The verdict: kind (helped | no_help | hurt | unclear | too_few | waiting), its words, its numbers."""

    kind: str
    headline: str
    detail: str
    advice: list[str] = field(default_factory=list)
    cases: int = 0
    better: int = 0
    worse: int = 0
    even: int = 0
    base: Interval | None = None
    adapted: Interval | None = None
    gain: Interval | None = None


def _cases(n: int) -> str:
    """'1 held-out case' / '40 held-out cases'."""
    return "1 held-out case" if n == 1 else f"{n} held-out cases"


def advice_for(kind: str, facts: RunFacts) -> list[str]:
    """What to try when the adapter did not clearly help, from what this run was (nothing when it did)."""
    tips: list[str] = []
    if kind in ("helped", "waiting"):
        return tips
    if kind in ("too_few", "unclear"):
        tips.append(
            "Hold out more examples (on the Examples page, “Split automatically” keeps a tenth aside; 30 or "
            "more give a clear answer), freeze the dataset again and train again."
        )
    if facts.train_count is not None and facts.train_count < PLENTY_OF_EXAMPLES:
        tips.append(
            f"Add more examples: this run learnt from {facts.train_count:,}; a few hundred good ones make a "
            "style stick."
        )
    if kind in ("no_help", "hurt", "unclear") and facts.preset in NEXT_PRESET:
        tips.append(
            f"Train longer: the {NEXT_PRESET[facts.preset]} preset makes more passes over your examples."
        )
    if kind in ("no_help", "hurt"):
        than = f" than {facts.model_name}" if facts.model_name else ""
        tips.append(
            f"Try a larger base model{than} (the Models page lists them): a small model has less room to "
            "learn a style and keep its general skills."
        )
    if kind == "hurt":
        tips.append(
            "Read the examples where the base draft is closer: references that are wrong or off-topic teach "
            "the wrong thing (mark them with “Bad reference”)."
        )
    return tips


def verdict(
    gains: Sequence[tuple[float, float]],
    labels: Sequence[str],
    facts: RunFacts,
    total: int,
    writing: bool = False,
) -> Verdict:
    """The verdict from each written example's (base, adapted) similarity and its label (better | worse |
    even: which draft is clearly closer); `total` examples in the comparison, `writing` while drafts come."""
    n = len(gains)
    better, worse = labels.count("better"), labels.count("worse")
    counts = {"cases": n, "better": better, "worse": worse, "even": n - better - worse}
    if writing:
        return Verdict(
            "waiting",
            f"The verdict comes when both models have answered all {total} held-out examples.",
            f"{n} of {total} are done so far.",
            **counts,
        )
    base = mean_interval([b for b, _a in gains])
    adapted = mean_interval([a for _b, a in gains])
    gain = mean_interval([a - b for b, a in gains])
    numbers = {"base": base, "adapted": adapted, "gain": gain}
    closer = f"closer to what your company wrote in {better} of {_cases(n)}"
    if n < MIN_CASES:
        kind = "too_few"
        headline = f"Too few held-out examples to tell: {n}."
        detail = (
            f"The adapted model's drafts were {closer}, but with so few examples a handful of lucky drafts "
            f"decide it. Lastmile gives a verdict from {MIN_CASES} held-out examples on."
        )
    elif gain.low > 0:
        kind = "helped"
        headline = f"The adapted model's drafts are {closer}."
        detail = (
            f"The base model's drafts were closer in {worse}, and {counts['even']} were about even. "
            f"Similarity to your references rose from {base.mean:.1f} to {adapted.mean:.1f} (out of 100)."
        )
    elif gain.high < 0:
        kind = "hurt"
        headline = (
            f"The adapter made the drafts worse: the base model's drafts are closer to what your company "
            f"wrote in {worse} of {_cases(n)}."
        )
        detail = (
            f"Similarity to your references fell from {base.mean:.1f} to {adapted.mean:.1f} (out of 100)."
        )
    else:
        kind = "unclear" if n < ENOUGH_CASES and gain.mean > 0 else "no_help"
        headline = (
            f"Not clear yet: the adapted model's drafts are {closer}, the base model's in {worse}."
            if kind == "unclear"
            else f"The adapter did not clearly help: its drafts are {closer}, the base model's in {worse}."
        )
        detail = (
            f"Similarity to your references went from {base.mean:.1f} to {adapted.mean:.1f} (out of 100), a "
            f"difference that chance alone gives on {n} examples."
        )
    before, after = facts.heldout_loss_before, facts.heldout_loss_after
    if kind != "helped" and before is not None and after is not None and after >= before:
        detail += " The held-out loss did not fall either: the adapter learnt little from these examples."
    return Verdict(kind, headline, detail, advice_for(kind, facts), **counts, **numbers)
