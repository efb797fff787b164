"""Upload pages: the Upload page, the batch partial it polls, and the form posts (no JavaScript needed)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db import get_session
from app.models import ImportBatch, Workspace
from app.routes import uploads_api
from app.routes.roles import Editor, Reader
from app.routes.uploads_api import incoming_files
from app.services import uploads as svc
from app.services.table_preview import mapping_form
from app.settings import get_settings
from app.templating import is_htmx, templates

router = APIRouter()
SessionDep = Annotated[Session, Depends(get_session)]


# ---- helpers -----------------------------------------------------------------------------------


def batch_context(session: Session, batch: ImportBatch) -> dict[str, Any]:
    """What the batch partial needs: the batch, its items grouped, and mapping forms' documents."""
    top = [item for item in batch.items if item.parent_item_id is None]
    children: dict[int, list] = {}
    for item in batch.items:
        if item.parent_item_id is not None:
            children.setdefault(item.parent_item_id, []).append(item)
    # One mapping form per table, next to the first row that names it, once every file is read.
    mapping_forms: dict[int, dict[str, Any]] = {}
    if batch.state == "done":
        docs = svc.documents_by_id(session, {item.document_id for item in batch.items if item.document_id})
        shown: set[int] = set()
        for item in batch.items:
            doc = docs.get(item.document_id or 0)
            if doc is not None and doc.status == "needs_mapping" and doc.columns and doc.id not in shown:
                shown.add(doc.id)
                mapping_forms[item.id] = mapping_form(get_settings(), doc)
    counts = {status: sum(1 for i in batch.items if i.status == status) for status in svc.ITEM_STATUSES}
    # Where "Review the examples" leads: this batch's one file, the sample tag, or the newest examples.
    with_examples = {i.document_id for i in batch.items if i.example_count and i.document_id}
    if batch.source == "sample":
        review_url = "/examples?tag=sample"
    elif len(with_examples) == 1:
        review_url = f"/examples?document={with_examples.pop()}"
    else:
        review_url = "/examples"
    polling = batch.state in ("queued", "running") and not batch.error
    return {"batch": batch, "top": top, "children": children, "mapping_forms": mapping_forms,
            "counts": counts, "polling": polling, "review_url": review_url}  # fmt: skip


def page_context(request: Request, workspace: Workspace, **extra: Any) -> dict[str, Any]:
    """The context every upload page shares."""
    return {"request": request, "workspace": workspace, "section": "upload", **extra}


def render_batch(request: Request, session: Session, workspace: Workspace, batch: ImportBatch) -> Response:
    """The batch partial for htmx, or the batch page around it."""
    context = page_context(request, workspace, **batch_context(session, batch))
    name = "upload/_batch.html" if is_htmx(request) else "upload/batch.html"
    return templates.TemplateResponse(request, name, context)


def after_create(request: Request, session: Session, workspace: Workspace, batch: ImportBatch) -> Response:
    """Enqueue a new batch, then show it (htmx) or redirect to its page (plain form post)."""
    svc.enqueue_batch(session, batch)
    if is_htmx(request):
        response = render_batch(request, session, workspace, batch)
        response.headers["HX-Trigger"] = "upload-created"  # the recent-uploads list reloads itself
        return response
    return RedirectResponse(f"/upload/batches/{batch.id}", status_code=303)


def form_error(
    request: Request, session: Session, workspace: Workspace, message: str, target: str | None = None
) -> Response:
    """Show a refused action: a notice swapped in by htmx, or the upload page with it (422)."""
    if is_htmx(request):
        # htmx leaves 4xx responses unswapped, so the notice comes back as 200 where it belongs.
        headers = {"HX-Retarget": target, "HX-Reswap": "innerHTML"} if target else {}
        context = {"request": request, "message": message}
        return templates.TemplateResponse(request, "upload/_notice.html", context, headers=headers)
    return upload_page_response(request, session, workspace, error=message, status_code=422)


def upload_page_response(
    request: Request, session: Session, workspace: Workspace, error: str | None = None, status_code: int = 200
) -> Response:
    """The Upload page with the recent batches."""
    context = page_context(
        request,
        workspace,
        recent=svc.recent_batches(session, workspace.id),
        formats=svc.ACCEPTED_FORMATS,
        sample_note=svc.SAMPLE_NOTE,
        accept=svc.ACCEPT,
        max_file=svc.format_size(get_settings().max_file_bytes),
        max_upload=svc.format_size(get_settings().max_upload_bytes),
        max_mailbox=svc.format_size(get_settings().max_mailbox_bytes),
        error=error,
    )
    return templates.TemplateResponse(request, "upload/page.html", context, status_code=status_code)


