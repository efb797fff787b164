"""Your account page: name and email, your workspaces and roles, and your API tokens (shown once)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.auth.accounts import AccountError
from app.auth.deps import Actor, browser_user, request_session
from app.auth.sessions import client_ip
from app.models import User
from app.routes.admin_api import ActorDep, SessionDep
from app.routes.admin_views import AdminPageRoute, FormStr, done_message, error_status, redirect, render
from app.services import accounts, offers, workspaces
from app.templating import is_htmx

router = APIRouter(include_in_schema=False, route_class=AdminPageRoute)


def _tokens_context(session: Session, actor: Actor, **extra: Any) -> dict[str, Any]:
    """What the API tokens card shows."""
    return {"tokens": accounts.list_tokens(session, actor.user.id), "new_token": None, "error": "", **extra}


def _account_page(request: Request, session: Session, actor: Actor, status: int = 200, **extra: Any):
    """The account page with the tokens card in the state `extra` gives."""
    context = {
        "section": "account",
        "summaries": workspaces.workspace_summaries(session, actor.user.id),
        "offers": offers.offers_for_user(session, actor.user.id),
        "done": done_message(request),
        **_tokens_context(session, actor, **extra),
    }
    return render(request, "account/index.html", context, status)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """Your name and email, your workspaces and roles, the password link and your API tokens."""
    return _account_page(request, session, actor)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, session: SessionDep, actor: ActorDep, name: FormStr = "", workspace_id: FormStr = ""
) -> Response:
    """Create an API token for one workspace and show it this once (the tokens card for htmx, else the
    whole page)."""
    chosen = int(workspace_id) if workspace_id.isdigit() else None
    try:
        raw, row = accounts.create_token(session, actor, name, chosen)
    except AccountError as exc:
        session.rollback()
        extra: dict[str, Any] = {"error": str(exc), "name": name, "chosen_workspace": chosen}
        status = error_status(exc)
    else:
        session.commit()
        extra, status = {"new_token": raw, "new_row": row}, 201
    if is_htmx(request):
        # htmx swaps 2xx answers only; the card itself says what went wrong.
        return render(request, "account/_tokens.html", _tokens_context(session, actor, **extra))
    return _account_page(request, session, actor, status, **extra)


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(token_id: int, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """Revoke one of your tokens."""
    row = accounts.revoke_token(session, actor, token_id)
    session.commit()
    if is_htmx(request):
        message = f"Token “{row.name}” ({row.prefix}…) revoked: requests that send it are refused now."
        return render(request, "account/_tokens.html", _tokens_context(session, actor, message=message))
    return redirect("/account?done=revoked")


BrowserUser = Annotated[User, Depends(browser_user)]


@router.get("/account/offers", response_class=HTMLResponse)
def offers_page(request: Request, session: SessionDep, user: BrowserUser) -> Response:
    """The offers waiting for you: the one page open to an account that belongs to no workspace yet."""
    context = {
        "section": "account",
        "offers": offers.offers_for_user(session, user.id),
        "done": done_message(request),
    }
    return render(request, "account/offers.html", context)


@router.post("/account/offers/{offer_id}/accept")
def accept_offer(offer_id: int, request: Request, session: SessionDep, user: BrowserUser) -> Response:
    """Join the workspace that offered you membership, and work in it on this browser."""
    membership = offers.accept_offer(session, user, offer_id, client_ip(request))
    auth_session = request_session(request, session)
    if auth_session is not None and auth_session.workspace_id is None:
        auth_session.workspace_id = membership.workspace_id
    session.commit()
    return redirect("/account?done=joined")


@router.post("/account/offers/{offer_id}/decline")
def decline_offer(offer_id: int, request: Request, session: SessionDep, user: BrowserUser) -> Response:
    """Turn an offer down."""
    offers.decline_offer(session, user, offer_id, client_ip(request))
    session.commit()
    return redirect("/account/offers?done=declined")
