"""Account administration: members and roles, invites, reset links and API tokens of a workspace.

Plain functions on a SQLAlchemy session; each checks its invariants (the last admin of a workspace stays,
emails are unique) and records an audit event. The caller commits. The building blocks (users, one-time
links, tokens, audit events) come from app.auth; this module adds the rules an admin page needs around
them. Workspaces themselves are in app/services/workspaces.py, the audit log in app/services/audit_log.py.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth import api_tokens
from app.auth.accounts import AccountError, usable_email, user_by_email
from app.auth.audit import record_event
from app.auth.deps import Actor, user_memberships
from app.auth.errors import Forbidden
from app.auth.links import create_invite, create_reset, find_link, link_path
from app.db import write_lock
from app.models import ROLES, ApiToken, Membership, MembershipOffer, OneTimeLink, User, Workspace, utcnow
from app.services.errors import NotFound
from app.services.offers import make_offer


class Conflict(AccountError):
    """The request clashes with what exists: a taken email or slug, the last admin, a current member."""


@dataclass(frozen=True)
class Member:
    """A member of a workspace; `pending` when they have not chosen a password yet."""

    membership: Membership
    user: User

    @property
    def pending(self) -> bool:
        """Whether the person cannot sign in yet (invited, link not used)."""
        return self.user.password_hash is None


@dataclass(frozen=True)
class IssuedLink:
    """A one-time link just created: its path (show it once, never again), for whom, until when."""

    path: str
    user: User
    expires_at: datetime
    link_id: int


def display_name(user: User | None) -> str:
    """How a person is named in messages: their name, else their email ("someone" when deleted)."""
    if user is None:
        return "a deleted user"
    return user.name or user.email


def audit(session: Session, actor: Actor, workspace_id: int, action: str, target: str, **detail) -> None:
    """Record what `actor` did in `workspace_id` (which may differ from the workspace they work in)."""
    record_event(session, workspace_id, actor.user.id, action, target, detail or None, actor.ip)


def check_role(role: str) -> str:
    """`role` when it is a known role; AccountError (a user's choice, not a bug) otherwise."""
    if role not in ROLES:
        raise AccountError(f"“{role[:40]}” is not a role. Choose one of: {', '.join(ROLES)}.")
    return role


def flush_unique(session: Session, message: str) -> None:
    """Flush; a unique constraint hit by a concurrent request becomes a Conflict (session rolled back)."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(message) from None


# ---- members and roles ---------------------------------------------------------------------------


def membership_of(session: Session, user_id: int, workspace_id: int) -> Membership | None:
    """The user's membership in the workspace, or None."""
    return session.scalars(
        select(Membership).where(Membership.user_id == user_id, Membership.workspace_id == workspace_id)
    ).first()


def list_members(session: Session, workspace_id: int) -> list[Member]:
    """The workspace's members, by name then email."""
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(func.lower(User.name), User.email)
    ).all()
    return [Member(membership, user) for membership, user in rows]


def get_member(session: Session, workspace_id: int, user_id: int) -> Member:
    """One member of the workspace; NotFound when the user is not a member there."""
    row = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace_id, Membership.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"There is no member {user_id} in this workspace; they may have been removed.")
    return Member(row[0], row[1])


def _lock_workspace(session: Session, workspace_id: int) -> None:
    """Serialise role changes of one workspace, so two admins cannot demote each other at once."""
    write_lock(session, f"workspace-roles:{workspace_id}")


def usable_admin_count(session: Session, workspace_id: int) -> int:
    """How many admins of the workspace can sign in (active, with a password)."""
    query = (
        select(func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.workspace_id == workspace_id,
            Membership.role == "admin",
            User.is_active.is_(True),
            User.password_hash.is_not(None),
        )
    )
    return session.scalar(query) or 0


def _keep_an_admin(session: Session, actor: Actor, workspace: Workspace, member: Member, doing: str) -> None:
    """Conflict when `member` is the workspace's last admin who can sign in.

    `doing` names the refused change with {who}: "make {who} editor", "remove {who}".
    """
    if member.membership.role != "admin" or member.pending or not member.user.is_active:
        return
    if usable_admin_count(session, workspace.id) <= 1:
        yourself = member.user.id == actor.user.id
        subject = "You are" if yourself else f"{display_name(member.user)} is"
        change = doing.format(who="yourself" if yourself else display_name(member.user))
        raise Conflict(
            f"{subject} the only admin of {workspace.name}, so you cannot {change}. "
            "Make another member admin first, then try again."
        )


