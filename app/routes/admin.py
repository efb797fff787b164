"""Admin pages: workspaces (list, create, rename, delete), a workspace's members and roles, its audit log.

The workspaces page is for admins of any workspace; a workspace's members and audit pages for that
workspace's admins (404 for other teams' workspaces, 403 below admin). Invite and reset links appear
once, in the answer to the POST that made them: only their hash is stored.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.auth.accounts import AccountError
from app.auth.csrf import own_origin
from app.auth.deps import Actor
from app.auth.errors import Forbidden
from app.models import MembershipOffer, Workspace
from app.routes.admin_api import ActorDep, AdminWorkspace, SessionDep
from app.routes.admin_views import (
    AdminPageRoute,
    FormStr,
    done_message,
    error_status,
    redirect,
    render,
    when,
)
from app.services import accounts, offers, workspaces
from app.services.accounts import IssuedLink, display_name
from app.services.audit_log import audit_page, detail_text, logged_actions, logged_users
from app.services.notices import set_webhook
from app.templating import is_htmx

router = APIRouter(include_in_schema=False, route_class=AdminPageRoute)


# ---- workspaces ----------------------------------------------------------------------------------


def _workspaces_page(request: Request, session: Session, actor: Actor, status: int = 200, **extra: Any):
    """The workspaces page: the user's workspaces and the create form."""
    if not workspaces.can_create_workspaces(session, actor.user.id):
        raise Forbidden(
            "Only admins see the Workspaces page. Your workspaces and roles are on your Account page."
        )
    context = {
        "section": "workspaces",
        "summaries": workspaces.workspace_summaries(session, actor.user.id),
        "done": done_message(request),
        "error": "",
        "name": "",
        **extra,
    }
    return render(request, "admin/workspaces.html", context, status)


