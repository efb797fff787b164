"""Routes for dataset pages: the list, create, the dataset page, rename, delete, snapshots and exports."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db import get_session
from app.models import TASK_KINDS, Dataset, Workspace
from app.routes import datasets_api
from app.routes.examples import filter_context, results_context
from app.routes.roles import Admin, Editor, Reader
from app.routes.views import health_panel_context, render
from app.services import datasets as datasets_service
from app.services.errors import FieldErrors
from app.services.example_query import ExampleFilter, count_matching, matching_ids, tag_counts

router = APIRouter()
pages = APIRouter(include_in_schema=False)

# After a redirect the page says what just happened; only these fixed texts can be shown this way.
DONE_MESSAGES = {
    "created": "Dataset created.",
    "renamed": "Saved.",
}


def _source_filter(form: dict[str, str]) -> ExampleFilter | None:
    """Which examples a new dataset starts with, from the create form (None: it starts empty)."""
    source = form.get("source", "included")
    if source == "filter":
        return ExampleFilter.from_params(form)
    if source == "none":
        return None
    base = {"included": "yes"}
    if source == "kind":
        base["kind"] = form.get("kind", "")
    elif source == "tag":
        base["tag"] = form.get("tag", "")
    return ExampleFilter.from_params(base)


def _list_context(
    session: Session,
    workspace: Workspace,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The datasets page: the list with counts and the create form."""
    return {
        "workspace": workspace,
        "section": "datasets",
        "items": datasets_service.summaries(session, workspace.id),
        "values": values or {"source": "included"},
        "errors": errors or {},
        "kinds": TASK_KINDS,
        "tags": tag_counts(session, workspace.id),
        "included_count": count_matching(session, workspace.id, ExampleFilter(included="yes")),
    }


