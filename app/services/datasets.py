"""Datasets: named selections of examples, their counts, frozen snapshots and exports."""

import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Select, case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor
from app.curation.export import to_csv, to_jsonl
from app.curation.records import HELDOUT, TRAIN
from app.curation.snapshot import snapshot_payload
from app.models import Dataset, DatasetExample, DatasetSnapshot, Example
from app.services.errors import FieldErrors, NotFound
from app.services.health import load_records
from app.services.lookup import get_owned
from app.settings import get_settings

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 5000
EXPORT_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


class DatasetNotFound(NotFound):
    """The dataset does not exist in this workspace."""


class InvalidDataset(FieldErrors):
    """Dataset fields that cannot be saved (empty or taken name, too long description)."""


class EmptySnapshot(ValueError):
    """A snapshot was asked of a dataset without included examples."""


@dataclass
class DatasetSummary:
    """A dataset with the counts the list and its page show."""

    dataset: Dataset
    examples: int
    included: int
    train: int
    heldout: int
    last_snapshot: DatasetSnapshot | None


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    """`ids` in slices small enough for any database's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def get_dataset(session: Session, workspace_id: int, dataset_id: int) -> Dataset:
    """The dataset `dataset_id` of the workspace, or DatasetNotFound."""
    missing = DatasetNotFound(
        f"Dataset {dataset_id} does not exist in this workspace (it may have been deleted)."
    )
    return get_owned(session, Dataset, workspace_id, dataset_id, missing)


def _check_fields(
    session: Session, workspace_id: int, name: str | None, description: str | None, own_id: int | None = None
) -> None:
    """Raise InvalidDataset when the name is empty, too long or used by another dataset of the workspace."""
    errors: dict[str, str] = {}
    if name is not None:
        if not name:
            errors["name"] = "Give the dataset a name, e.g. “Client reports 2024”."
        elif len(name) > MAX_NAME_CHARS:
            errors["name"] = f"The name has {len(name)} characters; keep it under {MAX_NAME_CHARS}."
        else:
            taken = select(Dataset.id).where(Dataset.workspace_id == workspace_id, Dataset.name == name)
            if own_id is not None:
                taken = taken.where(Dataset.id != own_id)
            if session.scalar(taken) is not None:
                errors["name"] = f"A dataset called “{name}” already exists. Choose another name."
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        errors["description"] = (
            f"The description is too long; keep it under {MAX_DESCRIPTION_CHARS:,} characters."
        )
    if errors:
        raise InvalidDataset(errors)


def _commit_unique(session: Session, name: str) -> None:
    """Commit, turning a lost race on the unique name into the same message as the up-front check."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise InvalidDataset(
            {"name": f"A dataset called “{name}” already exists. Choose another name."}
        ) from exc


def create_dataset(
    session: Session,
    workspace_id: int,
    name: str,
    description: str = "",
    example_ids: Select[tuple[int]] | Iterable[int] | None = None,
    actor: Actor | None = None,
) -> Dataset:
    """A new dataset holding the given examples of the workspace (committed; audited as `actor`'s)."""
    name, description = " ".join(name.split()), description.strip()
    _check_fields(session, workspace_id, name, description)
    dataset = Dataset(workspace_id=workspace_id, name=name, description=description)
    session.add(dataset)
    session.flush()
    added = add_examples(session, workspace_id, dataset, example_ids) if example_ids is not None else 0
    if actor is not None:
        record(session, actor, "create_dataset", name, {"id": dataset.id, "examples": added})
    _commit_unique(session, name)
    return dataset


def update_dataset(
    session: Session, dataset: Dataset, name: str | None = None, description: str | None = None
) -> Dataset:
    """Rename and/or describe a dataset (committed)."""
    name = " ".join(name.split()) if name is not None else None
    description = description.strip() if description is not None else None
    _check_fields(session, dataset.workspace_id, name, description, own_id=dataset.id)
    if name is not None:
        dataset.name = name
    if description is not None:
        dataset.description = description
    _commit_unique(session, dataset.name)
    return dataset


