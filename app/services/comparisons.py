"""Comparisons of base and adapted drafts on a run's held-out examples (created with its adapter)."""

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Adapter
from app.queue import COMPARE_ADAPTER, enqueue
from app.review_models import Comparison, ComparisonItem
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
    """Hand a committed, queued comparison to the gpu queue."""
    if comparison.state == "queued":
        enqueue(COMPARE_ADAPTER, comparison.id)
