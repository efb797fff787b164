"""Comparisons of base and adapted drafts on a run's held-out examples (created with its adapter): creating
them, reading them, scoring each draft against the reference, filtering (metrics: comparison_summary)."""

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.evaluation.similarity import chrf, length_ratio
from app.models import Adapter, ExampleTag, Run, utcnow
from app.review_models import Comparison, ComparisonItem
from app.services.errors import NotFound
from app.services.job_queue import publish_job
from app.services.lookup import get_owned
from app.settings import get_settings


def heldout_rows(snapshot_sha256: str) -> list[dict[str, Any]]:
    """The held-out examples of a frozen snapshot file, in its (id) order."""
    path = get_settings().snapshots_dir / f"{snapshot_sha256}.jsonl"
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return [row for row in rows if row.get("split") == "heldout"]


def create_comparison(session: Session, adapter: Adapter) -> Comparison:
    """A queued comparison, one item per held-out example of the adapter's snapshot (flushed, not committed).

    The worker calls it in the transaction that records the adapter, so an adapter never exists without
    its comparison; publishing comes after the commit (`publish_comparison`).
    """
    existing = session.scalar(select(Comparison).where(Comparison.adapter_id == adapter.id))
    if existing is not None:
        return existing
    rows = heldout_rows(adapter.snapshot_sha256)
    settings = {"max_new_tokens": get_settings().comparison_max_new_tokens, "seed": 0, "greedy": True}
    comparison = Comparison(
        workspace_id=adapter.workspace_id, adapter_id=adapter.id, total=len(rows), settings=settings,
        status_text="Waiting for a worker" if rows else "No held-out examples to compare",
        state="queued" if rows else "succeeded",
        published_at=utcnow() if rows else None,  # committed with it: the publish may never happen
    )  # fmt: skip
    session.add(comparison)
    session.flush()
    for position, row in enumerate(rows):
        session.add(
            ComparisonItem(
                workspace_id=adapter.workspace_id, comparison_id=comparison.id, example_id=row.get("id"),
                position=position, kind=row.get("kind", "draft"), instruction=row["instruction"],
                input=row.get("input", ""), reference=row["output"],
            )
        )  # fmt: skip
    session.flush()
    return comparison


def publish_comparison(comparison: Comparison) -> None:
    """Hand a committed, queued comparison to the gpu queue (published again later if the broker is down)."""
    if comparison.state == "queued":
        publish_job(Comparison, comparison.id)


# ---- reading comparisons ---------------------------------------------------------------------------

# Examples whose reference a reviewer marked bad carry this tag (and are excluded from training).
BAD_REFERENCE_TAG = "bad reference"
# Filters of the comparison page: what each shows.
SHOW_FILTERS = {
    "all": "All examples",
    "better": "Adapted closer to the reference",
    "worse": "Base closer to the reference",
    "different": "Drafts that differ most",
}
# chrF points: a smaller gap between the drafts' similarity to the reference counts as a draw.
CLEAR_MARGIN = 2.0


def get_comparison(session: Session, workspace_id: int, comparison_id: int) -> Comparison:
    """The comparison as the database holds it now (a worker may be writing it)."""
    missing = NotFound(f"Comparison {comparison_id} does not exist in this workspace.")
    return get_owned(session, Comparison, workspace_id, comparison_id, missing, fresh=True)


def comparison_for_run(session: Session, workspace_id: int, run_id: int) -> Comparison:
    """The comparison of the adapter a run produced; NotFound while there is none."""
    run = get_owned(session, Run, workspace_id, run_id, NotFound(f"Run {run_id} does not exist here."))
    comparison = session.scalar(
        select(Comparison).join(Adapter, Adapter.id == Comparison.adapter_id).where(Adapter.run_id == run.id)
    )
    if comparison is None:
        raise NotFound(
            f"“{run.name}” has no comparison yet: one is made when the run finishes with an adapter."
        )
    return comparison


def list_comparisons(
    session: Session, workspace_id: int, adapter_id: int | None = None
) -> list[tuple[Comparison, Adapter]]:
    """The workspace's comparisons with their adapters, newest first (one adapter's when given)."""
    stmt = (
        select(Comparison, Adapter)
        .join(Adapter, Adapter.id == Comparison.adapter_id)
        .where(Comparison.workspace_id == workspace_id)
        .order_by(Comparison.id.desc())
    )
    if adapter_id is not None:
        stmt = stmt.where(Comparison.adapter_id == adapter_id)
    return [(c, a) for c, a in session.execute(stmt).tuples()]


def bad_reference_ids(session: Session, items: list[ComparisonItem]) -> set[int]:
    """The example ids among the items' examples whose reference was marked bad."""
    ids = [item.example_id for item in items if item.example_id is not None]
    if not ids:
        return set()
    stmt = select(ExampleTag.example_id).where(
        ExampleTag.tag == BAD_REFERENCE_TAG, ExampleTag.example_id.in_(ids)
    )
    return set(session.scalars(stmt))


@dataclass(frozen=True)
class ItemScores:
    """One item's drafts measured: similarity (chrF) to the reference and to each other, length ratios."""

    base_chrf: float
    adapted_chrf: float
    drafts_chrf: float
    base_length: float | None
    adapted_length: float | None
    reference_bad: bool

    @property
    def gap(self) -> float:
        """How much closer to the reference the adapted draft is than the base draft, in chrF points."""
        return self.adapted_chrf - self.base_chrf

    @property
    def verdict(self) -> str:
        """better | worse | even: the adapted draft against the base draft, by closeness to the reference."""
        if self.gap >= CLEAR_MARGIN:
            return "better"
        return "worse" if self.gap <= -CLEAR_MARGIN else "even"


def score_item(item: ComparisonItem, reference_bad: bool = False) -> ItemScores | None:
    """The item's scores, or None while either draft is still to be written."""
    if item.base_output is None or item.adapted_output is None:
        return None
    return ItemScores(
        base_chrf=chrf(item.base_output, item.reference),
        adapted_chrf=chrf(item.adapted_output, item.reference),
        drafts_chrf=chrf(item.adapted_output, item.base_output),
        base_length=length_ratio(item.base_output, item.reference),
        adapted_length=length_ratio(item.adapted_output, item.reference),
        reference_bad=reference_bad,
    )


def score_items(session: Session, items: list[ComparisonItem]) -> dict[int, ItemScores]:
    """Scores of every written item, by item id."""
    bad = bad_reference_ids(session, items)
    scored = {item.id: score_item(item, item.example_id in bad) for item in items}
    return {item_id: score for item_id, score in scored.items() if score is not None}


def filter_items(
    items: list[ComparisonItem], scores: dict[int, ItemScores], show: str
) -> list[ComparisonItem]:
    """The items a filter shows: better / worse (largest gap first), different (least alike first), all."""
    if show == "better":
        chosen = [i for i in items if i.id in scores and scores[i.id].verdict == "better"]
        return sorted(chosen, key=lambda i: -scores[i.id].gap)
    if show == "worse":
        chosen = [i for i in items if i.id in scores and scores[i.id].verdict == "worse"]
        return sorted(chosen, key=lambda i: scores[i.id].gap)
    if show == "different":
        return sorted((i for i in items if i.id in scores), key=lambda i: scores[i.id].drafts_chrf)
    return items