def delete_dataset(session: Session, dataset: Dataset, actor: Actor | None = None) -> None:
    """Delete a dataset, its memberships and snapshot rows (the examples stay; committed; audited)."""
    if actor is not None:
        record(session, actor, "delete_dataset", dataset.name, {"id": dataset.id})
    session.execute(delete(DatasetExample).where(DatasetExample.dataset_id == dataset.id))
    session.execute(delete(DatasetSnapshot).where(DatasetSnapshot.dataset_id == dataset.id))
    session.delete(dataset)
    session.commit()


def add_examples(
    session: Session, workspace_id: int, dataset: Dataset, example_ids: Select[tuple[int]] | Iterable[int]
) -> int:
    """Add the workspace's examples among `example_ids` not yet members; returns how many (flushed)."""
    if isinstance(example_ids, Select):
        wanted = list(session.scalars(example_ids))
    else:
        wanted = list(dict.fromkeys(example_ids))
    added = 0
    for chunk in _chunks(wanted):
        # Only ids of this workspace count: a foreign id is silently ignored, never linked.
        own = set(
            session.scalars(
                select(Example.id).where(Example.workspace_id == workspace_id, Example.id.in_(chunk))
            )
        )
        present = set(
            session.scalars(
                select(DatasetExample.example_id).where(
                    DatasetExample.dataset_id == dataset.id, DatasetExample.example_id.in_(chunk)
                )
            )
        )
        rows = [{"dataset_id": dataset.id, "example_id": i} for i in chunk if i in own and i not in present]
        if rows:
            session.execute(insert(DatasetExample), rows)
        added += len(rows)
    session.flush()
    return added


def remove_examples(session: Session, dataset: Dataset, example_ids: Iterable[int]) -> int:
    """Remove examples from the dataset (they stay in the workspace); returns how many were members."""
    removed = 0
    for chunk in _chunks(list(dict.fromkeys(example_ids))):
        result = session.execute(
            delete(DatasetExample).where(
                DatasetExample.dataset_id == dataset.id, DatasetExample.example_id.in_(chunk)
            )
        )
        removed += result.rowcount or 0
    session.flush()
    return removed


def summaries(
    session: Session, workspace_id: int, dataset_ids: list[int] | None = None
) -> list[DatasetSummary]:
    """Every dataset of the workspace (or the given ones) with its counts and latest snapshot, by name."""
    stmt = select(Dataset).where(Dataset.workspace_id == workspace_id).order_by(Dataset.name, Dataset.id)
    if dataset_ids is not None:
        stmt = stmt.where(Dataset.id.in_(dataset_ids))
    datasets = list(session.scalars(stmt))
    ids = [d.id for d in datasets]
    counts: dict[int, tuple[int, int, int, int]] = {}
    if ids:
        included = Example.included.is_(True)
        count_stmt = (
            select(
                DatasetExample.dataset_id,
                func.count(),
                func.sum(case((included, 1), else_=0)),
                func.sum(case((included & (Example.split == TRAIN), 1), else_=0)),
                func.sum(case((included & (Example.split == HELDOUT), 1), else_=0)),
            )
            .join(Example, Example.id == DatasetExample.example_id)
            .where(DatasetExample.dataset_id.in_(ids))
            .group_by(DatasetExample.dataset_id)
        )
        counts = {row[0]: tuple(int(v or 0) for v in row[1:]) for row in session.execute(count_stmt)}
    latest: dict[int, DatasetSnapshot] = {}
    if ids:
        for snapshot in session.scalars(
            select(DatasetSnapshot)
            .where(DatasetSnapshot.dataset_id.in_(ids))
            .order_by(DatasetSnapshot.created_at, DatasetSnapshot.id)
        ):
            latest[snapshot.dataset_id] = snapshot
    return [
        DatasetSummary(d, *counts.get(d.id, (0, 0, 0, 0)), last_snapshot=latest.get(d.id)) for d in datasets
    ]


