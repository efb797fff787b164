"""The adapter library page: adapters per base model; rename, delete, download, train again."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.auth.deps import Actor
from app.db import get_session
from app.routes.adapter_views import library_context
from app.routes.adapters_api import download_response
from app.routes.roles import Admin, Editor, Reader
from app.routes.run_views import read_form
from app.routes.views import render
from app.services import adapters as adapters_service
from app.services import runs as runs_service
from app.services.errors import FieldErrors
from app.templating import is_htmx

router = APIRouter(include_in_schema=False)


def _library(
    request: Request,
    session: Session,
    actor: Actor,
    errors: dict[int, str] | None = None,
    problems: dict[int, list[str]] | None = None,
) -> Response:
    """After a change: the library partial for htmx, else back to the page (or the page with the messages).

    htmx swaps only 2xx answers, so a refused change answers it 200 with the message in place.
    """
    refused = bool(errors or problems)
    if is_htmx(request):
        context = library_context(session, actor.workspace, errors, problems)
        return render(request, "adapters/_library.html", context)
    if refused:
        context = library_context(session, actor.workspace, errors, problems)
        return render(request, "adapters/index.html", context, status_code=422)
    return RedirectResponse("/adapters", status_code=303)


@router.get("/adapters", response_class=HTMLResponse)
def adapters_page(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """The workspace's adapters, grouped by the base model they adapt."""
    return render(request, "adapters/index.html", library_context(session, actor.workspace))


@router.post("/adapters/{adapter_id}/rename", response_class=HTMLResponse)
async def rename_adapter(
    adapter_id: int, request: Request, actor: Editor, session: Session = Depends(get_session)
) -> Response:
    """Rename an adapter."""
    form = await read_form(request)
    adapter = adapters_service.get_adapter(session, actor.workspace.id, adapter_id)
    try:
        adapters_service.rename_adapter(session, adapter, form.get("name", ""))
    except FieldErrors as exc:
        return _library(request, session, actor, errors={adapter_id: exc.errors["name"]})
    return _library(request, session, actor)


@router.post("/adapters/{adapter_id}/delete", response_class=HTMLResponse)
def delete_adapter(
    adapter_id: int, request: Request, actor: Admin, session: Session = Depends(get_session)
) -> Response:
    """Delete an adapter with its files, comparisons and reviews (admins only)."""
    adapter = adapters_service.get_adapter(session, actor.workspace.id, adapter_id)
    adapters_service.delete_adapter(session, adapter, actor)
    return _library(request, session, actor)


@router.get("/adapters/{adapter_id}/download")
def download_adapter(adapter_id: int, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """The adapter as a zip (safetensors weights, config and model card)."""
    adapter = adapters_service.get_adapter(session, actor.workspace.id, adapter_id)
    return download_response(session, actor, adapter)


@router.post("/adapters/{adapter_id}/train-again", response_class=HTMLResponse)
async def train_again(
    adapter_id: int, request: Request, actor: Editor, session: Session = Depends(get_session)
) -> Response:
    """Start a run on the adapter's own examples with another base model, and open it."""
    form = await read_form(request)
    adapter = adapters_service.get_adapter(session, actor.workspace.id, adapter_id)
    model_id = form.get("base_model_id", "")
    if not model_id.isdigit():
        return _library(request, session, actor, problems={adapter_id: ["Pick a base model to train on."]})
    try:
        run = runs_service.train_again(session, actor, adapter, int(model_id), form.get("preset") or None)
    except runs_service.RunBlocked as exc:
        session.rollback()
        return _library(request, session, actor, problems={adapter_id: exc.problems})
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": f"/runs/{run.id}"})
    return RedirectResponse(f"/runs/{run.id}", status_code=303)
