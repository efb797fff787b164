"""Pydantic models of the accounts JSON API: workspaces, members, invites, users, tokens, audit events."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.models import ApiToken, AuditEvent, Membership, MembershipOffer, OneTimeLink, User, Workspace
from app.services.accounts import IssuedLink, Member
from app.services.audit_log import AuditPage, action_label
from app.services.workspaces import WorkspaceSummary

Role = Literal["reviewer", "editor", "admin"]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo in a field name is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class WorkspaceCreate(Strict):
    """A new workspace; the slug (its short name) is made from the name unless given."""

    name: str = Field(..., max_length=200, examples=["Sales"])
    slug: str | None = Field(None, max_length=80, examples=["sales"])


class WorkspaceRename(Strict):
    """A workspace's new name (its slug stays)."""

    name: str = Field(..., max_length=200)


class MemberAdd(Strict):
    """Add an existing account to a workspace."""

    email: str = Field(..., max_length=320)
    role: Role = "reviewer"


class MemberPatch(Strict):
    """A member's new role."""

    role: Role


class InviteCreate(Strict):
    """Invite a new person: an account without a password and a one-time link to choose one."""

    email: str = Field(..., max_length=320)
    name: str = Field("", max_length=200)
    role: Role = "reviewer"


class UserCreate(InviteCreate):
    """Create a user (invited into `workspace_id`, or the workspace the request works in)."""

    workspace_id: int | None = None


class TokenCreate(Strict):
    """A new API token; the name says what it is for, `workspace_id` the one workspace it works in."""

    name: str = Field("", max_length=200, examples=["Nightly export script"])
    workspace_id: int | None = Field(None, description="One of your workspaces; default: the one you work in")


class WorkspaceOut(BaseModel):
    """A workspace with the caller's role and its member count."""

    id: int
    name: str
    slug: str
    role: Role
    member_count: int
    created_at: datetime

    @classmethod
    def of(cls, summary: WorkspaceSummary) -> "WorkspaceOut":
        """From the service's summary."""
        w = summary.workspace
        return cls(
            id=w.id,
            name=w.name,
            slug=w.slug,
            role=summary.role,
            member_count=summary.member_count,
            created_at=w.created_at,
        )


class MemberOut(BaseModel):
    """A member of a workspace; pending until they accept their invite."""

    user_id: int
    email: str
    name: str
    role: Role
    pending: bool
    joined_at: datetime

    @classmethod
    def of(cls, member: Member) -> "MemberOut":
        """From the service's member."""
        u, m = member.user, member.membership
        return cls(
            user_id=u.id,
            email=u.email,
            name=u.name,
            role=m.role,
            pending=member.pending,
            joined_at=m.created_at,
        )


class InviteOut(BaseModel):
    """An invite not yet accepted."""

    id: int
    email: str
    name: str
    role: Role | None
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, link: OneTimeLink) -> "InviteOut":
        """From the one-time link row."""
        return cls(
            id=link.id,
            email=link.user.email,
            name=link.user.name,
            role=link.role,
            created_at=link.created_at,
            expires_at=link.expires_at,
        )


class LinkOut(BaseModel):
    """A one-time link just created: send `url` to the person; it works once, until `expires_at`."""

    kind: Literal["invite", "reset"]
    url: str
    expires_at: datetime
    user_id: int
    email: str

    @classmethod
    def of(cls, issued: IssuedLink, origin: str) -> "LinkOut":
        """From the service's issued link and the site's address."""
        kind = "invite" if issued.path.startswith("/invite/") else "reset"
        return cls(
            kind=kind,
            url=origin + issued.path,
            expires_at=issued.expires_at,
            user_id=issued.user.id,
            email=issued.user.email,
        )


class OfferOut(BaseModel):
    """An offer of membership to an existing account: they join once they accept it."""

    id: int
    state: Literal["offered"] = "offered"
    user_id: int
    email: str
    workspace_id: int
    workspace_name: str
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, offer: MembershipOffer) -> "OfferOut":
        """From the offer row."""
        return cls(
            id=offer.id, user_id=offer.user_id, email=offer.user.email, workspace_id=offer.workspace_id,
            workspace_name=offer.workspace.name, role=offer.role, created_at=offer.created_at,
        )  # fmt: skip


class MembershipOut(BaseModel):
    """One of a person's workspaces and their role there."""

    workspace_id: int
    workspace_name: str
    workspace_slug: str
    role: Role

    @classmethod
    def of(cls, membership: Membership) -> "MembershipOut":
        """From the membership row."""
        w: Workspace = membership.workspace
        return cls(workspace_id=w.id, workspace_name=w.name, workspace_slug=w.slug, role=membership.role)


class UserOut(BaseModel):
    """A person, with their memberships (only those in workspaces the caller administers)."""

    id: int
    email: str
    name: str
    pending: bool
    memberships: list[MembershipOut]

    @classmethod
    def of(cls, user: User, memberships: list[Membership]) -> "UserOut":
        """From the user row and memberships."""
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            pending=user.password_hash is None,
            memberships=[MembershipOut.of(m) for m in memberships],
        )


class AccountOut(UserOut):
    """The caller: who they are, the workspace this request works in, and all their memberships."""

    workspace: MembershipOut


class TokenOut(BaseModel):
    """An API token as listed: never the token itself, only its first characters."""

    id: int
    name: str
    prefix: str
    workspace_id: int | None
    workspace_slug: str | None
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> "TokenOut":
        """From the token row."""
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            workspace_id=row.workspace_id,
            workspace_slug=row.workspace.slug if row.workspace else None,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )


class TokenCreated(TokenOut):
    """A token just created: `token` is shown this once; send it as `Authorization: Bearer <token>`."""

    token: str


class AuditEventOut(BaseModel):
    """One audit event."""

    id: int
    at: datetime
    user_id: int | None
    user_email: str | None
    user_name: str | None
    action: str
    label: str
    target: str
    detail: dict[str, Any] | None
    ip: str | None

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditEventOut":
        """From the event row."""
        user = event.user
        return cls(
            id=event.id,
            at=event.created_at,
            user_id=event.user_id,
            user_email=user.email if user else None,
            user_name=user.name if user else None,
            action=event.action,
            label=action_label(event.action),
            target=event.target,
            detail=event.detail,
            ip=event.ip,
        )


class AuditOut(BaseModel):
    """One page of a workspace's audit log, newest first."""

    events: list[AuditEventOut]
    page: int
    page_size: int
    total: int
    pages: int

    @classmethod
    def of(cls, page: AuditPage) -> "AuditOut":
        """From the service's page."""
        return cls(
            events=[AuditEventOut.of(e) for e in page.events],
            page=page.page,
            page_size=page.page_size,
            total=page.total,
            pages=page.pages,
        )
