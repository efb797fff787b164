"""How the compare and review pages present comparisons: items rendered as documents with their
differences from the reference, progress, metrics, win rates, in business words."""

from typing import Any

from sqlalchemy.orm import Session

from app.evaluation.regression_guard import describe as describe_general_writing
from app.evaluation.verdict import Verdict
from app.evaluation.win_rate import WinRate
from app.models import Adapter, Run, Workspace
from app.rendering import render_document
from app.review_models import Comparison, ComparisonItem
from app.services import comparisons as comparisons_service
from app.services import reviews as reviews_service
from app.services.comparison_summary import ComparisonSummary, summarise
from app.services.generation_requests import gpu_line

KIND_LABELS = {
    "draft": "Draft",
    "summarise": "Summary",
    "classify": "Classification",
    "extract": "Extraction",
}
STOP_TEXTS = {
    "length": "Cut off at the length limit",
    "repetition": "Stopped because it began repeating itself",
    "too_long": "Not written: the brief is longer than the model can read",
}
STATE_BADGES = {
    "queued": ("Waiting for a worker", "badge"),
    "running": ("Writing drafts", "badge badge-info"),
    "succeeded": ("Ready", "badge badge-ok"),
    "failed": ("Failed", "badge badge-err"),
}
VERDICT_TEXTS = {
    "better": "Adapted closer to the reference",
    "worse": "Base closer to the reference",
    "even": "About as close as each other",
}
ITEMS_PER_PAGE = 20


def item_view(item: ComparisonItem, score: comparisons_service.ItemScores | None) -> dict[str, Any]:
    """One held-out example: brief, reference, both drafts as documents marked against the reference."""
    written = score is not None
    return {
        "id": item.id,
        "number": item.position + 1,
        "kind": item.kind,
        "kind_label": KIND_LABELS.get(item.kind, item.kind),
        "instruction": item.instruction,
        "input": item.input,
        "example_id": item.example_id,
        "reference_html": render_document(item.reference, item.kind),
        "base_html": render_document(item.base_output, item.kind, item.reference) if written else None,
        "adapted_html": render_document(item.adapted_output, item.kind, item.reference) if written else None,
        "adapted_text": item.adapted_output or "",
        "base_stop": STOP_TEXTS.get(item.base_stop, ""),
        "adapted_stop": STOP_TEXTS.get(item.adapted_stop, ""),
        "written": written,
        "base_chrf": score.base_chrf if score else None,
        "adapted_chrf": score.adapted_chrf if score else None,
        "verdict": score.verdict if score else None,
        "verdict_text": VERDICT_TEXTS.get(score.verdict, "") if score else "",
        "reference_bad": bool(score and score.reference_bad),
    }


def win_rate_view(rate: WinRate) -> dict[str, Any]:
    """A win rate for the pages: the sentence, the verdict, and the bar's numbers (percent)."""
    low, high = rate.interval
    return {
        "sentence": rate.sentence(),
        "verdict": rate.verdict(),
        "judged": rate.judged,
        "total": rate.total,
        "rate": None if rate.rate is None else round(100 * rate.rate),
        "low": round(100 * low),
        "high": round(100 * high),
        "wins": rate.wins,
        "losses": rate.losses,
        "ties": rate.ties,
        "both_bad": rate.both_bad,
    }


def _range(low: float, high: float) -> str:
    """'95%: 13.0–19.2', the interval written under a mean."""
    return f"95%: {low:.1f}–{high:.1f}"


def verdict_evidence(
    summary: ComparisonSummary, rate: WinRate, adapter_metrics: dict[str, Any]
) -> list[dict[str, str]]:
    """The numbers beside the verdict, each as {label, base, adapted, note}, with base_range and adapted_range
    for an interval: similarity, held-out loss, blind review (once judged), everyday writing (if checked)."""
    found: Verdict = summary.verdict
    rows = []
    if found.base is not None and found.adapted is not None and found.gain is not None:
        gain = found.gain
        rows.append(
            {
                "label": "Similarity to what your company wrote",
                "base": f"{found.base.mean:.1f}",
                "adapted": f"{found.adapted.mean:.1f}",
                "base_range": _range(found.base.low, found.base.high),
                "adapted_range": _range(found.adapted.low, found.adapted.high),
                "note": f"chrF, 0–100, over {found.cases} examples; example by example the adapted draft "
                f"gains {gain.mean:+.1f} (95% interval {gain.low:+.1f} to {gain.high:+.1f}).",
            }
        )
    loss = next((m for m in summary.metrics if m.key == "heldout_loss"), None)
    if loss is not None:
        rows.append(
            {
                "label": "Held-out loss",
                "base": loss.base_text,
                "adapted": loss.adapted_text,
                "note": "How surprised each model is by your held-out references; lower is better.",
            }
        )
    if rate.judged:
        low, high = rate.interval
        rows.append(
            {
                "label": "Blind review",
                "base": f"preferred {rate.losses}×",
                "adapted": f"preferred {rate.wins}×",
                "note": f"{rate.verdict()}: adapted wins {round(100 * (rate.rate or 0))}% of {rate.judged} "
                f"judgements (95% interval {round(100 * low)}–{round(100 * high)}%).",
            }
        )
    general = describe_general_writing(adapter_metrics.get("general_writing"))
    if general is not None:
        rows.append(
            {
                "label": "Everyday writing",
                "base": f"{general['base_loss']:.2f}",
                "adapted": f"{general['adapted_loss']:.2f}",
                "note": (
                    "Noticeably worse than the base model: see the training run."
                    if general["worse"]
                    else "Intact: loss on everyday instructions, lower is better."
                ),
            }
        )
    return rows


