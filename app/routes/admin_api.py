"""JSON API for accounts (tag "accounts"): workspaces, members, invites, users, API tokens, the audit log.

Every route needs a signed-in user or an API token. Workspace routes need the caller to be admin of the
workspace in the path: a workspace they are not a member of answers 404, one where they are below admin
answers 403. Refusals of the services answer 404 (missing), 409 (conflict) or 422 (invalid input).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.auth.accounts import AccountError
from app.auth.csrf import own_origin
from app.auth.deps import Actor, browser_user, current_actor, require_role, user_memberships
from app.auth.errors import Forbidden
from app.auth.sessions import client_ip
from app.db import get_session
from app.models import MembershipOffer, User, Workspace
from app.routes.admin_schemas import (
    AccountOut,
    AuditOut,
    InviteCreate,
    InviteOut,
    LinkOut,
    MemberAdd,
    MemberOut,
    MemberPatch,
    MembershipOut,
    OfferOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    WorkspaceCreate,
    WorkspaceOut,
    WorkspaceRename,
)
from app.routes.refusal_route import RefusalRoute
from app.services import accounts, offers, workspaces
from app.services.accounts import Conflict, IssuedLink
from app.services.audit_log import PAGE_SIZE, audit_page
from app.services.errors import NotFound

SessionDep = Annotated[Session, Depends(get_session)]
ActorDep = Annotated[Actor, Depends(current_actor)]
BrowserUser = Annotated[User, Depends(browser_user)]


def admin_workspace(workspace_id: int, session: SessionDep, actor: ActorDep) -> Workspace:
    """The workspace in the path when the caller is its admin (404 for others' workspaces, 403 below)."""
    return workspaces.administered_workspace(session, actor.user.id, workspace_id)


AdminWorkspace = Annotated[Workspace, Depends(admin_workspace)]


class AccountsApiRoute(RefusalRoute):
    """A route answering the services' refusals as JSON: 404 missing, 409 conflict, 422 invalid input."""

    caught = (NotFound, AccountError)

    def refusal(self, request: Request, exc: Exception) -> Response:
        """The refusal as JSON with the status code its kind calls for."""
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)


router = APIRouter(prefix="/api", tags=["accounts"], route_class=AccountsApiRoute)


# ---- workspaces ----------------------------------------------------------------------------------


def _summary(session: Session, user_id: int, workspace_id: int) -> WorkspaceOut:
    """The caller's summary of one of their workspaces."""
    found = next(
        s for s in workspaces.workspace_summaries(session, user_id) if s.workspace.id == workspace_id
    )
    return WorkspaceOut.of(found)


@router.get("/workspaces")
def list_workspaces(session: SessionDep, actor: ActorDep) -> list[WorkspaceOut]:
    """The caller's workspaces with their role and each one's member count."""
    return [WorkspaceOut.of(s) for s in workspaces.workspace_summaries(session, actor.user.id)]


@router.post("/workspaces", status_code=201)
def create_workspace(body: WorkspaceCreate, session: SessionDep, actor: ActorDep) -> WorkspaceOut:
    """Create a workspace (admins only); the caller becomes its admin."""
    workspace = workspaces.create_workspace(session, actor, body.name, body.slug)
    session.commit()
    return _summary(session, actor.user.id, workspace.id)


