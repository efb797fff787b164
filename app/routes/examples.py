"""Routes for examples: the page, its htmx partials (table, rows, inline edit, bulk, health panel)."""

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.curation.health import FLAG_LABELS
from app.db import get_session
from app.models import SPLITS, TASK_KINDS, Example, Workspace
from app.routes import examples_api
from app.routes.examples_api import recheck_example, split_message
from app.routes.roles import Editor, Reader
from app.routes.views import health_panel_context, render
from app.services import datasets as datasets_service
from app.services import examples as examples_service
from app.services.bulk import bulk_apply
from app.services.errors import FieldErrors, NotFound
from app.services.example_query import (
    FLAG_CHOICES,
    INCLUDED_CHOICES,
    SORTS,
    ExampleFilter,
    count_matching,
    find_examples,
    source_documents,
    tag_counts,
)
from app.services.examples import AUTO_SPLIT, ExampleChanges, parse_tags
from app.services.health import refresh_health
from app.services.health_fixes import apply_fix
from app.templating import is_htmx

# Pages and partials stay out of the OpenAPI schema; `router` (what app/main.py includes) gets both
# them and the JSON API at the end of this module, so app/main.py needs no change.
router = APIRouter()
pages = APIRouter(include_in_schema=False)

RESULTS_TARGET = "examples-results"
# Which form field of the bulk bar holds the value of each action.
BULK_VALUE_FIELDS = {
    "add_tag": "tag_value",
    "remove_tag": "tag_value",
    "set_split": "split_value",
    "add_to_dataset": "dataset_value",
    "remove_from_dataset": "remove_dataset",
}
# htmx events: the panel listens for the first, the results table for the second.
HEALTH_CHANGED = "health-changed"
EXAMPLES_CHANGED = "examples-changed"


def results_context(
    session: Session,
    workspace: Workspace,
    flt: ExampleFilter,
    message: str = "",
    error: str = "",
    embedded: bool = False,
) -> dict[str, Any]:
    """What the results partial (counts, bulk bar, table, pagination) needs.

    `embedded` is True on a dataset's page: the table refreshes in place instead of following the URL.
    """
    dataset = None
    if flt.dataset is not None:
        dataset = datasets_service.get_dataset(session, workspace.id, flt.dataset)
    return {
        "workspace": workspace,
        "flt": flt,
        "page": find_examples(session, workspace.id, flt),
        "any_examples": dataset is not None or count_matching(session, workspace.id, ExampleFilter()) > 0,
        "in_dataset": dataset,
        "datasets": datasets_service.dataset_choices(session, workspace.id),
        "flag_labels": FLAG_LABELS,
        "kinds": TASK_KINDS,
        "message": message,
        "error": error,
        "embedded": embedded,
        "table_url": "/examples/table" if embedded else "/examples",
        "push_url": not embedded,
    }


def filter_context(session: Session, workspace: Workspace) -> dict[str, Any]:
    """What the filter bar needs: the choices of each select."""
    return {
        "tags": tag_counts(session, workspace.id),
        "documents": source_documents(session, workspace.id),
        "flag_choices": FLAG_CHOICES,
        "included_choices": INCLUDED_CHOICES,
        "sorts": SORTS,
        "splits": SPLITS,
    }