def comparison_header(session: Session, comparison: Comparison) -> dict[str, Any]:
    """What every view of a comparison says about it: adapter, run, state, progress."""
    adapter = session.get(Adapter, comparison.adapter_id)
    run = session.get(Run, adapter.run_id) if adapter and adapter.run_id else None
    label, css = STATE_BADGES.get(comparison.state, (comparison.state, "badge"))
    active = comparison.state in ("queued", "running")
    status = comparison.status_text
    if comparison.state == "queued":
        status = gpu_line(session, comparison.queued_at).sentence()
    return {
        "id": comparison.id,
        "adapter_id": comparison.adapter_id,
        "adapter_name": adapter.name if adapter else "Deleted adapter",
        "run_id": run.id if run else None,
        "run_name": run.name if run else "",
        "model_name": run.base_model.name if run and run.base_model else "",
        "state": comparison.state,
        "badge_text": label,
        "badge_class": css,
        "active": active,
        "status_text": status,
        "error": comparison.error,
        "done": comparison.done,
        "total": comparison.total,
        "percent": round(100 * comparison.done / comparison.total) if comparison.total else 100,
    }


def compare_context(
    session: Session, workspace: Workspace, comparison: Comparison, show: str, page: int
) -> dict[str, Any]:
    """The comparison page's live part: progress, metrics, filters with counts, one page of items."""
    show = show if show in comparisons_service.SHOW_FILTERS else "all"
    items = comparison.items
    scores = comparisons_service.score_items(session, items)
    summary = summarise(session, comparison, scores)
    chosen = comparisons_service.filter_items(items, scores, show)
    pages = max(1, -(-len(chosen) // ITEMS_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = chosen[(page - 1) * ITEMS_PER_PAGE : page * ITEMS_PER_PAGE]
    counts = {
        "all": len(items),
        "better": summary.better,
        "worse": summary.worse,
        "different": summary.scored,
    }
    rate = reviews_service.comparison_win_rate(session, comparison)
    adapter = session.get(Adapter, comparison.adapter_id)
    return {
        "workspace": workspace,
        "section": "review",
        "comparison": comparison_header(session, comparison),
        "summary": summary,
        "verdict": summary.verdict,
        "evidence": verdict_evidence(summary, rate, (adapter.metrics or {}) if adapter else {}),
        "filters": [
            {"value": value, "label": label, "count": counts[value]}
            for value, label in comparisons_service.SHOW_FILTERS.items()
        ],
        "show": show,
        "page": page,
        "pages": pages,
        "items": [item_view(item, scores.get(item.id)) for item in shown],
        "win_rate": win_rate_view(rate),
        "reviewers": reviews_service.reviewers(session, comparison),
    }


def review_list_context(session: Session, workspace: Workspace) -> dict[str, Any]:
    """The review index: every comparison with its progress and win rate, newest first."""
    rows = comparisons_service.list_comparisons(session, workspace.id)
    rates = reviews_service.adapter_win_rates(session, workspace.id, [a.id for _, a in rows])
    return {
        "workspace": workspace,
        "section": "review",
        "comparisons": [
            comparison_header(session, comparison) | {"win_rate": win_rate_view(rates[adapter.id])}
            for comparison, adapter in rows
        ],
    }


def pair_context(
    session: Session, workspace: Workspace, comparison: Comparison, user_id: int, item_id: int | None = None
) -> dict[str, Any]:
    """The blind review of one comparison for one reviewer: the pair to judge (or done), the win rate."""
    pair = reviews_service.blind_pair(session, comparison, user_id, item_id)
    view = None
    if pair is not None:
        kind = pair.item.kind
        view = {
            "item_id": pair.item.id,
            "kind_label": KIND_LABELS.get(kind, kind),
            "instruction": pair.item.instruction,
            "input": pair.item.input,
            "reference_html": render_document(pair.item.reference, kind),
            "a_html": render_document(pair.a_text, kind),
            "b_html": render_document(pair.b_text, kind),
            "verdict": pair.verdict,
            "comment": pair.comment,
            "number": pair.number,
        }
    header = comparison_header(session, comparison)
    reviewed = len(reviews_service.reviewable(comparison))
    return {
        "workspace": workspace,
        "section": "review",
        "comparison": header,
        "pair": view,
        "reviewed": pair.reviewed if pair else reviewed,
        "reviewable": pair.total if pair else reviewed,
        "verdicts": reviews_service.VERDICT_WORDS,
        "win_rate": win_rate_view(reviews_service.comparison_win_rate(session, comparison)),
        "reviewers": reviews_service.reviewers(session, comparison),
    }
