"""The metrics panel of a comparison: held-out loss and perplexity, similarity, length, task scores and
house terms, base vs adapted, each with a one-line explanation, and the verdict in plain words on top;
computed from the stored drafts."""

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from math import exp, log
from statistics import median
from typing import Any

from sqlalchemy.orm import Session

from app.curation.records import TRAIN
from app.evaluation.house_terms import HouseTerm, document_frequency, house_terms
from app.evaluation.task_scores import label_matches, score_extraction
from app.evaluation.verdict import RunFacts, Verdict, verdict
from app.models import Adapter, Run
from app.review_models import Comparison, ComparisonItem
from app.services.comparisons import ItemScores
from app.services.runs import snapshot_records


@dataclass(frozen=True)
class Metric:
    """One measure, base vs adapted, in words, with which way is better and a one-line explanation."""

    key: str
    label: str
    base: float | None
    adapted: float | None
    base_text: str
    adapted_text: str
    better: str  # lower | higher | closer_to_1
    explanation: str

    @property
    def winner(self) -> str | None:
        """base | adapted | None (equal, or not measured)."""
        if self.base is None or self.adapted is None or self.base == self.adapted:
            return None
        if self.better == "closer_to_1":
            base, adapted = abs(log(self.base or 1e-9)), abs(log(self.adapted or 1e-9))
            return None if base == adapted else ("adapted" if adapted < base else "base")
        adapted_wins = self.adapted < self.base if self.better == "lower" else self.adapted > self.base
        return "adapted" if adapted_wins else "base"


@dataclass(frozen=True)
class ComparisonSummary:
    """What the metrics panel shows: the measures, house terms, and how the examples split."""

    metrics: list[Metric]
    house_terms: list[HouseTerm]
    scored: int
    better: int
    worse: int
    even: int
    bad_references: int
    verdict: Verdict


def _share(part: int, whole: int) -> float | None:
    """part / whole, None for an empty whole."""
    return part / whole if whole else None


def _percent(value: float | None) -> str:
    """0.8 -> '80%'; '—' when not measured."""
    return "—" if value is None else f"{round(100 * value)}%"


def _mean(values: list[float]) -> float | None:
    """The average, None of nothing."""
    return round(sum(values) / len(values), 1) if values else None


def _loss_metrics(adapter_metrics: dict[str, Any]) -> list[Metric]:
    """Held-out loss and perplexity before (base) and after (adapted) training, from the run's numbers."""
    before, after = adapter_metrics.get("heldout_loss_before"), adapter_metrics.get("heldout_loss_after")
    if before is None or after is None:
        return []
    ppl_before, ppl_after = exp(min(before, 50)), exp(min(after, 50))
    return [
        Metric(
            "heldout_loss", "Held-out loss", before, after, f"{before:.3f}", f"{after:.3f}", "lower",
            "How surprised the model is by your held-out references, word by word; lower means it expects "
            "what your company writes.",
        ),
        Metric(
            "perplexity", "Perplexity", ppl_before, ppl_after, f"{ppl_before:,.1f}", f"{ppl_after:,.1f}",
            "lower", "The same loss as a count of equally likely next words the model hesitates between; "
            "lower is better.",
        ),
    ]  # fmt: skip


