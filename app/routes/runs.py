"""Training run pages: the runs list, the launch form with its live estimate, the run page, partials."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db import get_session
from app.models import Notice
from app.routes.roles import Editor, Reader
from app.routes.run_views import (
    LaunchChoice,
    launch_context,
    list_context,
    plan_context,
    read_form,
    run_view,
)
from app.routes.views import render
from app.services import runs as runs_service
from app.services.errors import NotFound
from app.services.notices import dismiss_notice as dismiss
from app.services.notices import unread_notices

router = APIRouter(include_in_schema=False)

# ---- routes ----------------------------------------------------------------------------------------


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """Every training run of the workspace, newest first, with its status."""
    return render(request, "runs/index.html", list_context(session, actor.workspace))


@router.get("/runs/list", response_class=HTMLResponse)
def runs_list(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """The runs table alone (the list polls it while a run is moving)."""
    return render(request, "runs/_list.html", list_context(session, actor.workspace))


@router.get("/runs/new", response_class=HTMLResponse)
def new_run_page(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """The launch form; reviewers see it (and the estimate) without the Start button."""
    form = dict(request.query_params)
    return render(request, "runs/new.html", launch_context(session, actor.workspace, form))


@router.post("/runs/estimate", response_class=HTMLResponse)
async def estimate_partial(
    request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """The estimate box for the form's current choices (and the presets' descriptions, out of band)."""
    choice = LaunchChoice.from_form(await read_form(request))
    context = plan_context(session, actor.workspace.id, choice) | {"oob": True}
    return render(request, "runs/_estimate.html", context)


@router.post("/runs", response_class=HTMLResponse)
async def start_run(request: Request, actor: Editor, session: Session = Depends(get_session)) -> Response:
    """Start a run and open its page; when something blocks it, the form again with the reasons."""
    form = await read_form(request)
    choice = LaunchChoice.from_form(form)
    problems = list(choice.unreadable)
    if choice.dataset_id is None:
        problems.append("Pick a dataset to train on.")
    if not problems:
        try:
            run = runs_service.create_run(
                session, actor, choice.dataset_id, choice.base_model_id, choice.preset,
                choice.overrides or None, choice.name,
            )  # fmt: skip
            return RedirectResponse(f"/runs/{run.id}", status_code=303)
        except runs_service.RunBlocked as exc:
            session.rollback()
            problems = exc.problems
    context = launch_context(session, actor.workspace, form, problems)
    return render(request, "runs/new.html", context, status_code=422)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    run_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """One run: status, progress, live loss chart, log and its adapter."""
    run = runs_service.get_run(session, actor.workspace.id, run_id)
    context = {"workspace": actor.workspace, "section": "runs", "run": run_view(session, run, detail=True)}
    return render(request, "runs/detail.html", context)


@router.get("/runs/{run_id}/status", response_class=HTMLResponse)
def run_status(
    run_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """The run page's live part (polled every 2 s while the run is queued, running or stopping)."""
    run = runs_service.get_run(session, actor.workspace.id, run_id)
    # oob: the last poll also fills the main column's everyday-writing card (runs/_general_writing.html).
    return render(request, "runs/_status.html", {"run": run_view(session, run, detail=True), "oob": True})


@router.post("/runs/{run_id}/cancel", response_class=HTMLResponse)
def cancel_run(
    run_id: int, request: Request, actor: Editor, session: Session = Depends(get_session)
) -> Response:
    """Cancel a queued run, or ask a running one to stop; htmx gets the live part, a form the page."""
    run = runs_service.cancel_run(session, actor.workspace.id, run_id, actor=actor)
    if request.headers.get("HX-Request") == "true":
        return render(request, "runs/_status.html", {"run": run_view(session, run, detail=True)})
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.get("/notices/runs", response_class=HTMLResponse)
def run_notices(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """The unread run notices (finished, failed) as a small banner for the page header."""
    notices = [n for n in unread_notices(session, actor.workspace.id, limit=5) if n.run_id is not None]
    return render(request, "runs/_notices.html", {"notices": notices})


@router.post("/notices/{notice_id}/dismiss", response_class=HTMLResponse)
def dismiss_notice(notice_id: int, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """Mark a notice read for the whole workspace; htmx removes it from the banner."""
    notice = session.get(Notice, notice_id)
    if notice is None or notice.workspace_id != actor.workspace.id:
        raise NotFound(f"Notice {notice_id} does not exist in this workspace.")
    dismiss(session, actor.workspace.id, notice_id)
    return Response(status_code=200, headers={"HX-Trigger": "notices-changed"})
