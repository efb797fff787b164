"""JSON API for uploads (OpenAPI tag "uploads"): batches, documents, originals and column mappings."""

import re
from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.db import get_session
from app.ingest.store import has_original, original_path
from app.models import ImportBatch
from app.routes.roles import Editor, Reader
from app.services import uploads as svc
from app.settings import get_settings

router = APIRouter(prefix="/api", tags=["uploads"])
SessionDep = Annotated[Session, Depends(get_session)]


class ItemOut(BaseModel):
    """One file of a batch and what became of it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    position: int
    filename: str
    status: str = Field(description="pending, parsed, skipped, failed, duplicate or needs_mapping")
    message: str | None
    example_count: int
    size_bytes: int
    sha256: str | None
    document_id: int | None
    parent_item_id: int | None = Field(description="The archive item this member came from")


class BatchOut(BaseModel):
    """An upload batch: its state, progress and per-file results."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    source: str = Field(description="upload, paste, sample or mapping")
    state: str = Field(description="queued, running, done or failed")
    total_files: int
    done_files: int
    example_count: int
    error: str | None = Field(description="Set while the worker queue is unreachable, or when the run failed")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    items: list[ItemOut]


class DocumentOut(BaseModel):
    """An uploaded file as stored in the workspace."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    format: str
    status: str = Field(description="stored, parsed, failed or needs_mapping")
    error: str | None
    example_count: int
    size_bytes: int
    sha256: str
    parent_id: int | None
    columns: list[str] | None
    column_mapping: dict[str, Any] | None
    created_at: datetime


class TextIn(BaseModel):
    """Pasted text to turn into examples."""

    title: str | None = Field(None, max_length=200)
    text: str


class MappingIn(BaseModel):
    """Which columns of a table hold each field."""

    output: str = Field(description="Column holding the answer / output (required)")
    instruction: str | None = Field(None, description="Column holding the brief / instruction")
    input: str | None = Field(None, description="Column holding the input the answer is based on")
    kind: str | None = Field(
        None, description="Column holding the task kind, or one kind for every row (draft, classify, ...)"
    )
    tags: str | None = Field(None, description="Column holding comma-separated tags")


def content_disposition(filename: str) -> str:
    """An attachment header that no file name can break out of (ASCII fallback plus RFC 5987 name)."""
    name = PurePosixPath(filename.replace("\\", "/")).name or "download"
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", name).strip() or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def incoming_files(files: list[UploadFile] | None) -> list[svc.IncomingFile]:
    """The uploaded files, minus the empty part a browser sends when no file was chosen."""
    chosen = [f for f in files or [] if f.filename or (f.size or 0) > 0]
    return [svc.IncomingFile(f.filename, f.file) for f in chosen]


def _queued(session: Session, batch: ImportBatch) -> BatchOut:
    """Enqueue a new batch and describe it (its `error` says so when the queue is unreachable)."""
    svc.enqueue_batch(session, batch)
    return BatchOut.model_validate(batch)


@router.post("/uploads", status_code=202, response_model=BatchOut)
def api_upload(
    files: Annotated[list[UploadFile], File(description="One or more files")],
    session: SessionDep,
    actor: Editor,
) -> BatchOut:
    """Upload files; they are read in the background (poll GET /api/uploads/{id})."""
    batch = svc.create_batch(session, actor.workspace.id, incoming_files(files), get_settings(), actor=actor)
    return _queued(session, batch)


@router.post("/uploads/text", status_code=202, response_model=BatchOut)
def api_upload_text(body: TextIn, session: SessionDep, actor: Editor) -> BatchOut:
    """Turn pasted text into examples, like a .txt upload named after the title."""
    batch = svc.create_text_batch(
        session, actor.workspace.id, body.title, body.text, get_settings(), actor=actor
    )
    return _queued(session, batch)


@router.post("/sample-data", status_code=202, response_model=BatchOut)
def api_sample_data(session: SessionDep, actor: Editor) -> BatchOut:
    """Load the bundled sample files; their examples are tagged "sample"."""
    return _queued(session, svc.create_sample_batch(session, actor.workspace.id, get_settings(), actor=actor))


@router.get("/uploads", response_model=list[BatchOut])
def api_list_uploads(
    session: SessionDep,
    actor: Reader,
    limit: int = 20,
) -> list[BatchOut]:
    """The latest upload batches, newest first."""
    batches = svc.recent_batches(session, actor.workspace.id, limit=max(1, min(limit, 100)))
    return [BatchOut.model_validate(b) for b in batches]


@router.get("/uploads/{batch_id}", response_model=BatchOut)
def api_get_upload(batch_id: int, session: SessionDep, actor: Reader) -> BatchOut:
    """A batch's state, progress and per-file results."""
    return BatchOut.model_validate(svc.get_batch(session, actor.workspace.id, batch_id))


@router.post("/uploads/{batch_id}/retry", status_code=202, response_model=BatchOut)
def api_retry_upload(batch_id: int, session: SessionDep, actor: Editor) -> BatchOut:
    """Hand a batch that could not be queued to the worker again."""
    return _queued(session, svc.get_batch(session, actor.workspace.id, batch_id))


@router.get("/documents", response_model=list[DocumentOut])
def api_list_documents(
    session: SessionDep,
    actor: Reader,
    limit: int = 500,
    offset: int = 0,
) -> list[DocumentOut]:
    """The workspace's uploaded files with their status and example counts, newest first."""
    docs = svc.list_documents(
        session, actor.workspace.id, limit=max(1, min(limit, 1000)), offset=max(0, offset)
    )
    return [DocumentOut.model_validate(d) for d in docs]


@router.get("/documents/{document_id}/original", response_class=FileResponse)
def api_document_original(
    document_id: int,
    session: SessionDep,
    actor: Reader,
) -> Response:
    """Download the file exactly as it was uploaded."""
    document = svc.get_document(session, actor.workspace.id, document_id)
    root = get_settings().originals_dir
    if not has_original(root, document.sha256):
        raise HTTPException(404, f"The stored copy of {document.filename} is missing.")
    svc.note_download(session, actor, document)
    # Served as an opaque download: an uploaded .html must never render in Lastmile's origin.
    headers = {
        "Content-Disposition": content_disposition(document.filename),
        "X-Content-Type-Options": "nosniff",
    }
    return FileResponse(
        original_path(root, document.sha256), media_type="application/octet-stream", headers=headers
    )


@router.post("/documents/{document_id}/mapping", status_code=202, response_model=BatchOut)
def api_document_mapping(
    document_id: int,
    body: MappingIn,
    session: SessionDep,
    actor: Editor,
) -> BatchOut:
    """Read a table again with the chosen columns; returns the new batch (source "mapping")."""
    batch = svc.create_mapping_batch(session, actor.workspace.id, document_id, body.model_dump())
    return _queued(session, batch)
