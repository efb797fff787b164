"""Test data for the compare and review tests: comparisons with known drafts, written straight to the
database (no worker), on a real frozen snapshot so house terms have training outputs to read."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.models import Adapter, Run
from app.review_models import Comparison, ComparisonItem

LOSSES = {"heldout_loss_before": 2.5, "heldout_loss_after": 1.5}


@dataclass(frozen=True)
class Pair:
    """One held-out example and both drafts (None: not written yet)."""

    reference: str
    base: str | None
    adapted: str | None
    instruction: str = "Reply to the client"
    kind: str = "draft"
    input: str = ""


def add_comparison(
    session: Session,
    run: Run,
    pairs: list[Pair],
    example_ids: list[int | None] | None = None,
    state: str = "succeeded",
    metrics: dict[str, Any] | None = None,
    name: str = "",
) -> Comparison:
    """An adapter for `run` and its comparison, one item per pair (committed); `done` counts written pairs."""
    adapter = Adapter(
        workspace_id=run.workspace_id, run_id=run.id, snapshot_id=run.snapshot_id,
        snapshot_sha256=run.snapshot_sha256, name=(name or f"Adapter of {run.name}")[:200],
        path=f"adapters/test-{run.id}", size_bytes=1_000_000, trainable_share=0.01,
        metrics=LOSSES if metrics is None else metrics,
    )  # fmt: skip
    session.add(adapter)
    session.flush()
    done = sum(p.base is not None and p.adapted is not None for p in pairs)
    comparison = Comparison(
        workspace_id=run.workspace_id, adapter_id=adapter.id, state=state, total=len(pairs), done=done,
        status_text="Done" if state == "succeeded" else f"Answered {done} of {len(pairs)} examples",
    )  # fmt: skip
    session.add(comparison)
    session.flush()
    ids = example_ids or [None] * len(pairs)
    for position, (pair, example_id) in enumerate(zip(pairs, ids, strict=True)):
        session.add(
            ComparisonItem(
                workspace_id=run.workspace_id, comparison_id=comparison.id, example_id=example_id,
                position=position, kind=pair.kind, instruction=pair.instruction, input=pair.input,
                reference=pair.reference, base_output=pair.base, adapted_output=pair.adapted,
                base_stop="" if pair.base is None else "eos",
                adapted_stop="" if pair.adapted is None else "eos",
            )
        )  # fmt: skip
    session.commit()
    return comparison


def make_compared_run(
    session: Session,
    workspace_id: int,
    pairs: list[Pair],
    train_outputs: list[str] | None = None,
    **options: Any,
) -> Comparison:
    """A dataset (training outputs + one held-out example per pair), its snapshot, a finished run on it,
    and the run's comparison with the given drafts; items point at their held-out examples."""
    from app.services.datasets import create_dataset, freeze_snapshot
    from tests.examples_data import add_examples

    outputs = train_outputs or ["Dear client, thank you for your message."] * 2
    specs = [
        {"instruction": f"Write reply {i}", "output": o, "split": "train"} for i, o in enumerate(outputs)
    ]
    specs += [
        {
            "instruction": p.instruction,
            "input": p.input,
            "output": p.reference,
            "kind": p.kind,
            "split": "heldout",
        }
        for p in pairs
    ]
    ids = add_examples(session, workspace_id, specs)
    dataset = create_dataset(session, workspace_id, options.pop("dataset_name", "Client replies"), "", ids)
    snapshot, _ = freeze_snapshot(session, workspace_id, dataset)
    run = Run(
        workspace_id=workspace_id, dataset_id=dataset.id, snapshot_id=snapshot.id,
        snapshot_sha256=snapshot.sha256, name=options.pop("run_name", "Replies run"), hyperparameters={},
        state="succeeded", loss_history=[], heldout_history=[],
    )  # fmt: skip
    session.add(run)
    session.flush()
    return add_comparison(session, run, pairs, ids[len(outputs) :], **options)