def change_role(session: Session, actor: Actor, workspace: Workspace, user_id: int, role: str) -> Member:
    """Give a member another role (takes effect on their next request); the last admin stays admin."""
    check_role(role)
    _lock_workspace(session, workspace.id)
    member = get_member(session, workspace.id, user_id)
    old = member.membership.role
    if old == role:
        return member
    if old == "admin":
        _keep_an_admin(session, actor, workspace, member, "make {who} " + role)
    member.membership.role = role
    audit(session, actor, workspace.id, "role_change", member.user.email, old=old, new=role)
    return member


def remove_member(session: Session, actor: Actor, workspace: Workspace, user_id: int) -> Member:
    """Take a member out of the workspace (their account stays); never its last admin."""
    _lock_workspace(session, workspace.id)
    member = get_member(session, workspace.id, user_id)
    _keep_an_admin(session, actor, workspace, member, "remove {who}")
    audit(session, actor, workspace.id, "remove_member", member.user.email, role=member.membership.role)
    session.delete(member.membership)
    session.flush()
    return member


def add_member(
    session: Session, actor: Actor, workspace: Workspace, email: str, role: str
) -> MembershipOffer:
    """Offer an existing account (by email) membership with `role`: they join once they accept it."""
    check_role(role)
    email = usable_email(email)
    user = user_by_email(session, email)
    if user is None:
        raise AccountError(
            f"There is no account for {email} yet. Use “Invite a new person” to create one and get a link."
        )
    existing = membership_of(session, user.id, workspace.id)
    if existing is not None:
        raise Conflict(
            f"{display_name(user)} is already a member of {workspace.name} (as {existing.role}). "
            "Change their role in the list instead."
        )
    return make_offer(session, actor, workspace, user, role)


# ---- invites and reset links ---------------------------------------------------------------------


def _issued(session: Session, raw: str, kind: str, user: User) -> IssuedLink:
    """The IssuedLink of a token just created (its row gives the expiry)."""
    link = find_link(session, raw, kind)
    assert link is not None, "a link just created is usable"
    return IssuedLink(link_path(kind, raw), user, link.expires_at, link.id)


def _invited_elsewhere(session: Session, user: User, workspace_id: int) -> bool:
    """Whether a pending account has an open invite link from another workspace (which only its holder
    may use: a second workspace must not issue a link that would set the same account's password)."""
    other = select(OneTimeLink.id).where(
        OneTimeLink.user_id == user.id,
        OneTimeLink.kind == "invite",
        OneTimeLink.used_at.is_(None),
        OneTimeLink.expires_at > utcnow(),
        OneTimeLink.workspace_id != workspace_id,
    )
    return session.scalars(other.limit(1)).first() is not None


