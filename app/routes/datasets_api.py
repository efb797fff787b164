"""JSON API for datasets: list, create, rename, delete, membership, snapshots, export (tag "datasets")."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from sqlalchemy.orm import Session

from app.auth.deps import Actor
from app.db import get_session
from app.models import Dataset
from app.routes.roles import Admin, Editor, Reader
from app.schemas import (
    AddExamples,
    DatasetCreate,
    DatasetDetail,
    DatasetOut,
    DatasetPatch,
    HealthOut,
    MembershipOut,
    SnapshotCreated,
    SnapshotOut,
)
from app.services import datasets as datasets_service
from app.services.example_query import matching_ids
from app.services.examples import token_counter
from app.services.health import dataset_report
from app.settings import get_settings

router = APIRouter(prefix="/api/datasets", tags=["datasets"])
SessionDep = Annotated[Session, Depends(get_session)]


def export_response(session: Session, actor: Actor, dataset: Dataset, fmt: str) -> Response:
    """The dataset's included examples as a JSONL or CSV download (noted in the audit log)."""
    content = datasets_service.export_dataset(session, actor.workspace.id, dataset, fmt, actor=actor)
    filename = datasets_service.export_filename(dataset, fmt)
    media_type = datasets_service.EXPORT_FORMATS[fmt]
    return Response(
        content.encode("utf-8"),
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("")
def list_datasets(actor: Reader, session: SessionDep) -> list[DatasetOut]:
    """Every dataset of the workspace with its counts and latest snapshot."""
    return [DatasetOut.of(s) for s in datasets_service.summaries(session, actor.workspace.id)]


@router.post("", status_code=201)
def create_dataset(body: DatasetCreate, actor: Editor, session: SessionDep) -> DatasetOut:
    """Create a dataset from the listed example ids, from the examples matching a filter, or empty."""
    workspace_id = actor.workspace.id
    source = body.example_ids
    if body.filter is not None:
        source = matching_ids(workspace_id, body.filter.to_filter())
    dataset = datasets_service.create_dataset(
        session, workspace_id, body.name, body.description, source, actor=actor
    )
    return DatasetOut.of(datasets_service.summary(session, dataset))


@router.get("/{dataset_id}")
def get_dataset(dataset_id: int, actor: Reader, session: SessionDep) -> DatasetDetail:
    """A dataset with its counts, snapshots and its own health findings."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    report = dataset_report(session, actor.workspace.id, dataset.id)
    health = HealthOut.of(report, get_settings().context_tokens, token_counter().exact, dataset_id=dataset.id)
    return DatasetDetail(
        **DatasetOut.of(datasets_service.summary(session, dataset)).model_dump(),
        snapshots=[SnapshotOut.of(s) for s in datasets_service.snapshots(session, dataset)],
        health=health,
    )


@router.patch("/{dataset_id}")
def patch_dataset(dataset_id: int, body: DatasetPatch, actor: Editor, session: SessionDep) -> DatasetOut:
    """Rename a dataset or change its description."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    datasets_service.update_dataset(session, dataset, body.name, body.description)
    return DatasetOut.of(datasets_service.summary(session, dataset))


@router.delete("/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: int, actor: Admin, session: SessionDep) -> Response:
    """Delete a dataset (its examples stay in the workspace); admins only, noted in the audit log."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    datasets_service.delete_dataset(session, dataset, actor=actor)
    return Response(status_code=204)


@router.post("/{dataset_id}/examples")
def add_examples(dataset_id: int, body: AddExamples, actor: Editor, session: SessionDep) -> MembershipOut:
    """Add examples (by id) to the dataset; ids of other workspaces are ignored."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    added = datasets_service.add_examples(session, actor.workspace.id, dataset, body.ids)
    session.commit()
    return MembershipOut(changed=added, dataset=DatasetOut.of(datasets_service.summary(session, dataset)))


@router.post("/{dataset_id}/examples/remove")
def remove_examples(dataset_id: int, body: AddExamples, actor: Editor, session: SessionDep) -> MembershipOut:
    """Remove examples (by id) from the dataset; they stay in the workspace."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    removed = datasets_service.remove_examples(session, dataset, body.ids)
    session.commit()
    return MembershipOut(changed=removed, dataset=DatasetOut.of(datasets_service.summary(session, dataset)))


@router.get("/{dataset_id}/snapshots")
def list_snapshots(dataset_id: int, actor: Reader, session: SessionDep) -> list[SnapshotOut]:
    """The dataset's frozen snapshots, newest first."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    return [SnapshotOut.of(s) for s in datasets_service.snapshots(session, dataset)]


@router.post("/{dataset_id}/snapshots")
def freeze_snapshot(
    dataset_id: int, response: Response, actor: Editor, session: SessionDep
) -> SnapshotCreated:
    """Freeze the included examples: 201 with a new snapshot, 200 when the same content was frozen before."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    try:
        snapshot, created = datasets_service.freeze_snapshot(session, actor.workspace.id, dataset, actor)
    except datasets_service.EmptySnapshot as exc:
        raise HTTPException(409, str(exc)) from exc
    response.status_code = 201 if created else 200
    return SnapshotCreated(**SnapshotOut.of(snapshot).model_dump(), created=created)


@router.get("/{dataset_id}/export")
def export(
    dataset_id: int,
    actor: Reader,
    session: SessionDep,
    format: Annotated[Literal["jsonl", "csv"], Query(description="jsonl or csv")] = "jsonl",
) -> Response:
    """Download the dataset's included examples as JSONL or CSV (CSV cells neutralised for spreadsheets)."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    return export_response(session, actor, dataset, format)
