"""One-click fixes of health findings: exclude, redact personal data, stop leakage, split automatically."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.curation.pii import redact
from app.curation.records import HELDOUT, TRAIN
from app.models import Example, utcnow
from app.services.errors import NotFound
from app.services.examples import refresh_derived, token_counter
from app.services.health import auto_split, chunks, load_records, refresh_health, workspace_report

FIX_CODES = ("exclude_duplicates", "exclude", "redact_pii", "move_to_train", "auto_split")


class FixNotFound(NotFound):
    """The workspace has no finding with that code to fix (already fixed, or never there)."""


@dataclass(frozen=True)
class FixResult:
    """What a one-click fix did, in words for the user, and how many examples it changed."""

    message: str
    changed: int


def exclude_ids(session: Session, workspace_id: int, ids: Iterable[int]) -> int:
    """Exclude the given examples of the workspace from training; returns how many were included before."""
    ids = list(ids)
    changed = 0
    for chunk in chunks(ids):
        result = session.execute(
            update(Example)
            .where(Example.workspace_id == workspace_id, Example.id.in_(chunk), Example.included.is_(True))
            .values(included=False, updated_at=utcnow())
        )
        changed += result.rowcount or 0
    return changed


def redact_ids(session: Session, workspace_id: int, ids: Iterable[int]) -> int:
    """Replace personal data in the given examples by placeholders; returns how many examples changed."""
    changed: list[Example] = []
    for chunk in chunks(list(ids)):
        for example in session.scalars(
            select(Example).where(Example.workspace_id == workspace_id, Example.id.in_(chunk))
        ):
            texts = (redact(example.instruction), redact(example.input), redact(example.output))
            if texts != (example.instruction, example.input, example.output):
                example.instruction, example.input, example.output = texts
                changed.append(example)
    refresh_derived(changed, token_counter())
    session.flush()
    return len(changed)


def resolve_leakage(session: Session, workspace_id: int, ids: Iterable[int]) -> int:
    """Stop held-out examples leaking into training: train copies are excluded, held-out ones move to train.

    The finding lists the examples to act on; acting by split keeps the fix right whichever side it names.
    """
    ids = list(ids)
    splits = dict(
        session.execute(
            select(Example.id, Example.split).where(Example.workspace_id == workspace_id, Example.id.in_(ids))
        ).all()
    )
    train_ids = [i for i, s in splits.items() if s == TRAIN]
    heldout_ids = [i for i, s in splits.items() if s == HELDOUT]
    changed = exclude_ids(session, workspace_id, train_ids)
    for chunk in chunks(heldout_ids):
        session.execute(
            update(Example)
            .where(Example.workspace_id == workspace_id, Example.id.in_(chunk))
            .values(split=TRAIN, split_locked=True, updated_at=utcnow())
        )
    return changed + len(heldout_ids)


def apply_fix(session: Session, workspace_id: int, finding_code: str) -> FixResult:
    """Apply the one-click fix of the current finding `finding_code`, then refresh flags (commits).

    Raises FixNotFound when the workspace has no such finding (already fixed, or never there).
    """
    # The report the panel showed (cached while nothing changed), so the fix acts on what the user saw.
    report = workspace_report(session, workspace_id)
    finding = next((f for f in report.findings if f.code == finding_code and f.fix), None)
    if finding is None:
        raise FixNotFound(
            f"There is nothing to fix for “{finding_code}” any more: the health panel was out of date."
        )
    ids = finding.fix_ids or finding.example_ids
    if finding.fix in ("exclude_duplicates", "exclude"):
        changed = exclude_ids(session, workspace_id, ids)
        what = "duplicate example" if finding.fix == "exclude_duplicates" else "example"
        message = f"Excluded {_plural(changed, what)} from training."
    elif finding.fix == "redact_pii":
        changed = redact_ids(session, workspace_id, ids)
        message = f"Replaced personal data by placeholders in {_plural(changed, 'example')}."
    elif finding.fix == "move_to_train":
        changed = resolve_leakage(session, workspace_id, ids)
        message = f"Fixed held-out leakage in {_plural(changed, 'example')}."
    elif finding.fix == "auto_split":
        changed = auto_split(session, workspace_id, load_records(session, workspace_id))
        message = f"Split the examples automatically: {_plural(changed, 'example')} changed split."
    else:
        raise FixNotFound(f"The fix “{finding.fix}” is not known to this version of Lastmile.")
    refresh_health(session, workspace_id)
    return FixResult(message=message, changed=changed)


def _plural(count: int, noun: str) -> str:
    """'1 example', '3 examples'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
