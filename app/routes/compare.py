"""Compare and review pages: a run's comparison (drafts side by side, metrics, filters), the blind review
of its pairs, and the two fixes found while reading them (promote a draft, mark a reference bad)."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.db import get_session
from app.routes.compare_views import compare_context, pair_context, review_list_context
from app.routes.roles import Editor, Reader
from app.routes.run_views import read_form
from app.routes.views import render
from app.services import comparisons as comparisons_service
from app.services import reviews as reviews_service
from app.services.errors import FieldErrors
from app.templating import is_htmx

router = APIRouter(include_in_schema=False)


def _page_number(request: Request) -> int:
    """The ?page= of the request (1 when missing or not a number)."""
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() else 1


@router.get("/runs/{run_id}/comparison")
def run_comparison(run_id: int, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """The comparison of the run's adapter (the run page links here before it knows the comparison's id)."""
    comparison = comparisons_service.comparison_for_run(session, actor.workspace.id, run_id)
    return RedirectResponse(f"/compare/{comparison.id}", status_code=303)


@router.get("/compare/{comparison_id}", response_class=HTMLResponse)
def compare_page(
    comparison_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """Base and adapted drafts of every held-out example beside the reference, with metrics and filters."""
    comparison = comparisons_service.get_comparison(session, actor.workspace.id, comparison_id)
    show = request.query_params.get("show", "all")
    context = compare_context(session, actor.workspace, comparison, show, _page_number(request))
    return render(request, "compare/page.html", context)


@router.get("/compare/{comparison_id}/live", response_class=HTMLResponse)
def compare_live(
    comparison_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """The comparison's live part, polled while the worker is still writing drafts."""
    comparison = comparisons_service.get_comparison(session, actor.workspace.id, comparison_id)
    show = request.query_params.get("show", "all")
    context = compare_context(session, actor.workspace, comparison, show, _page_number(request))
    return render(request, "compare/_live.html", context)


def _action_result(
    request: Request, actor_workspace: object, comparison_id: int, message: str, error: str = ""
) -> Response:
    """The outcome of a fix: a notice for htmx (swapped in place), a page otherwise."""
    context = {"workspace": actor_workspace, "section": "review", "comparison_id": comparison_id}
    context |= {"message": message, "error": error}
    if is_htmx(request):
        return render(request, "compare/_action_result.html", context)
    return render(request, "compare/action.html", context, status_code=422 if error else 200)


@router.post("/compare/items/{item_id}/promote", response_class=HTMLResponse)
async def promote_draft(
    item_id: int, request: Request, actor: Editor, session: Session = Depends(get_session)
) -> Response:
    """Add the (edited) draft as a new training example of the run's dataset."""
    form = await read_form(request)
    item = reviews_service.get_item(session, actor.workspace.id, item_id)
    try:
        example, dataset = reviews_service.promote_draft(session, actor, item_id, form.get("output", ""))
    except FieldErrors as exc:
        session.rollback()
        return _action_result(request, actor.workspace, item.comparison_id, "", " ".join(exc.errors.values()))
    message = reviews_service.promoted_message(example, dataset)
    return _action_result(request, actor.workspace, item.comparison_id, message)


@router.post("/compare/items/{item_id}/bad-reference", response_class=HTMLResponse)
def mark_reference_bad(
    item_id: int, request: Request, actor: Editor, session: Session = Depends(get_session)
) -> Response:
    """Tag the example behind this reference "bad reference" and exclude it from training."""
    item = reviews_service.get_item(session, actor.workspace.id, item_id)
    example = reviews_service.mark_reference_bad(session, actor, item_id)
    message = reviews_service.bad_reference_message(example)
    return _action_result(request, actor.workspace, item.comparison_id, message)


@router.get("/review", response_class=HTMLResponse)
def review_index(request: Request, actor: Reader, session: Session = Depends(get_session)) -> Response:
    """Every comparison to review, with how far the blind review got and the win rate so far."""
    return render(request, "review/index.html", review_list_context(session, actor.workspace))


@router.get("/review/{comparison_id}", response_class=HTMLResponse)
def review_page(
    comparison_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """The next pair for this reviewer as A and B (or ?item= to look again and change a vote)."""
    comparison = comparisons_service.get_comparison(session, actor.workspace.id, comparison_id)
    wanted = request.query_params.get("item", "")
    item_id = int(wanted) if wanted.isdigit() else None
    context = pair_context(session, actor.workspace, comparison, actor.user.id, item_id)
    return render(request, "review/page.html", context)


@router.post("/review/items/{item_id}/vote", response_class=HTMLResponse)
async def vote(
    item_id: int, request: Request, actor: Reader, session: Session = Depends(get_session)
) -> Response:
    """Record the reviewer's verdict on a pair, then show the next pair (htmx) or go to it."""
    form = await read_form(request)
    item = reviews_service.get_item(session, actor.workspace.id, item_id)
    error = ""
    try:
        reviews_service.cast_vote(
            session,
            actor.workspace.id,
            actor.user.id,
            item_id,
            form.get("choice", ""),
            form.get("comment", ""),
        )
    except FieldErrors as exc:
        session.rollback()
        error = " ".join(exc.errors.values())
    if not is_htmx(request) and not error:
        return RedirectResponse(f"/review/{item.comparison_id}", status_code=303)
    comparison = comparisons_service.get_comparison(session, actor.workspace.id, item.comparison_id)
    # A refused vote shows the same pair again with the reason; an accepted one moves on.
    context = pair_context(session, actor.workspace, comparison, actor.user.id, item_id if error else None)
    context |= {"error": error, "last_item_id": None if error else item_id}
    if is_htmx(request):
        return render(request, "review/_pair.html", context)
    return render(request, "review/page.html", context, status_code=422)
