"""JSON API for drafts and new briefs: ask for a generation, poll it, download it (tag "generations")."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel as Schema
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import get_session
from app.models import BaseModel
from app.review_models import Generation
from app.routes.draft_views import brief_messages
from app.routes.roles import Reader
from app.routes.uploads_api import content_disposition
from app.services import generation_requests as generations
from app.services.draft_files import FORMATS, draft_file
from app.services.errors import FieldErrors, NotFound

router = APIRouter(prefix="/api/generations", tags=["generations"])
SessionDep = Annotated[Session, Depends(get_session)]


class GenerationRequest(Schema):
    """What to write and with which model: a brief (and material), or chat messages."""

    model: str | None = Field(
        None, description="An adapter ('adapter-12') or a base model key, as GET /v1/models lists them"
    )
    adapter_id: int | None = Field(None, description="Instead of `model`: an adapter from GET /api/adapters")
    base_model_id: int | None = Field(None, description="Instead of `model`: a model from GET /api/models")
    brief: str = Field("", description="What to write, in your words")
    material: str = Field("", description="Optional text to work from (a client's email, notes, figures)")
    messages: list[dict[str, Any]] | None = Field(
        None, description="Instead of brief and material: chat messages [{role, content}], the last a user's"
    )
    purpose: Literal["draft", "brief"] = Field(
        "draft", description="draft: one model; brief: the adapter and its base model side by side"
    )
    max_new_tokens: int = Field(512, description="At most this many new tokens")
    temperature: float = Field(0.0, description="0 = always the same answer; up to 2 varies the wording")
    seed: int = 0


class GenerationOut(Schema):
    """A generation: where it stands (its place in line while queued) and, once done, what was written."""

    id: int
    purpose: str
    state: str = Field(description="queued, running, succeeded or failed")
    status_text: str
    model: str
    adapter_id: int | None
    base_model_id: int | None
    messages: list[dict[str, Any]]
    with_base: bool
    max_new_tokens: int
    temperature: float
    seed: int
    output: str | None = Field(description="The draft (the adapter's, for a brief)")
    base_output: str | None = Field(description="For a brief: the base model's draft")
    prompt_tokens: int
    completion_tokens: int
    stop_reason: str = Field(description="eos, length or repetition")
    error: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, session: Session, generation: Generation) -> "GenerationOut":
        """The API view of `generation`."""
        keys = {}
        if generation.base_model_id is not None:
            keys = dict(session.execute(select(BaseModel.id, BaseModel.key).where(
                BaseModel.id == generation.base_model_id)).tuples().all())  # fmt: skip
        fields = {name: getattr(generation, name) for name in cls.model_fields if hasattr(generation, name)}
        return cls(
            **fields,
            status_text=generations.status_text(session, generation),
            model=generations.model_id(generation, keys),
        )


def download_response(generation: Generation, fmt: str) -> Response:
    """A finished draft as a .txt, .md or .docx download; 422 naming the problem otherwise."""
    if fmt not in FORMATS:
        raise FieldErrors({"format": f"Choose one of {', '.join(FORMATS)}."})
    if generation.state != "succeeded":
        raise FieldErrors({"format": "The draft is not finished yet; download it once it is written."})
    file = draft_file(generation, fmt)
    headers = {"Content-Disposition": content_disposition(file.filename), "X-Content-Type-Options": "nosniff"}
    return Response(file.content, media_type=file.media_type, headers=headers)


@router.post("", status_code=201)
def create_generation(body: GenerationRequest, actor: Reader, session: SessionDep) -> GenerationOut:
    """Queue a draft (or a brief: adapter and base side by side); poll GET /api/generations/{id}."""
    base_model_id, adapter_id = body.base_model_id, body.adapter_id
    if body.model:
        try:
            base_model_id, adapter_id = generations.resolve_model(session, actor.workspace.id, body.model)
        except NotFound as exc:
            raise FieldErrors({"model": str(exc)}) from None
    if body.purpose == "brief" and adapter_id is None:
        message = "A brief compares an adapter with its base model: name the adapter."
        raise FieldErrors({"adapter_id": message})
    messages = body.messages if body.messages is not None else brief_messages(body.brief, body.material)
    generation = generations.request_generation(
        session, actor.workspace.id, actor.user.id, messages, base_model_id=base_model_id,
        adapter_id=adapter_id, purpose=body.purpose, with_base=body.purpose == "brief",
        max_new_tokens=body.max_new_tokens, temperature=body.temperature, seed=body.seed,
    )  # fmt: skip
    return GenerationOut.of(session, generation)


@router.get("")
def list_generations(
    actor: Reader,
    session: SessionDep,
    purpose: Literal["draft", "brief", "api"] | None = None,
    mine: bool = Query(False, description="Only the ones you asked for"),
    limit: int = Query(50, ge=1, le=500),
) -> list[GenerationOut]:
    """The workspace's latest generations, newest first."""
    rows = generations.recent_generations(
        session, actor.workspace.id, actor.user.id if mine else None, purpose, limit
    )
    return [GenerationOut.of(session, g) for g in rows]


@router.get("/{generation_id}")
def get_generation(generation_id: int, actor: Reader, session: SessionDep) -> GenerationOut:
    """A generation: its state and place in line, then the draft(s) once written."""
    return GenerationOut.of(session, generations.get_generation(session, actor.workspace.id, generation_id))


@router.get(
    "/{generation_id}/download",
    response_class=Response,
    responses={200: {"description": "The draft as .txt, .md or .docx"}},
)
def download_generation(
    generation_id: int,
    actor: Reader,
    session: SessionDep,
    format: Literal["txt", "md", "docx"] = "txt",
) -> Response:
    """The finished draft as a file."""
    return download_response(generations.get_generation(session, actor.workspace.id, generation_id), format)