def _draft_metrics(items: list[ComparisonItem], scores: dict[int, ItemScores]) -> list[Metric]:
    """Similarity, length and the task scores, over items with drafts and a reference still trusted."""
    fair = [item for item in items if item.id in scores and not scores[item.id].reference_bad]
    metrics = []
    if fair:
        base = _mean([scores[i.id].base_chrf for i in fair])
        adapted = _mean([scores[i.id].adapted_chrf for i in fair])
        metrics.append(
            Metric(
                "chrf", "Similarity to the reference (chrF)", base, adapted, str(base), str(adapted),
                "higher",
                "How much of the reference's wording the draft shares, letter by letter, from 0 to 100; "
                "higher is closer to what your company wrote.",
            )
        )  # fmt: skip
        base_len = [r for i in fair if (r := scores[i.id].base_length) is not None]
        adapted_len = [r for i in fair if (r := scores[i.id].adapted_length) is not None]
        if base_len and adapted_len:
            b, a = median(base_len), median(adapted_len)
            metrics.append(
                Metric(
                    "length", "Length vs the reference", b, a, _percent(b), _percent(a), "closer_to_1",
                    "The usual draft's length as a share of the reference's; 100% is just as long.",
                )
            )  # fmt: skip
    classify = [i for i in fair if i.kind == "classify"]
    if classify:
        base_right = sum(label_matches(i.base_output or "", i.reference) for i in classify)
        adapted_right = sum(label_matches(i.adapted_output or "", i.reference) for i in classify)
        b, a = _share(base_right, len(classify)), _share(adapted_right, len(classify))
        metrics.append(
            Metric(
                "accuracy", "Classification accuracy", b, a,
                f"{base_right} of {len(classify)} ({_percent(b)})",
                f"{adapted_right} of {len(classify)} ({_percent(a)})", "higher",
                "Share of classifications whose label matches the reference, ignoring case and punctuation.",
            )
        )  # fmt: skip
    extract = [i for i in fair if i.kind == "extract"]
    if extract:
        base_scores = [score_extraction(i.base_output or "", i.reference) for i in extract]
        adapted_scores = [score_extraction(i.adapted_output or "", i.reference) for i in extract]
        b = _share(sum(s.valid_json for s in base_scores), len(extract))
        a = _share(sum(s.valid_json for s in adapted_scores), len(extract))
        metrics.append(
            Metric(
                "valid_json", "Valid JSON", b, a, _percent(b), _percent(a), "higher",
                "Share of extractions a program can read as JSON.",
            )
        )  # fmt: skip
        b = _share(sum(s.fields_right for s in base_scores), sum(s.fields_total for s in base_scores))
        a = _share(sum(s.fields_right for s in adapted_scores), sum(s.fields_total for s in adapted_scores))
        metrics.append(
            Metric(
                "fields", "Fields exactly right", b, a, _percent(b), _percent(a), "higher",
                "Share of the reference's fields the extraction got exactly right.",
            )
        )  # fmt: skip
    return metrics


@lru_cache(maxsize=32)
def train_term_counts(snapshot_sha256: str) -> tuple[Counter[str], int]:
    """How many training outputs of a snapshot use each term (cached: a snapshot never changes)."""
    try:
        records = snapshot_records(snapshot_sha256)
    except FileNotFoundError:
        return Counter(), 0
    return document_frequency(r.output for r in records if r.split == TRAIN)


def summarise(session: Session, comparison: Comparison, scores: dict[int, ItemScores]) -> ComparisonSummary:
    """The metrics panel of a comparison, computed from its stored drafts and the run's numbers."""
    adapter = session.get(Adapter, comparison.adapter_id)
    items = comparison.items
    written = [item for item in items if item.id in scores]
    terms = house_terms(
        train_term_counts(adapter.snapshot_sha256) if adapter else (Counter(), 0),
        [item.base_output or "" for item in written],
        [item.adapted_output or "" for item in written],
    )
    fair = [scores[item.id] for item in written if not scores[item.id].reference_bad]
    verdicts = Counter(score.verdict for score in fair)
    adapter_metrics = (adapter.metrics or {}) if adapter else {}
    return ComparisonSummary(
        metrics=_loss_metrics(adapter_metrics) + _draft_metrics(items, scores),
        house_terms=terms,
        scored=len(written),
        better=verdicts["better"],
        worse=verdicts["worse"],
        even=verdicts["even"],
        bad_references=sum(score.reference_bad for score in scores.values()),
        verdict=verdict(
            [(score.base_chrf, score.adapted_chrf) for score in fair],
            [score.verdict for score in fair],
            _run_facts(session, adapter, adapter_metrics),
            total=len(items),
            writing=comparison.state in ("queued", "running"),
        ),
    )


def _run_facts(session: Session, adapter: Adapter | None, adapter_metrics: dict[str, Any]) -> RunFacts:
    """What the verdict's advice needs from the run that trained the adapter."""
    run = session.get(Run, adapter.run_id) if adapter is not None and adapter.run_id else None
    return RunFacts(
        train_count=run.train_count if run is not None else None,
        preset=run.preset if run is not None else "",
        model_name=run.base_model.name if run is not None and run.base_model else "",
        heldout_loss_before=adapter_metrics.get("heldout_loss_before"),
        heldout_loss_after=adapter_metrics.get("heldout_loss_after"),
    )