def summary(session: Session, dataset: Dataset) -> DatasetSummary:
    """One dataset with its counts."""
    return summaries(session, dataset.workspace_id, [dataset.id])[0]


def dataset_choices(session: Session, workspace_id: int) -> list[tuple[int, str]]:
    """(id, name) of every dataset of the workspace, for "add to dataset" pickers."""
    stmt = select(Dataset.id, Dataset.name).where(Dataset.workspace_id == workspace_id).order_by(Dataset.name)
    return [(i, n) for i, n in session.execute(stmt)]


def snapshots(session: Session, dataset: Dataset) -> list[DatasetSnapshot]:
    """The dataset's snapshots, newest first."""
    stmt = (
        select(DatasetSnapshot)
        .where(DatasetSnapshot.dataset_id == dataset.id)
        .order_by(DatasetSnapshot.created_at.desc(), DatasetSnapshot.id.desc())
    )
    return list(session.scalars(stmt))


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see either nothing or the whole file, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def freeze_snapshot(
    session: Session, workspace_id: int, dataset: Dataset, actor: Actor | None = None
) -> tuple[DatasetSnapshot, bool]:
    """Freeze the dataset's included examples as canonical JSONL; returns (snapshot, newly created).

    The file is named by its sha256, so the same content frozen twice is one file and one snapshot row.
    A new snapshot is noted in the audit log as `actor`'s doing.
    """
    records = [r for r in load_records(session, workspace_id, dataset_id=dataset.id) if r.included]
    if not records:
        raise EmptySnapshot(
            f"“{dataset.name}” has no included examples, so there is nothing to freeze. "
            "Add examples to the dataset or include the excluded ones first."
        )
    sha, payload = snapshot_payload(records)
    path = get_settings().snapshots_dir / f"{sha}.jsonl"
    if not (path.is_file() and path.stat().st_size == len(payload)):
        _write_atomically(path, payload)
    existing = session.scalar(
        select(DatasetSnapshot).where(DatasetSnapshot.dataset_id == dataset.id, DatasetSnapshot.sha256 == sha)
    )
    if existing is not None:
        return existing, False
    snapshot = DatasetSnapshot(
        workspace_id=workspace_id,
        dataset_id=dataset.id,
        sha256=sha,
        example_count=len(records),
        train_count=sum(r.split == TRAIN for r in records),
        heldout_count=sum(r.split == HELDOUT for r in records),
    )
    session.add(snapshot)
    if actor is not None:
        detail = {"sha256": sha[:12], "examples": len(records)}
        record(session, actor, "freeze_snapshot", dataset.name, detail)
    try:
        session.commit()
    except IntegrityError:
        # Someone froze the same content a moment ago: theirs is the same snapshot.
        session.rollback()
        existing = session.scalar(
            select(DatasetSnapshot).where(
                DatasetSnapshot.dataset_id == dataset.id, DatasetSnapshot.sha256 == sha
            )
        )
        if existing is None:
            raise
        return existing, False
    return snapshot, True


def export_filename(dataset: Dataset, fmt: str) -> str:
    """A safe download file name from the dataset name: 'client-reports-2024.csv'."""
    stem = re.sub(r"[^a-z0-9]+", "-", dataset.name.lower()).strip("-")[:80] or f"dataset-{dataset.id}"
    return f"{stem}.{fmt}"


def export_dataset(
    session: Session, workspace_id: int, dataset: Dataset, fmt: str, actor: Actor | None = None
) -> str:
    """The dataset's included examples as JSONL or CSV text (CSV cells neutralised against formulas).

    With an `actor`, the export is noted in the audit log (committed): it is data leaving Lastmile.
    """
    if fmt not in EXPORT_FORMATS:
        raise InvalidDataset({"format": "Choose jsonl or csv."})
    records = [r for r in load_records(session, workspace_id, dataset_id=dataset.id) if r.included]
    if actor is not None:
        record(session, actor, "export", dataset.name, {"format": fmt, "examples": len(records)})
        session.commit()
    return to_jsonl(records) if fmt == "jsonl" else to_csv(records)