def invite(
    session: Session, actor: Actor, workspace: Workspace, email: str, name: str, role: str
) -> IssuedLink | MembershipOffer:
    """A one-time invite link for a new person (an account without a password until they accept it); for
    an existing account, or one another workspace has invited, an offer they accept while signed in."""
    check_role(role)
    email = usable_email(email)
    existing = user_by_email(session, email)
    if existing is not None and membership_of(session, existing.id, workspace.id) is not None:
        raise Conflict(f"{display_name(existing)} is already a member of {workspace.name}.")
    if existing is not None and (
        existing.password_hash is not None or _invited_elsewhere(session, existing, workspace.id)
    ):
        return make_offer(session, actor, workspace, existing, role)
    if existing is not None:
        # One open invite per person and workspace: a new one replaces this workspace's earlier links.
        session.execute(
            update(OneTimeLink)
            .where(
                OneTimeLink.user_id == existing.id,
                OneTimeLink.workspace_id == workspace.id,
                OneTimeLink.kind == "invite",
                OneTimeLink.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )
    raw, user = create_invite(session, email, name, workspace.id, role, actor.user.id)
    flush_unique(session, f"An account for {email} was just created by someone else. Reload the page.")
    audit(session, actor, workspace.id, "invite", user.email, role=role)
    return _issued(session, raw, "invite", user)


def pending_invites(session: Session, workspace_id: int) -> list[OneTimeLink]:
    """The workspace's invites not yet accepted nor expired, newest first."""
    return list(
        session.scalars(
            select(OneTimeLink)
            .join(User, User.id == OneTimeLink.user_id)
            .where(
                OneTimeLink.workspace_id == workspace_id,
                OneTimeLink.kind == "invite",
                OneTimeLink.used_at.is_(None),
                OneTimeLink.expires_at > utcnow(),
                User.password_hash.is_(None),
            )
            .order_by(OneTimeLink.id.desc())
        )
    )


def get_invite(session: Session, workspace_id: int, link_id: int) -> OneTimeLink:
    """One pending invite of the workspace; NotFound when used, expired, cancelled or elsewhere."""
    for link in pending_invites(session, workspace_id):
        if link.id == link_id:
            return link
    raise NotFound("That invite is no longer open: it was accepted, cancelled or it expired.")


def cancel_invite(session: Session, actor: Actor, workspace: Workspace, link_id: int) -> OneTimeLink:
    """Make a pending invite unusable."""
    link = get_invite(session, workspace.id, link_id)
    link.used_at = utcnow()
    audit(session, actor, workspace.id, "cancel_invite", link.user.email, role=link.role)
    return link


def renew_invite(session: Session, actor: Actor, workspace: Workspace, link_id: int) -> IssuedLink:
    """A fresh invite link (same person, same role) in place of a pending one, e.g. when it got lost."""
    old = get_invite(session, workspace.id, link_id)
    return invite(session, actor, workspace, old.user.email, old.user.name, old.role or "reviewer")


def _check_may_reset(session: Session, actor: Actor, user: User) -> None:
    """Forbidden unless the actor is admin of every workspace the user belongs to.

    Otherwise an admin of one team could take over an account that is admin of another team.
    """
    theirs = user_memberships(session, user.id)
    mine = {m.workspace_id for m in user_memberships(session, actor.user.id) if m.role == "admin"}
    if any(m.workspace_id not in mine for m in theirs):
        # Which workspaces those are is theirs to know, not this admin's.
        raise Forbidden(
            f"{display_name(user)} is also a member of a workspace you do not administer. "
            "Ask an admin of all their workspaces to create the reset link."
        )


def reset_link(session: Session, actor: Actor, workspace: Workspace, user_id: int) -> IssuedLink:
    """A one-time password reset link for a member (earlier unused ones stop working)."""
    member = get_member(session, workspace.id, user_id)
    user = member.user
    if member.pending:
        raise AccountError(
            f"{display_name(user)} has not chosen a password yet. Send them a new invite link instead."
        )
    _check_may_reset(session, actor, user)
    raw = create_reset(session, user, actor.user.id)
    audit(session, actor, workspace.id, "reset_link", user.email)
    return _issued(session, raw, "reset", user)


def administered_users(session: Session, user_id: int) -> list[tuple[User, list[Membership]]]:
    """Everyone in the workspaces the user administers, with their memberships there, by email."""
    mine = [m.workspace_id for m in user_memberships(session, user_id) if m.role == "admin"]
    rows = session.scalars(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id.in_(mine))
        .order_by(User.email, Membership.workspace_id)
    ).all()
    people: dict[int, tuple[User, list[Membership]]] = {}
    for membership in rows:
        people.setdefault(membership.user_id, (membership.user, []))[1].append(membership)
    return list(people.values())


def member_workspace_for_reset(session: Session, actor: Actor, user_id: int) -> Workspace:
    """A workspace the actor administers where the user is a member; NotFound when there is none."""
    for membership in user_memberships(session, user_id):
        mine = membership_of(session, actor.user.id, membership.workspace_id)
        if mine is not None and mine.role == "admin":
            return membership.workspace
    raise NotFound(f"There is no user {user_id} in the workspaces you administer.")


# ---- API tokens ----------------------------------------------------------------------------------


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """The user's live API tokens, newest first."""
    return api_tokens.list_api_tokens(session, user_id)


def create_token(
    session: Session, actor: Actor, name: str, workspace_id: int | None = None
) -> tuple[str, ApiToken]:
    """A new API token for the actor, working in one of their workspaces (default: the one they work in);
    returns the raw token (show it once) and its row."""
    if actor.via_token:
        # A leaked token must not be able to mint itself a successor that outlives its revocation.
        raise Forbidden(
            "Create API tokens on your Account page in the browser; a token cannot create tokens."
        )
    if len(name.strip()) > api_tokens.MAX_NAME_CHARS:
        raise AccountError(f"The token name is too long; use at most {api_tokens.MAX_NAME_CHARS} characters.")
    workspace_id = actor.workspace.id if workspace_id is None else workspace_id
    if membership_of(session, actor.user.id, workspace_id) is None:
        raise AccountError("Choose one of your workspaces for the token.")
    raw, row = api_tokens.create_api_token(session, actor.user, name, workspace_id)
    audit(session, actor, workspace_id, "api_token_create", row.name, prefix=row.prefix)
    return raw, row


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens; NotFound for another person's or an already revoked one."""
    row = session.get(ApiToken, token_id)
    if not api_tokens.revoke_api_token(session, actor.user.id, token_id) or row is None:
        raise NotFound(f"You have no active API token {token_id}; it may be revoked already.")
    audit(session, actor, actor.workspace.id, "api_token_revoke", row.name, prefix=row.prefix)
    return row