@router.patch("/workspaces/{workspace_id}")
def rename_workspace(
    body: WorkspaceRename, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> WorkspaceOut:
    """Rename a workspace; its slug stays."""
    workspaces.rename_workspace(session, actor, workspace, body.name)
    session.commit()
    return _summary(session, actor.user.id, workspace.id)


@router.delete("/workspaces/{workspace_id}", status_code=204)
def delete_workspace(
    workspace: AdminWorkspace,
    session: SessionDep,
    actor: ActorDep,
    confirm: Annotated[str, Query(description="The workspace's name, to confirm.")] = "",
) -> Response:
    """Delete a workspace with all its documents, examples and datasets (never the last workspace)."""
    workspaces.delete_workspace(session, actor, workspace, confirm)
    session.commit()
    return Response(status_code=204)


# ---- members -------------------------------------------------------------------------------------


@router.get("/workspaces/{workspace_id}/members")
def list_members(workspace: AdminWorkspace, session: SessionDep) -> list[MemberOut]:
    """The workspace's members and their roles."""
    return [MemberOut.of(m) for m in accounts.list_members(session, workspace.id)]


@router.post("/workspaces/{workspace_id}/members", status_code=202)
def add_member(body: MemberAdd, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep) -> OfferOut:
    """Offer an existing account (by email) membership: they join once they accept it (202)."""
    offer = accounts.add_member(session, actor, workspace, body.email, body.role)
    session.commit()
    return OfferOut.of(offer)


@router.get("/workspaces/{workspace_id}/offers")
def list_workspace_offers(workspace: AdminWorkspace, session: SessionDep) -> list[OfferOut]:
    """The workspace's offers nobody has answered yet."""
    return [OfferOut.of(o) for o in offers.offers_of_workspace(session, workspace.id)]


@router.delete("/workspaces/{workspace_id}/offers/{offer_id}", status_code=204)
def withdraw_offer(
    offer_id: int, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> Response:
    """Take back an unanswered offer."""
    offers.withdraw_offer(session, actor, workspace, offer_id)
    session.commit()
    return Response(status_code=204)


@router.patch("/workspaces/{workspace_id}/members/{user_id}")
def change_role(
    user_id: int, body: MemberPatch, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> MemberOut:
    """Change a member's role; the last admin cannot be demoted (409)."""
    member = accounts.change_role(session, actor, workspace, user_id, body.role)
    session.commit()
    return MemberOut.of(member)


@router.delete("/workspaces/{workspace_id}/members/{user_id}", status_code=204)
def remove_member(user_id: int, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep) -> Response:
    """Remove a member from the workspace (their account stays); never the last admin (409)."""
    accounts.remove_member(session, actor, workspace, user_id)
    session.commit()
    return Response(status_code=204)


@router.post("/workspaces/{workspace_id}/members/{user_id}/reset-link", status_code=201)
def reset_link(
    user_id: int, request: Request, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> LinkOut:
    """A one-time password reset link for a member; shown this once."""
    issued = accounts.reset_link(session, actor, workspace, user_id)
    session.commit()
    return LinkOut.of(issued, own_origin(request))


# ---- invites -------------------------------------------------------------------------------------


@router.get("/workspaces/{workspace_id}/invites")
def list_invites(workspace: AdminWorkspace, session: SessionDep) -> list[InviteOut]:
    """Invites of the workspace not yet accepted nor expired."""
    return [InviteOut.of(link) for link in accounts.pending_invites(session, workspace.id)]


def invited(issued: IssuedLink | MembershipOffer, request: Request) -> LinkOut | JSONResponse:
    """The answer to an invite: the link (201), or the offer an existing account got instead (202)."""
    if isinstance(issued, MembershipOffer):
        return JSONResponse(OfferOut.of(issued).model_dump(mode="json"), status_code=202)
    return LinkOut.of(issued, own_origin(request))


@router.post("/workspaces/{workspace_id}/invites", status_code=201, responses={202: {"model": OfferOut}})
def create_invite(
    body: InviteCreate, request: Request, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> LinkOut:
    """Invite a new person: the one-time link to send them (shown this once); someone who has an account,
    or was invited by another workspace, gets an offer to accept while signed in instead (202)."""
    issued = accounts.invite(session, actor, workspace, body.email, body.name, body.role)
    session.commit()
    return invited(issued, request)


@router.delete("/workspaces/{workspace_id}/invites/{invite_id}", status_code=204)
def cancel_invite(
    invite_id: int, workspace: AdminWorkspace, session: SessionDep, actor: ActorDep
) -> Response:
    """Cancel an invite: its link stops working."""
    accounts.cancel_invite(session, actor, workspace, invite_id)
    session.commit()
    return Response(status_code=204)


# ---- users ---------------------------------------------------------------------------------------


@router.get("/users/me")
def me(session: SessionDep, actor: ActorDep) -> AccountOut:
    """The caller, the workspace this request works in, and all their memberships."""
    memberships = user_memberships(session, actor.user.id)
    current = next(m for m in memberships if m.workspace_id == actor.workspace.id)
    return AccountOut(**UserOut.of(actor.user, memberships).model_dump(), workspace=MembershipOut.of(current))


@router.get("/users")
def list_users(session: SessionDep, actor: ActorDep) -> list[UserOut]:
    """Everyone in the workspaces the caller administers, with their roles there."""
    if not workspaces.can_create_workspaces(session, actor.user.id):
        raise Forbidden("Only admins can list users. Your own account is at /api/users/me.")
    return [UserOut.of(u, ms) for u, ms in accounts.administered_users(session, actor.user.id)]


@router.post("/users", status_code=201, responses={202: {"model": OfferOut}})
def create_user(body: UserCreate, request: Request, session: SessionDep, actor: ActorDep) -> LinkOut:
    """Create an account invited into `workspace_id` (else the current workspace); returns the link (or,
    for an existing account, the offer it got: 202)."""
    workspace_id = body.workspace_id if body.workspace_id is not None else actor.workspace.id
    workspace = workspaces.administered_workspace(session, actor.user.id, workspace_id)
    issued = accounts.invite(session, actor, workspace, body.email, body.name, body.role)
    session.commit()
    return invited(issued, request)


@router.post("/users/{user_id}/reset-link", status_code=201)
def user_reset_link(user_id: int, request: Request, session: SessionDep, actor: ActorDep) -> LinkOut:
    """A one-time password reset link for a user in a workspace the caller administers."""
    workspace = accounts.member_workspace_for_reset(session, actor, user_id)
    issued = accounts.reset_link(session, actor, workspace, user_id)
    session.commit()
    return LinkOut.of(issued, own_origin(request))


# ---- offers made to you --------------------------------------------------------------------------


@router.get("/offers")
def list_my_offers(session: SessionDep, user: BrowserUser) -> list[OfferOut]:
    """Workspaces that offered you membership, waiting for your answer (from a browser session)."""
    return [OfferOut.of(o) for o in offers.offers_for_user(session, user.id)]


@router.post("/offers/{offer_id}/accept")
def accept_offer(offer_id: int, request: Request, session: SessionDep, user: BrowserUser) -> MembershipOut:
    """Join the workspace that offered you membership (from a browser session, never with a token)."""
    membership = offers.accept_offer(session, user, offer_id, client_ip(request))
    session.commit()
    return MembershipOut.of(membership)


@router.post("/offers/{offer_id}/decline", status_code=204)
def decline_offer(offer_id: int, request: Request, session: SessionDep, user: BrowserUser) -> Response:
    """Turn an offer down (from a browser session)."""
    offers.decline_offer(session, user, offer_id, client_ip(request))
    session.commit()
    return Response(status_code=204)


# ---- API tokens ----------------------------------------------------------------------------------


@router.get("/tokens")
def list_tokens(session: SessionDep, actor: ActorDep) -> list[TokenOut]:
    """The caller's active API tokens (never the tokens themselves)."""
    return [TokenOut.of(t) for t in accounts.list_tokens(session, actor.user.id)]


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, session: SessionDep, actor: ActorDep) -> TokenCreated:
    """A new API token for one workspace, shown this once (only from a browser session)."""
    raw, row = accounts.create_token(session, actor, body.name, body.workspace_id)
    session.commit()
    return TokenCreated(**TokenOut.of(row).model_dump(), token=raw)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, session: SessionDep, actor: ActorDep) -> Response:
    """Revoke one of the caller's tokens; requests with it are refused from now on."""
    accounts.revoke_token(session, actor, token_id)
    session.commit()
    return Response(status_code=204)


# ---- audit log -----------------------------------------------------------------------------------


@router.get("/audit")
def audit(
    session: SessionDep,
    actor: Annotated[Actor, Depends(require_role("admin"))],
    action: str | None = None,
    user_id: int | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
) -> AuditOut:
    """The audit log of the workspace the request works in (admins only), newest first."""
    return AuditOut.of(audit_page(session, actor.workspace.id, page, page_size, action or None, user_id))