def _new_context(
    session: Session,
    workspace: Workspace,
    flt: ExampleFilter,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The "new dataset from a filter" page: how many examples match, and the form."""
    return {
        "workspace": workspace,
        "section": "datasets",
        "flt": flt,
        "count": count_matching(session, workspace.id, flt),
        "values": values or {},
        "errors": errors or {},
    }


@pages.get("/datasets", response_class=HTMLResponse)
def datasets_page(
    request: Request,
    actor: Reader,
    session: Session = Depends(get_session),
) -> Response:
    """Every dataset with its counts, and the form to create one."""
    return render(request, "datasets/index.html", _list_context(session, actor.workspace))


@pages.get("/datasets/new", response_class=HTMLResponse)
def new_dataset_page(
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Create a dataset from the examples matching the filter the examples page was showing."""
    workspace = actor.workspace
    flt = ExampleFilter.from_params(request.query_params)
    return render(request, "datasets/new.html", _new_context(session, workspace, flt))


@pages.post("/datasets", response_class=HTMLResponse)
async def create_dataset(
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Create a dataset, then open it; a refused name shows the form again with the reason."""
    workspace = actor.workspace
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    flt = _source_filter(form)
    source = matching_ids(workspace.id, flt) if flt is not None else None
    try:
        dataset = datasets_service.create_dataset(
            session, workspace.id, form.get("name", ""), form.get("description", ""), source, actor=actor
        )
    except FieldErrors as exc:
        session.rollback()
        if form.get("source") == "filter" and flt is not None:
            context = _new_context(session, workspace, flt, form, exc.errors)
            return render(request, "datasets/new.html", context, status_code=422)
        return render(
            request, "datasets/index.html", _list_context(session, workspace, form, exc.errors), 422
        )
    return RedirectResponse(f"/datasets/{dataset.id}?done=created", status_code=303)


def _page_context(
    session: Session,
    workspace: Workspace,
    dataset: Dataset,
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A dataset's page: counts, snapshots, health, and its examples table."""
    flt = ExampleFilter.from_params({**request.query_params, "dataset": str(dataset.id)})
    context = results_context(session, workspace, flt, embedded=True)
    context |= filter_context(session, workspace)
    context |= {
        "section": "datasets",
        "dataset": dataset,
        "summary": datasets_service.summary(session, dataset),
        "snapshots": datasets_service.snapshots(session, dataset),
        "values": values or {"name": dataset.name, "description": dataset.description},
        "errors": errors or {},
        "done": DONE_MESSAGES.get(request.query_params.get("done", ""), ""),
    }
    return context


@pages.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(
    dataset_id: int,
    request: Request,
    actor: Reader,
    session: Session = Depends(get_session),
) -> Response:
    """One dataset: its examples, health, snapshots, exports, rename and delete."""
    workspace = actor.workspace
    dataset = datasets_service.get_dataset(session, workspace.id, dataset_id)
    return render(request, "datasets/detail.html", _page_context(session, workspace, dataset, request))


@pages.get("/datasets/{dataset_id}/health", response_class=HTMLResponse)
def dataset_health(
    dataset_id: int,
    request: Request,
    actor: Reader,
    session: Session = Depends(get_session),
) -> Response:
    """The dataset's own health findings (analysed over its members only)."""
    workspace = actor.workspace
    dataset = datasets_service.get_dataset(session, workspace.id, dataset_id)
    return render(
        request, "examples/_health.html", health_panel_context(session, workspace, dataset_id=dataset.id)
    )


@pages.post("/datasets/{dataset_id}/rename", response_class=HTMLResponse)
async def rename_dataset(
    dataset_id: int,
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Save a new name and description."""
    workspace = actor.workspace
    dataset = datasets_service.get_dataset(session, workspace.id, dataset_id)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        datasets_service.update_dataset(session, dataset, form.get("name", ""), form.get("description", ""))
    except FieldErrors as exc:
        session.rollback()
        context = _page_context(session, workspace, dataset, request, form, exc.errors)
        return render(request, "datasets/detail.html", context, status_code=422)
    return RedirectResponse(f"/datasets/{dataset.id}?done=renamed", status_code=303)


@pages.post("/datasets/{dataset_id}/delete")
def delete_dataset(
    dataset_id: int,
    actor: Admin,
    session: Session = Depends(get_session),
) -> Response:
    """Delete the dataset (its examples stay) and go back to the list; admins only, audited."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    datasets_service.delete_dataset(session, dataset, actor=actor)
    # htmx follows HX-Redirect; a plain form post follows the 303.
    return Response(status_code=303, headers={"Location": "/datasets", "HX-Redirect": "/datasets"})


@pages.post("/datasets/{dataset_id}/snapshots", response_class=HTMLResponse)
def freeze_snapshot(
    dataset_id: int,
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Freeze the dataset and show its snapshots card again, saying whether the snapshot is new."""
    workspace = actor.workspace
    dataset = datasets_service.get_dataset(session, workspace.id, dataset_id)
    message, error = "", ""
    try:
        snapshot, created = datasets_service.freeze_snapshot(session, workspace.id, dataset, actor)
        short = snapshot.sha256[:12]
        message = (
            f"Snapshot {short} frozen with {snapshot.example_count:,} examples."
            if created
            else f"Nothing changed since snapshot {short}: it is the same content, so no new snapshot."
        )
    except datasets_service.EmptySnapshot as exc:
        error = str(exc)
    context = {
        "dataset": dataset,
        "snapshots": datasets_service.snapshots(session, dataset),
        "message": message,
        "error": error,
    }
    return render(request, "datasets/_snapshots.html", context)


@pages.get("/datasets/{dataset_id}/export")
def export_dataset(
    dataset_id: int,
    actor: Reader,
    format: str = "jsonl",
    session: Session = Depends(get_session),
) -> Response:
    """Download the dataset as JSONL or CSV (noted in the audit log)."""
    dataset = datasets_service.get_dataset(session, actor.workspace.id, dataset_id)
    fmt = format if format in datasets_service.EXPORT_FORMATS else "jsonl"
    return datasets_api.export_response(session, actor, dataset, fmt)


router.include_router(pages)
router.include_router(datasets_api.router)
