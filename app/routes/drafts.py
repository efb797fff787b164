"""The draft page (write a brief, get a draft from an adapter or a base model, copy or download it) and the
new-brief box of the comparison page (both models side by side)."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.auth.deps import Actor
from app.db import get_session
from app.models import BaseModel
from app.routes.draft_views import (
    LENGTHS,
    brief_messages,
    generation_view,
    length_tokens,
    model_groups,
)
from app.routes.generations_api import download_response
from app.routes.roles import Reader
from app.routes.run_views import read_form
from app.routes.views import render
from app.services import adapters as adapters_service
from app.services import generation_requests as generations
from app.services.errors import FieldErrors, NotFound
from app.services.runs import snapshot_on_disk, snapshot_records
from app.settings import get_settings
from app.templating import is_htmx

router = APIRouter(include_in_schema=False)
# How many of the adapter's examples the new-brief box offers to pick from.
PICKABLE_EXAMPLES = 50


def _form_errors(exc: FieldErrors) -> dict[str, str]:
    """The service's messages keyed by the form's fields (the brief is the form's 'messages')."""
    names = {"messages": "brief", "base_model_id": "model", "adapter_id": "model"}
    errors = {names.get(field, field): message for field, message in exc.errors.items()}
    if "brief" in errors:
        errors["brief"] = "Write what the draft should say in the brief box."
    return errors


def _draft_page_context(
    session: Session,
    actor: Actor,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    draft: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The draft page: the form with its model choices, the draft (when one is open), recent drafts."""
    return {
        "workspace": actor.workspace,
        "section": "drafts",
        "groups": model_groups(session, actor.workspace.id),
        "lengths": LENGTHS,
        "values": values,
        "errors": errors or {},
        "draft": draft,
        "recent": _recent(session, actor),
    }


def _recent(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The actor's ten newest drafts, for the side list."""
    recent = generations.recent_generations(
        session, actor.workspace.id, actor.user.id, purpose="draft", limit=10
    )
    return [generation_view(session, g) for g in recent]


@router.get("/drafts", response_class=HTMLResponse)
def drafts_page(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """Write a brief and get a draft; ?adapter_id= (or ?model=) picks the model."""
    adapter_id = request.query_params.get("adapter_id", "")
    model = request.query_params.get("model") or (
        generations.adapter_model_id(int(adapter_id)) if adapter_id.isdigit() else ""
    )
    values = {"model": model, "length": "medium"}
    return render(request, "drafts/index.html", _draft_page_context(session, actor, values))


@router.post("/drafts", response_class=HTMLResponse)
async def create_draft(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """Queue a draft and show it (htmx: the draft part, polling until done); the form again if refused."""
    form = await read_form(request)
    values = {key: form.get(key, "") for key in ("model", "brief", "material", "length")}
    workspace_id = actor.workspace.id
    try:
        try:
            base_model_id, adapter_id = generations.resolve_model(session, workspace_id, values["model"])
        except NotFound:
            raise FieldErrors({"model": "Pick an adapter or a base model from the list."}) from None
        generation = generations.request_generation(
            session, workspace_id, actor.user.id, brief_messages(values["brief"], values["material"]),
            base_model_id=base_model_id, adapter_id=adapter_id, purpose="draft",
            max_new_tokens=length_tokens(values["length"]),
        )  # fmt: skip
    except FieldErrors as exc:
        session.rollback()
        context = _draft_page_context(session, actor, values, _form_errors(exc))
        if is_htmx(request):
            # The messages go into the form, not where the draft would have appeared.
            headers = {"HX-Retarget": "#draft-form-errors", "HX-Reswap": "innerHTML"}
            return render(request, "drafts/_form_errors.html", context, headers=headers)
        return render(request, "drafts/index.html", context, status_code=422)
    if is_htmx(request):
        context = {"draft": generation_view(session, generation), "oob_recent": _recent(session, actor)}
        headers = {"HX-Push-Url": f"/drafts/{generation.id}"}
        return render(request, "drafts/_draft.html", context, headers=headers)
    return RedirectResponse(f"/drafts/{generation.id}", status_code=303)


@router.get("/drafts/{generation_id}", response_class=HTMLResponse)
def draft_page(
    generation_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """One draft (live while the worker writes it), under the form to write another."""
    generation = generations.get_generation(session, actor.workspace.id, generation_id)
    model = session.get(BaseModel, generation.base_model_id) if generation.base_model_id else None
    keys = {model.id: model.key} if model is not None else {}
    draft = generation_view(session, generation)
    values = {"model": generations.model_id(generation, keys), "length": "medium"}
    return render(request, "drafts/index.html", _draft_page_context(session, actor, values, draft=draft))


@router.get("/drafts/{generation_id}/status", response_class=HTMLResponse)
def draft_status(
    generation_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """The draft part alone (polled every 2 s while the draft waits or is being written), and the recent
    drafts list out of band (the draft's state there changes with it)."""
    generation = generations.get_generation(session, actor.workspace.id, generation_id)
    context = {"draft": generation_view(session, generation), "oob_recent": _recent(session, actor)}
    return render(request, "drafts/_draft.html", context)


@router.get("/drafts/{generation_id}/download")
def download_draft(
    generation_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """The finished draft as ?format=txt, md or docx (back to the draft while it is not finished)."""
    generation = generations.get_generation(session, actor.workspace.id, generation_id)
    try:
        return download_response(generation, request.query_params.get("format", "txt"))
    except FieldErrors:
        return RedirectResponse(f"/drafts/{generation.id}", status_code=303)


# ---- the new-brief box of the comparison page ---------------------------------------------------------


def _pickable(adapter_sha: str) -> list[dict[str, Any]]:
    """Examples of the adapter's snapshot to pick as a brief (held-out first); none if the file is gone."""
    if not snapshot_on_disk(adapter_sha):
        return []
    records = sorted(snapshot_records(adapter_sha), key=lambda r: (r.split != "heldout", r.id))
    return [
        {"id": r.id, "label": r.instruction[:90], "heldout": r.split == "heldout"}
        for r in records[:PICKABLE_EXAMPLES]
    ]


@router.get("/briefs/new", response_class=HTMLResponse)
def brief_form(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """The new-brief box for ?adapter_id=: type a brief or pick an example, get both drafts side by side."""
    raw = request.query_params.get("adapter_id", "")
    adapter = adapters_service.get_adapter(session, actor.workspace.id, int(raw) if raw.isdigit() else 0)
    context = {"adapter": adapter, "examples": _pickable(adapter.snapshot_sha256)}
    return render(request, "drafts/_brief_form.html", context)


@router.post("/briefs", response_class=HTMLResponse)
async def create_brief(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """Queue a brief answered by the base model and the adapter; the side-by-side part, polling until done."""
    form = await read_form(request)
    raw = form.get("adapter_id", "")
    adapter = adapters_service.get_adapter(session, actor.workspace.id, int(raw) if raw.isdigit() else 0)
    brief, material = form.get("brief", ""), form.get("material", "")
    picked = form.get("example_id", "")
    if not brief.strip() and picked.isdigit():
        row = next((r for r in snapshot_records(adapter.snapshot_sha256) if r.id == int(picked)), None)
        if row is not None:
            brief, material = row.instruction, row.input
    try:
        generation = generations.request_generation(
            session, actor.workspace.id, actor.user.id, brief_messages(brief, material),
            adapter_id=adapter.id, purpose="brief", with_base=True,
            max_new_tokens=get_settings().comparison_max_new_tokens,
        )  # fmt: skip
    except FieldErrors as exc:
        session.rollback()
        message = "Type a brief, or pick one of the examples." if "messages" in exc.errors else str(exc)
        context = {"error": message, "workspace": actor.workspace, "section": "drafts"}
        if is_htmx(request):
            return render(request, "drafts/_brief_result.html", context)
        return render(request, "drafts/brief.html", context, status_code=422)
    if is_htmx(request):
        return render(request, "drafts/_brief_result.html", {"result": generation_view(session, generation)})
    return RedirectResponse(f"/briefs/{generation.id}", status_code=303)


@router.get("/briefs/{generation_id}", response_class=HTMLResponse)
def brief_result(
    generation_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """Both drafts of a brief side by side: the part alone for htmx (polled), else a page around it."""
    generation = generations.get_generation(session, actor.workspace.id, generation_id)
    context = {"result": generation_view(session, generation), "workspace": actor.workspace}
    name = "drafts/_brief_result.html" if is_htmx(request) else "drafts/brief.html"
    return render(request, name, context | {"section": "drafts"})
