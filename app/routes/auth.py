"""Sign-in pages: first-run setup, sign in/out, password change, invites, resets, workspace switch."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.auth.accounts import AccountError, change_password, email_problem, normalise_email, sign_in
from app.auth.api_tokens import list_api_tokens, revoke_user_tokens
from app.auth.audit import record
from app.auth.deps import Actor, current_actor, optional_actor, request_session, user_memberships
from app.auth.errors import Forbidden
from app.auth.first_run import create_first_admin, has_users
from app.auth.handlers import safe_next
from app.auth.links import INVALID_LINK, accept_invite, find_link, use_reset
from app.auth.passwords import password_problem
from app.auth.sessions import client_ip
from app.auth.signin import end_browser_session, start_browser_session
from app.db import get_session
from app.models import OneTimeLink, User, Workspace
from app.settings import get_settings
from app.templating import templates

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[Session, Depends(get_session)]
ActorDep = Annotated[Actor, Depends(current_actor)]
FormStr = Annotated[str, Form()]


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render an auth page; the password rules' minimum length is always at hand."""
    context.setdefault("min_length", get_settings().password_min_length)
    return templates.TemplateResponse(request, f"auth/{template}", context, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other (the browser follows it with GET)."""
    return RedirectResponse(url, status_code=303)


def signed_in(
    request: Request, session: Session, user: User, url: str = "/", workspace_id: int | None = None
) -> Response:
    """A redirect to `url` that signs `user` in on this browser with a fresh session."""
    response = redirect(url)
    start_browser_session(request, response, session, user, workspace_id)
    return response


# ---- first run -----------------------------------------------------------------------------------


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request, session: SessionDep) -> Response:
    """The first-run page that creates the admin account; gone once any account exists."""
    if has_users(session):
        return redirect("/login")
    return page(request, "setup.html", form={})


@router.post("/setup")
def setup_submit(
    request: Request,
    session: SessionDep,
    email: FormStr = "",
    name: FormStr = "",
    password: FormStr = "",
    password_confirm: FormStr = "",
) -> Response:
    """Create the first admin (admin of every workspace) and sign them in."""
    if has_users(session):
        return redirect("/login")
    email = normalise_email(email)
    problem = email_problem(email) or password_problem(password, password_confirm, email=email)
    if problem is None:
        try:
            user = create_first_admin(session, email, name, password)
        except AccountError as exc:
            session.rollback()
            problem = str(exc)
    if problem is not None:
        form = {"email": email, "name": name}
        return page(request, "setup.html", status_code=400, form=form, error=problem)
    return signed_in(request, session, user)


# ---- sign in and out -----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request,
    session: SessionDep,
    actor: Annotated[Actor | None, Depends(optional_actor)],
    next: str = "/",
) -> Response:
    """The sign-in form (to /setup on a fresh install; onwards when already signed in)."""
    if not has_users(session):
        return redirect("/setup")
    if actor is not None and not actor.via_token:
        return redirect(safe_next(next))
    return page(request, "login.html", next=safe_next(next), email="")


@router.post("/login")
def login_submit(
    request: Request,
    session: SessionDep,
    email: FormStr = "",
    password: FormStr = "",
    next: FormStr = "/",
) -> Response:
    """Check email and password (throttled); on success a fresh session and on to `next`."""
    result = sign_in(session, email, password, client_ip(request))
    if result.user is None:
        return page(
            request,
            "login.html",
            status_code=result.status,
            next=safe_next(next),
            email=normalise_email(email),
            error=result.error,
        )
    return signed_in(request, session, result.user, safe_next(next))


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    """Sign this browser out (the session is revoked, not just forgotten)."""
    response = redirect("/login")
    end_browser_session(request, response, session)
    return response


# ---- password ------------------------------------------------------------------------------------


@router.get("/account/password", response_class=HTMLResponse)
def password_page(
    request: Request, session: SessionDep, actor: ActorDep, changed: bool = False, tokens: int = 0
) -> Response:
    """The change-password form (it offers to revoke the API tokens when there are any)."""
    return password_form(request, session, actor, changed=changed, tokens_revoked=tokens)


def password_form(request: Request, session: Session, actor: Actor, status_code: int = 200, **extra: Any):
    """The change-password page; `live_tokens` says whether to offer revoking API tokens."""
    live_tokens = len(list_api_tokens(session, actor.user.id))
    return page(request, "password.html", status_code=status_code, live_tokens=live_tokens, **extra)


@router.post("/account/password")
def password_submit(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    current_password: FormStr = "",
    new_password: FormStr = "",
    new_password_confirm: FormStr = "",
    revoke_tokens: FormStr = "",
) -> Response:
    """Change the password; every session of the user ends, this browser gets a fresh one; the API tokens
    are revoked too when asked."""
    if actor.via_token:
        # A token is for scripts; a password is changed by the person, in the browser.
        raise Forbidden("Change your password on the Account page in the browser, not with an API token.")
    user = actor.user
    ip = client_ip(request)
    problem = change_password(session, user, current_password, new_password, new_password_confirm, ip)
    if problem is not None:
        session.rollback()
        return password_form(request, session, actor, status_code=400, error=problem)
    revoked = revoke_user_tokens(session, user.id) if revoke_tokens else 0
    record(
        session,
        actor,
        "password_change",
        target=user.email,
        detail={"tokens_revoked": revoked} if revoked else None,
    )
    done = f"/account/password?changed=1&tokens={revoked}" if revoked else "/account/password?changed=1"
    return signed_in(request, session, user, done, actor.workspace.id)


# ---- one-time links ------------------------------------------------------------------------------


def invalid_link(request: Request, kind: str) -> HTMLResponse:
    """404 page for a used, expired or unknown link."""
    title = "Invite link not valid" if kind == "invite" else "Reset link not valid"
    return page(request, "message.html", status_code=404, title=title, message=INVALID_LINK[kind])


def invite_form(
    request: Request,
    session: Session,
    token: str,
    link: OneTimeLink,
    name: str,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    """The invite form for `link`, with the name typed so far (and an error after a refused submit)."""
    workspace = session.get(Workspace, link.workspace_id) if link.workspace_id else None
    return page(
        request,
        "invite.html",
        status_code=status_code,
        token=token,
        link=link,
        workspace=workspace,
        name=name,
        **extra,
    )


@router.get("/invite/{token}", response_class=HTMLResponse)
def invite_page(request: Request, token: str, session: SessionDep) -> Response:
    """The invite form: the invited person chooses their name and password."""
    link = find_link(session, token, "invite")
    if link is None:
        return invalid_link(request, "invite")
    return invite_form(request, session, token, link, link.user.name)


@router.post("/invite/{token}")
def invite_submit(
    request: Request,
    token: str,
    session: SessionDep,
    name: FormStr = "",
    password: FormStr = "",
    password_confirm: FormStr = "",
) -> Response:
    """Accept an invite: set name and password, join the workspace, and sign in."""
    link = find_link(session, token, "invite")
    if link is None:
        return invalid_link(request, "invite")
    problem = password_problem(password, password_confirm, email=link.user.email)
    if problem is not None:
        return invite_form(request, session, token, link, name, status_code=400, error=problem)
    try:
        user = accept_invite(session, link, name, password)
    except AccountError:
        session.rollback()
        return invalid_link(request, "invite")
    return signed_in(request, session, user, workspace_id=link.workspace_id)


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_page(request: Request, token: str, session: SessionDep) -> Response:
    """The reset form: choose a new password."""
    link = find_link(session, token, "reset")
    if link is None:
        return invalid_link(request, "reset")
    return page(request, "reset.html", token=token, link=link)


@router.post("/reset/{token}")
def reset_submit(
    request: Request,
    token: str,
    session: SessionDep,
    password: FormStr = "",
    password_confirm: FormStr = "",
) -> Response:
    """Set a new password through a reset link; every other session of the user ends."""
    link = find_link(session, token, "reset")
    if link is None:
        return invalid_link(request, "reset")
    problem = password_problem(password, password_confirm, email=link.user.email)
    if problem is not None:
        return page(request, "reset.html", status_code=400, token=token, link=link, error=problem)
    user = use_reset(session, link, password)
    return signed_in(request, session, user)


# ---- workspace switcher --------------------------------------------------------------------------


@router.post("/workspaces/switch")
def switch_workspace(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    workspace_id: Annotated[int, Form()],
    next: FormStr = "/",
) -> Response:
    """Work in another of the user's workspaces on this browser; back to the section they were in."""
    auth_session = request_session(request, session)
    member_of = {m.workspace_id for m in user_memberships(session, actor.user.id)}
    if auth_session is None or workspace_id not in member_of:
        message = "You are not a member of that workspace. Pick one of yours from the menu."
        return page(request, "message.html", status_code=404, title="Workspace not found", message=message)
    auth_session.workspace_id = workspace_id
    session.commit()
    # The same section, not the same object: an example of one workspace does not exist in another.
    section = safe_next(next).split("?", 1)[0].strip("/").split("/", 1)[0]
    return redirect(f"/{section}" if section else "/")