@router.get("/workspaces", response_class=HTMLResponse)
def workspaces_page(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """Your workspaces with your role and member counts, and the form to create one."""
    return _workspaces_page(request, session, actor)


@router.post("/workspaces", response_class=HTMLResponse)
def create_workspace(request: Request, session: SessionDep, actor: ActorDep, name: FormStr = "") -> Response:
    """Create a workspace (you become its admin) and open its members page."""
    try:
        workspace = workspaces.create_workspace(session, actor, name)
    except AccountError as exc:
        session.rollback()
        return _workspaces_page(request, session, actor, error_status(exc), error=str(exc), name=name)
    session.commit()
    return redirect(f"/workspaces/{workspace.id}/members?done=created")


@router.get("/workspaces/{workspace_id}", include_in_schema=False)
def workspace_home(workspace: AdminWorkspace) -> Response:
    """A workspace's page is its members page."""
    return redirect(f"/workspaces/{workspace.id}/members")


@router.post("/workspaces/{workspace_id}/rename", response_class=HTMLResponse)
def rename_workspace(
    request: Request,
    workspace: AdminWorkspace,
    session: SessionDep,
    actor: ActorDep,
    name: FormStr = "",
    webhook_url: FormStr = "",
) -> Response:
    """Save the settings form: the name (the short name stays) and the run webhook (empty: none)."""
    try:
        workspaces.rename_workspace(session, actor, workspace, name)
        set_webhook(session, workspace, webhook_url)
    except (AccountError, ValueError) as exc:
        return _refused(request, session, actor, workspace, AccountError(str(exc)), "rename")
    session.commit()
    return redirect(f"/workspaces/{workspace.id}/members?done=renamed")


@router.post("/workspaces/{workspace_id}/delete", response_class=HTMLResponse)
def delete_workspace(
    request: Request, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep, confirm: FormStr = ""
) -> Response:
    """Delete the workspace and everything in it, after its name was typed to confirm."""
    try:
        workspaces.delete_workspace(session, actor, workspace, confirm)
    except AccountError as exc:
        return _refused(request, session, actor, workspace, exc, "delete")
    session.commit()
    still_admin = workspaces.can_create_workspaces(session, actor.user.id)
    return redirect("/workspaces?done=deleted" if still_admin else "/account")


# ---- members -------------------------------------------------------------------------------------


def members_response(
    request: Request, session: Session, actor: Actor, workspace: Workspace, status: int = 200, **extra: Any
) -> HTMLResponse:
    """The members page of `workspace` in the state `extra` gives (errors, values, an issued link)."""
    context = {
        "section": "workspaces",
        "ws": workspace,
        "members": accounts.list_members(session, workspace.id),
        "invites": accounts.pending_invites(session, workspace.id),
        "offers": offers.offers_of_workspace(session, workspace.id),
        "me": actor.user.id,
        "done": done_message(request),
        "errors": {},
        "values": {"role": "reviewer", "invite_role": "reviewer"},
        "issued": None,
        "origin": own_origin(request),
        **extra,
    }
    return render(request, "admin/members.html", context, status)


def _refused(
    request: Request,
    session: Session,
    actor: Actor,
    workspace: Workspace,
    exc: AccountError | Forbidden,
    form: str,
    **extra: Any,
) -> HTMLResponse:
    """The members page after a refused change: rolled back, the reason shown at `form`, `extra` kept."""
    session.rollback()
    status = 403 if isinstance(exc, Forbidden) else error_status(exc)
    return members_response(request, session, actor, workspace, status, errors={form: str(exc)}, **extra)


@router.get("/workspaces/{workspace_id}/members", response_class=HTMLResponse)
def members_page(
    request: Request, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> Response:
    """The workspace's members with their roles, invites, and the workspace's settings."""
    return members_response(request, session, actor, workspace)


@router.post("/workspaces/{workspace_id}/members", response_class=HTMLResponse)
def add_member(
    request: Request,
    workspace: AdminWorkspace,
    session: SessionDep,
    actor: ActorDep,
    email: FormStr = "",
    role: FormStr = "reviewer",
) -> Response:
    """Offer an existing account membership (they join once they accept it on their Account page)."""
    try:
        accounts.add_member(session, actor, workspace, email, role)
    except AccountError as exc:
        values = {"email": email, "role": role, "invite_role": "reviewer"}
        return _refused(request, session, actor, workspace, exc, "add", values=values)
    session.commit()
    return redirect(f"/workspaces/{workspace.id}/members?done=offered")


def _row(request: Request, workspace: Workspace, actor: Actor, member: accounts.Member, **extra: Any):
    """One member's table row (after an inline change)."""
    context = {"ws": workspace, "m": member, "me": actor.user.id, "message": "", "error": "", **extra}
    return render(request, "admin/_member_row.html", context)


def _member_refused(
    request: Request, session: Session, actor: Actor, workspace: Workspace, user_id: int, exc: AccountError
) -> HTMLResponse:
    """After a refused change to one member: their row with the reason for htmx, else the members page."""
    if is_htmx(request):
        session.rollback()
        member = accounts.get_member(session, workspace.id, user_id)
        return _row(request, workspace, actor, member, error=str(exc))
    return _refused(request, session, actor, workspace, exc, "members")


def _left_admin(session: Session, actor: Actor, workspace: Workspace, user_id: int) -> bool:
    """Whether the actor just changed their own role here to below admin (or left)."""
    if user_id != actor.user.id:
        return False
    mine = accounts.membership_of(session, actor.user.id, workspace.id)
    return mine is None or mine.role != "admin"


@router.post("/workspaces/{workspace_id}/members/{user_id}/role", response_class=HTMLResponse)
def change_role(
    user_id: int,
    request: Request,
    workspace: AdminWorkspace,
    session: SessionDep,
    actor: ActorDep,
    role: FormStr = "",
) -> Response:
    """Change a member's role: the row again for htmx (with the reason when refused), else the page."""
    htmx = is_htmx(request)
    try:
        member = accounts.change_role(session, actor, workspace, user_id, role)
    except AccountError as exc:
        return _member_refused(request, session, actor, workspace, user_id, exc)
    session.commit()
    if _left_admin(session, actor, workspace, user_id):
        # Not an admin here any more: this page is closed to them now.
        return redirect("/account", htmx)
    if htmx:
        message = f"{display_name(member.user)} is now {member.membership.role}."
        return _row(request, workspace, actor, member, message=message)
    return redirect(f"/workspaces/{workspace.id}/members?done=role")


@router.post("/workspaces/{workspace_id}/members/{user_id}/remove", response_class=HTMLResponse)
def remove_member(
    user_id: int, request: Request, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> Response:
    """Remove a member (their account stays); never the last admin."""
    htmx = is_htmx(request)
    try:
        member = accounts.remove_member(session, actor, workspace, user_id)
    except AccountError as exc:
        return _member_refused(request, session, actor, workspace, user_id, exc)
    session.commit()
    if _left_admin(session, actor, workspace, user_id):
        return redirect("/account", htmx)
    if htmx:
        message = f"{display_name(member.user)} was removed from {workspace.name}. Their account stays."
        return render(request, "admin/_removed_row.html", {"message": message})
    return redirect(f"/workspaces/{workspace.id}/members?done=removed")


def _issued_response(
    request: Request, session: Session, actor: Actor, workspace: Workspace, issued: IssuedLink, kind: str
) -> HTMLResponse:
    """The members page showing a link just created (once: it is not stored, only its hash)."""
    session.commit()
    shown = {"kind": kind, "url": own_origin(request) + issued.path, "name": display_name(issued.user)}
    shown["until"] = when(issued.expires_at)
    return members_response(request, session, actor, workspace, 201, issued=shown)


@router.post("/workspaces/{workspace_id}/members/{user_id}/reset-link", response_class=HTMLResponse)
def reset_link(
    user_id: int, request: Request, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> Response:
    """Create a one-time password reset link for a member and show it once."""
    try:
        issued = accounts.reset_link(session, actor, workspace, user_id)
    except (AccountError, Forbidden) as exc:
        return _refused(request, session, actor, workspace, exc, "members")
    return _issued_response(request, session, actor, workspace, issued, "reset")


@router.post("/workspaces/{workspace_id}/invites", response_class=HTMLResponse)
def invite(
    request: Request,
    workspace: AdminWorkspace,
    session: SessionDep,
    actor: ActorDep,
    email: FormStr = "",
    name: FormStr = "",
    role: FormStr = "reviewer",
) -> Response:
    """Invite a new person: an account without a password and a one-time link, shown once (someone who has
    an account, or has been invited by another workspace, gets an offer to accept instead)."""
    try:
        issued = accounts.invite(session, actor, workspace, email, name, role)
    except AccountError as exc:
        values = {"invite_email": email, "invite_name": name, "invite_role": role, "role": "reviewer"}
        return _refused(request, session, actor, workspace, exc, "invite", values=values)
    if isinstance(issued, MembershipOffer):
        session.commit()
        return redirect(f"/workspaces/{workspace.id}/members?done=offered")
    return _issued_response(request, session, actor, workspace, issued, "invite")


@router.post("/workspaces/{workspace_id}/offers/{offer_id}/withdraw")
def withdraw_offer(
    offer_id: int, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> Response:
    """Take back an offer nobody has answered yet."""
    offers.withdraw_offer(session, actor, workspace, offer_id)
    session.commit()
    return redirect(f"/workspaces/{workspace.id}/members?done=offer_withdrawn")


@router.post("/workspaces/{workspace_id}/invites/{invite_id}/renew", response_class=HTMLResponse)
def renew_invite(
    invite_id: int, request: Request, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> Response:
    """A new link for an open invite (the old link stops working), shown once."""
    issued = accounts.renew_invite(session, actor, workspace, invite_id)
    return _issued_response(request, session, actor, workspace, issued, "invite")


@router.post("/workspaces/{workspace_id}/invites/{invite_id}/cancel")
def cancel_invite(
    invite_id: int, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> Response:
    """Cancel an open invite: its link stops working."""
    accounts.cancel_invite(session, actor, workspace, invite_id)
    session.commit()
    return redirect(f"/workspaces/{workspace.id}/members?done=invite_cancelled")


# ---- audit log -----------------------------------------------------------------------------------


def _int_or_none(value: str | None) -> int | None:
    """A query parameter as a positive int, or None when empty or not a number."""
    return int(value) if value and value.isdigit() else None


@router.get("/workspaces/{workspace_id}/audit", response_class=HTMLResponse)
def audit_log(request: Request, workspace: AdminWorkspace, session: SessionDep) -> Response:
    """The workspace's audit log, newest first, paged, filtered by action and by user."""
    params = request.query_params
    action = params.get("action") or None
    user_id = _int_or_none(params.get("user"))
    page = audit_page(
        session, workspace.id, _int_or_none(params.get("page")) or 1, action=action, user_id=user_id
    )
    context = {
        "section": "workspaces",
        "ws": workspace,
        "log": page,
        "actions": logged_actions(session, workspace.id),
        "users": logged_users(session, workspace.id),
        "action": action or "",
        "user_id": user_id,
        "detail_text": detail_text,
    }
    return render(request, "admin/audit.html", context)