def missing(request: Request, session: Session, workspace: Workspace, what: str) -> Response:
    """A 404 that says what is missing: a notice for htmx, the Upload page with it otherwise."""
    if is_htmx(request):
        context = {"request": request, "message": f"{what} Reload the page to see what is there now."}
        return templates.TemplateResponse(request, "upload/_notice.html", context, status_code=404)
    return upload_page_response(request, session, workspace, error=what, status_code=404)


# ---- pages and partials ------------------------------------------------------------------------


@router.get("/upload", response_class=HTMLResponse, include_in_schema=False)
def upload_page(
    request: Request,
    session: SessionDep,
    actor: Reader,
) -> Response:
    """The Upload page: drop zone, paste box, sample data and recent batches."""
    workspace = actor.workspace
    return upload_page_response(request, session, workspace)


@router.get("/upload/recent", response_class=HTMLResponse, include_in_schema=False)
def recent_partial(request: Request, session: SessionDep, actor: Reader) -> Response:
    """The recent-uploads list (htmx reloads it); the Upload page for a plain request."""
    workspace = actor.workspace
    if not is_htmx(request):
        return RedirectResponse("/upload", status_code=303)
    context = page_context(request, workspace, recent=svc.recent_batches(session, workspace.id))
    return templates.TemplateResponse(request, "upload/_recent.html", context)


@router.post("/upload", include_in_schema=False)
def upload_files_form(
    request: Request,
    session: SessionDep,
    actor: Editor,
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Store the chosen files as a batch and start reading them."""
    workspace = actor.workspace
    try:
        batch = svc.create_batch(session, workspace.id, incoming_files(files), get_settings(), actor=actor)
    except svc.InvalidRequest as exc:
        return form_error(request, session, workspace, str(exc))
    return after_create(request, session, workspace, batch)


@router.post("/upload/text", include_in_schema=False)
def upload_text_form(
    request: Request,
    session: SessionDep,
    actor: Editor,
    text: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
) -> Response:
    """Store pasted text as a one-file batch and start reading it."""
    workspace = actor.workspace
    try:
        batch = svc.create_text_batch(session, workspace.id, title, text, get_settings(), actor=actor)
    except svc.InvalidRequest as exc:
        return form_error(request, session, workspace, str(exc))
    return after_create(request, session, workspace, batch)


@router.post("/upload/sample", include_in_schema=False)
def upload_sample_form(
    request: Request,
    session: SessionDep,
    actor: Editor,
) -> Response:
    """Load the bundled sample files as a batch."""
    workspace = actor.workspace
    batch = svc.create_sample_batch(session, workspace.id, get_settings(), actor=actor)
    return after_create(request, session, workspace, batch)


@router.get("/upload/batches/{batch_id}", response_class=HTMLResponse, include_in_schema=False)
def batch_page(
    batch_id: int,
    request: Request,
    session: SessionDep,
    actor: Reader,
) -> Response:
    """One batch: the partial for htmx polling, or the page that holds it."""
    workspace = actor.workspace
    batch = svc.get_batch(session, workspace.id, batch_id)
    return render_batch(request, session, workspace, batch)


@router.post("/upload/batches/{batch_id}/retry", include_in_schema=False)
def retry_batch_form(
    batch_id: int,
    request: Request,
    session: SessionDep,
    actor: Editor,
) -> Response:
    """Hand a batch that could not be queued to the worker again."""
    workspace = actor.workspace
    batch = svc.get_batch(session, workspace.id, batch_id)
    return after_create(request, session, workspace, batch)


@router.post("/uploads/documents/{document_id}/mapping", include_in_schema=False)
def mapping_form_post(
    document_id: int,
    request: Request,
    session: SessionDep,
    actor: Editor,
    instruction: Annotated[str, Form()] = "",
    output: Annotated[str, Form()] = "",
    input: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
) -> Response:
    """Read a table again with the columns the user chose."""
    workspace = actor.workspace
    mapping = {"instruction": instruction, "output": output, "input": input, "kind": kind, "tags": tags}
    try:
        batch = svc.create_mapping_batch(session, workspace.id, document_id, mapping)
    except svc.InvalidRequest as exc:
        return form_error(request, session, workspace, str(exc), target=f"#mapping-error-{document_id}")
    return after_create(request, session, workspace, batch)


router.include_router(uploads_api.router)
