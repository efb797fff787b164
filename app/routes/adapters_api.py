"""JSON API of the adapter library: list, read, rename, delete, download as a zip, train again (tag
"adapters")."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel as Schema
from pydantic import Field
from sqlalchemy.orm import Session

from app.auth.deps import Actor
from app.db import get_session
from app.models import Adapter
from app.routes.adapter_views import entry_view
from app.routes.roles import Admin, Editor, Reader
from app.routes.runs_api import GeneralWritingOut, RunDetail
from app.routes.runs_api import _blocked as blocked
from app.routes.uploads_api import content_disposition
from app.services import adapters as adapters_service
from app.services import runs as runs_service

router = APIRouter(prefix="/api/adapters", tags=["adapters"])
SessionDep = Annotated[Session, Depends(get_session)]


class AdapterOut(Schema):
    """An adapter: what it learned from, its size and trained share, held-out results, where to get it."""

    id: int
    name: str
    model: str = Field(description="Its name in the OpenAI-compatible API (/v1/chat/completions)")
    base_model_id: int | None
    run_id: int | None
    run_name: str
    dataset_id: int | None
    dataset_name: str
    snapshot_sha256: str
    train_count: int | None
    heldout_count: int | None
    size_mb: float
    trainable_share: float
    heldout_loss_before: float | None
    heldout_loss_after: float | None
    general_writing: GeneralWritingOut | None = Field(
        description="Base vs adapted on everyday instructions after training; null when not checked"
    )
    perplexity_before: float | None
    perplexity_after: float | None
    comparison_id: int | None = Field(description="Its drafts beside the base model's (/api/comparisons)")
    win_rate: float | None = Field(description="Share of blind judgements its draft won (ties count half)")
    win_rate_low: float | None = Field(description="95% confidence interval, lower end")
    win_rate_high: float | None = Field(description="95% confidence interval, upper end")
    judgements: int = Field(description="Blind judgements of its drafts, 'both bad' ones included")
    win_rate_text: str
    download_url: str
    created_at: datetime


class AdapterRename(Schema):
    """A new name for the adapter."""

    name: str = Field(max_length=400)


class TrainAgain(Schema):
    """Train the adapter's examples (its frozen snapshot) again on another base model."""

    base_model_id: int = Field(description="A model from GET /api/models")
    preset: str | None = Field(None, description="quick, balanced or thorough; empty = as the first run")


def adapters_out(session: Session, adapters: list[Adapter]) -> list[AdapterOut]:
    """The API view of the adapters."""
    views = [entry_view(entry) for entry in adapters_service.entries(session, adapters)]
    return [AdapterOut(**{name: view[name] for name in AdapterOut.model_fields}) for view in views]


def download_response(session: Session, actor: Actor, adapter: Adapter) -> Response:
    """The adapter as a zip streamed to the client (safetensors, config, model card; audited)."""
    files = adapters_service.zip_files(adapter)
    adapters_service.note_download(session, actor, adapter)
    headers = {"Content-Disposition": content_disposition(adapters_service.download_name(adapter))}
    stream = adapters_service.stream_zip(files)
    return StreamingResponse(stream, media_type="application/zip", headers=headers)


@router.get("")
def list_adapters(actor: Reader, session: SessionDep) -> list[AdapterOut]:
    """The workspace's adapters, newest first."""
    return adapters_out(session, adapters_service.list_adapters(session, actor.workspace.id))


@router.get("/{adapter_id}")
def get_adapter(adapter_id: int, actor: Reader, session: SessionDep) -> AdapterOut:
    """One adapter."""
    return adapters_out(session, [adapters_service.get_adapter(session, actor.workspace.id, adapter_id)])[0]


@router.patch("/{adapter_id}")
def rename_adapter(adapter_id: int, body: AdapterRename, actor: Editor, session: SessionDep) -> AdapterOut:
    """Rename the adapter (422 naming the problem when the name is empty or too long)."""
    adapter = adapters_service.get_adapter(session, actor.workspace.id, adapter_id)
    return adapters_out(session, [adapters_service.rename_adapter(session, adapter, body.name)])[0]


@router.delete("/{adapter_id}", status_code=204)
def delete_adapter(adapter_id: int, actor: Admin, session: SessionDep) -> Response:
    """Delete the adapter with its files, comparisons and reviews (admins only)."""
    adapter = adapters_service.get_adapter(session, actor.workspace.id, adapter_id)
    adapters_service.delete_adapter(session, adapter, actor)
    return Response(status_code=204)


@router.get(
    "/{adapter_id}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The adapter folder as a zip"}},
)
def download_adapter(adapter_id: int, actor: Reader, session: SessionDep) -> Response:
    """The adapter as a zip: adapter_model.safetensors, adapter_config.json and README.md (model card)."""
    adapter = adapters_service.get_adapter(session, actor.workspace.id, adapter_id)
    return download_response(session, actor, adapter)


@router.post(
    "/{adapter_id}/train-again",
    status_code=201,
    response_model=RunDetail,
    responses={422: {"description": "Blocked"}},
)
def train_again(adapter_id: int, body: TrainAgain, actor: Editor, session: SessionDep) -> Any:
    """Queue a run on the adapter's own snapshot with another base model; 422 with `problems` if blocked."""
    adapter = adapters_service.get_adapter(session, actor.workspace.id, adapter_id)
    try:
        run = runs_service.train_again(session, actor, adapter, body.base_model_id, body.preset)
    except runs_service.RunBlocked as exc:
        session.rollback()
        return blocked(exc.problems)
    return RunDetail.of(session, run)