def _wants_results(request: Request) -> bool:
    """True when htmx asks for the results partial (a history restore needs the whole page)."""
    return (
        is_htmx(request)
        and request.headers.get("HX-Target") == RESULTS_TARGET
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


@pages.get("/examples", response_class=HTMLResponse)
def examples_page(
    request: Request,
    actor: Reader,
    session: Session = Depends(get_session),
) -> Response:
    """The examples page; htmx filter changes get only the results partial."""
    workspace = actor.workspace
    flt = ExampleFilter.from_params(request.query_params)
    context = results_context(session, workspace, flt)
    if _wants_results(request):
        return render(request, "examples/_results.html", context)
    context |= filter_context(session, workspace)
    return render(request, "examples/index.html", {**context, "section": "examples"})


@pages.get("/examples/table", response_class=HTMLResponse)
def examples_table(
    request: Request,
    actor: Reader,
    session: Session = Depends(get_session),
) -> Response:
    """The results partial alone (used by dataset pages and after changes)."""
    workspace = actor.workspace
    flt = ExampleFilter.from_params(request.query_params)
    context = results_context(session, workspace, flt, embedded=request.query_params.get("embedded") == "1")
    return render(request, "examples/_results.html", context)


def _form_filter(form: FormData) -> ExampleFilter:
    """The filter the bulk form carried along (the one the table was showing)."""
    return ExampleFilter.from_params({k: v for k, v in form.items() if isinstance(v, str)})


def _int_list(values: list[Any]) -> list[int]:
    """The integers among form values (anything else is ignored)."""
    return [int(v) for v in values if isinstance(v, str) and v.isdigit() and len(v) < 12]


@pages.post("/examples/bulk", response_class=HTMLResponse)
async def examples_bulk(
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Apply a bulk action to the ticked rows or to all matching examples, then show the table again."""
    workspace = actor.workspace
    form = await request.form()
    flt = _form_filter(form)
    all_matching = form.get("all_matching") == "1"
    embedded = form.get("embedded") == "1"
    action = str(form.get("action", ""))
    message, error = "", ""
    try:
        result = bulk_apply(
            session,
            workspace.id,
            action=action,
            value=str(form.get("value", "") or form.get(BULK_VALUE_FIELDS.get(action, ""), "")),
            ids=None if all_matching else _int_list(form.getlist("ids")),
            flt=flt if all_matching else None,
            new_dataset_name=str(form.get("new_dataset_name", "")),
            actor=actor,
        )
        message = result.message
    except FieldErrors as exc:
        session.rollback()
        error = " ".join(exc.errors.values())
    except NotFound as exc:
        session.rollback()
        error = str(exc)
    try:
        context = results_context(session, workspace, flt, message=message, error=error, embedded=embedded)
    except NotFound:
        # The dataset shown was just deleted elsewhere: fall back to the whole list.
        context = results_context(session, workspace, ExampleFilter(), message=message, error=error)
    return render(request, "examples/_results.html", context, headers={"HX-Trigger": HEALTH_CHANGED})


def _row(request: Request, example: Example, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """The display row of one example."""
    context = {"example": example, "flag_labels": FLAG_LABELS, **extra}
    return render(request, "examples/_row.html", context, headers=headers)


@pages.get("/examples/{example_id}/row", response_class=HTMLResponse)
def example_row(
    example_id: int,
    request: Request,
    actor: Reader,
    session: Session = Depends(get_session),
) -> Response:
    """One example's row (Cancel on the inline edit form swaps this back)."""
    workspace = actor.workspace
    example = examples_service.get_example(session, workspace.id, example_id)
    return _row(request, example)


def _edit_form(
    request: Request,
    example: Example,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """The inline edit form of one example, with the submitted values and messages after a refused save."""
    current = {
        "instruction": example.instruction,
        "input": example.input,
        "output": example.output,
        "kind": example.kind,
        "tags": ", ".join(sorted(t.tag for t in example.tags)),
        "split": example.split if example.split_locked else AUTO_SPLIT,
    }
    context = {
        "example": example,
        "values": values or current,
        "errors": errors or {},
        "kinds": TASK_KINDS,
        "auto_split": AUTO_SPLIT,
    }
    return render(request, "examples/_edit_row.html", context)


@pages.get("/examples/{example_id}/edit", response_class=HTMLResponse)
def example_edit(
    example_id: int,
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """The inline edit form that replaces an example's row."""
    workspace = actor.workspace
    example = examples_service.get_example(session, workspace.id, example_id)
    return _edit_form(request, example)


@pages.post("/examples/{example_id}", response_class=HTMLResponse)
async def example_save(
    example_id: int,
    request: Request,
    background: BackgroundTasks,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Save the inline edit form: recompute hash, tokens and flags, and return the updated row."""
    workspace = actor.workspace
    example = examples_service.get_example(session, workspace.id, example_id)
    form = await request.form()
    values = {
        name: str(form.get(name, "")) for name in ("instruction", "input", "output", "kind", "tags", "split")
    }
    # Windows browsers submit CRLF line endings; store the text the way it was typed.
    for name in ("instruction", "input", "output"):
        values[name] = values[name].replace("\r\n", "\n")
    changes = ExampleChanges(
        instruction=values["instruction"],
        input=values["input"],
        output=values["output"],
        kind=values["kind"],
        tags=parse_tags(values["tags"]),
        # Re-submitting the shown state must not lock an automatic split.
        split=None
        if values["split"] == (example.split if example.split_locked else AUTO_SPLIT)
        else values["split"],
    )
    try:
        examples_service.update_example(example, changes, examples_service.token_counter())
    except FieldErrors as exc:
        session.rollback()
        return _edit_form(request, example, values, exc.errors)
    session.commit()
    recheck_example(session, workspace.id, example.id, background)
    return _row(request, example, saved=True, headers={"HX-Trigger": HEALTH_CHANGED})


@pages.post("/examples/{example_id}/included", response_class=HTMLResponse)
def example_toggle_included(
    example_id: int,
    request: Request,
    background: BackgroundTasks,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Include or exclude one example (flips it) and return its row."""
    workspace = actor.workspace
    example = examples_service.get_example(session, workspace.id, example_id)
    examples_service.update_example(
        example, ExampleChanges(included=not example.included), examples_service.token_counter()
    )
    session.commit()
    recheck_example(session, workspace.id, example.id, background)
    return _row(request, example, headers={"HX-Trigger": HEALTH_CHANGED})


@pages.post("/examples/{example_id}/split", response_class=HTMLResponse)
def example_split(
    example_id: int,
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Split an example too long for the model: its row is replaced by the rows of its parts."""
    workspace = actor.workspace
    try:
        parts = examples_service.split_one(session, workspace.id, example_id, actor)
    except FieldErrors as exc:
        session.rollback()
        example = examples_service.get_example(session, workspace.id, example_id)
        return _row(request, example, split_error=" ".join(exc.errors.values()))
    refresh_health(session, workspace.id)
    context = {"parts": parts, "flag_labels": FLAG_LABELS, "split_note": split_message(1, len(parts))}
    return render(request, "examples/_split_rows.html", context, headers={"HX-Trigger": HEALTH_CHANGED})


@pages.post("/examples/health/split-long", response_class=HTMLResponse)
def health_split_long(
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Split every example too long for the model, then show the panel again (and refresh the table)."""
    workspace = actor.workspace
    split, parts = examples_service.split_too_long(session, workspace.id, actor)
    refresh_health(session, workspace.id)
    context = health_panel_context(session, workspace, message=split_message(split, parts))
    return render(request, "examples/_health.html", context, headers={"HX-Trigger": EXAMPLES_CHANGED})


@pages.get("/examples/health", response_class=HTMLResponse)
def health_panel(
    request: Request,
    actor: Reader,
    session: Session = Depends(get_session),
) -> Response:
    """The health panel partial: findings, fixes and counts for the whole workspace."""
    workspace = actor.workspace
    return render(request, "examples/_health.html", health_panel_context(session, workspace))


@pages.post("/examples/health/fix", response_class=HTMLResponse)
async def health_fix(
    request: Request,
    actor: Editor,
    session: Session = Depends(get_session),
) -> Response:
    """Apply one finding's fix, then show the panel again (and tell the table to refresh)."""
    workspace = actor.workspace
    form = await request.form()
    code = str(form.get("code", ""))
    try:
        result = apply_fix(session, workspace.id, code)
        context = health_panel_context(session, workspace, message=result.message)
    except LookupError as exc:
        session.rollback()
        context = health_panel_context(session, workspace, error=str(exc))
    return render(request, "examples/_health.html", context, headers={"HX-Trigger": EXAMPLES_CHANGED})


router.include_router(pages)
router.include_router(examples_api.router)
