"""Workspaces: create (the creator becomes admin), rename, delete, list with roles, the admin check.

The slug (the short name an API request may send in X-Lastmile-Workspace) is unique and never changes
on rename.
"""

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.auth.accounts import AccountError, set_membership
from app.auth.deps import Actor, role_at_least, user_memberships
from app.auth.errors import Forbidden, role_message
from app.models import Membership, Workspace, utcnow
from app.services.accounts import Conflict, audit, flush_unique, membership_of
from app.services.errors import NotFound

MAX_WORKSPACE_NAME = 200
MAX_SLUG = 80
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
NO_WORKSPACE = "There is no workspace {id} among yours. Pick one from the Workspaces page."


@dataclass(frozen=True)
class WorkspaceSummary:
    """One of a user's workspaces: their role there and how many members it has."""

    workspace: Workspace
    role: str
    member_count: int


def slugify(name: str) -> str:
    """The short name of a workspace used in API requests: "Sales & Legal" → "sales-legal"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:MAX_SLUG].strip("-") or "workspace"


def _workspace_name(name: str) -> str:
    """A trimmed workspace name; AccountError when empty or too long."""
    name = " ".join(name.split())
    if not name:
        raise AccountError("Enter a name for the workspace, for example Sales or Legal.")
    if len(name) > MAX_WORKSPACE_NAME:
        raise AccountError(f"The workspace name is {len(name)} characters; use at most {MAX_WORKSPACE_NAME}.")
    return name


def _check_slug_free(session: Session, slug: str, name: str) -> None:
    """Conflict when another workspace already uses `slug`."""
    taken = session.scalars(select(Workspace).where(Workspace.slug == slug)).first()
    if taken is not None:
        raise Conflict(
            f"The short name “{slug}” (from “{name}”) is used by another workspace already. "
            "Choose a different name."
        )


def can_create_workspaces(session: Session, user_id: int) -> bool:
    """Whether the user may create workspaces: they are admin of at least one."""
    return any(m.role == "admin" for m in user_memberships(session, user_id))


def create_workspace(session: Session, actor: Actor, name: str, slug: str | None = None) -> Workspace:
    """A new workspace named `name` (slug from the name unless given); the creator becomes its admin."""
    if not can_create_workspaces(session, actor.user.id):
        raise Forbidden("Only admins can create workspaces. Ask an admin of your workspace.")
    name = _workspace_name(name)
    slug = (slug or "").strip().lower() or slugify(name)
    if not SLUG_PATTERN.match(slug):
        raise AccountError(
            f"“{slug[:100]}” cannot be a short name: use lower-case letters, digits and dashes "
            f"(at most {MAX_SLUG}), starting and ending with a letter or digit."
        )
    _check_slug_free(session, slug, name)
    workspace = Workspace(name=name, slug=slug, created_at=utcnow())
    session.add(workspace)
    flush_unique(session, f"The short name “{slug}” was just taken by another workspace. Try again.")
    set_membership(session, actor.user.id, workspace.id, "admin")
    audit(session, actor, workspace.id, "create_workspace", name, slug=slug)
    return workspace


def rename_workspace(session: Session, actor: Actor, workspace: Workspace, name: str) -> Workspace:
    """Give the workspace a new name; the slug stays, so scripts using it keep working."""
    name = _workspace_name(name)
    old = workspace.name
    if name != old:
        workspace.name = name
        audit(session, actor, workspace.id, "rename_workspace", name, old_name=old)
    return workspace


def delete_workspace(session: Session, actor: Actor, workspace: Workspace, confirm: str) -> None:
    """Delete the workspace and everything in it (when `confirm` repeats its name); never the last one."""
    if " ".join(confirm.split()).casefold() != workspace.name.casefold():
        raise AccountError(
            f"Type the workspace name “{workspace.name}” exactly to confirm; nothing was deleted."
        )
    if session.scalar(select(func.count()).select_from(Workspace)) <= 1:
        raise Conflict(f"{workspace.name} is the only workspace; Lastmile needs at least one.")
    # The workspace's own log goes with it; the event is kept where the admin still works.
    remaining = [m for m in user_memberships(session, actor.user.id) if m.workspace_id != workspace.id]
    if remaining:
        audit(
            session, actor, remaining[0].workspace_id, "delete_workspace", workspace.name, slug=workspace.slug
        )
    # The database deletes the workspace's rows (ON DELETE CASCADE); sessions there move elsewhere.
    session.execute(delete(Workspace).where(Workspace.id == workspace.id))


def workspace_summaries(session: Session, user_id: int) -> list[WorkspaceSummary]:
    """The user's workspaces in name order, with their role and each workspace's member count."""
    memberships = user_memberships(session, user_id)
    ids = [m.workspace_id for m in memberships]
    counts = dict(
        session.execute(
            select(Membership.workspace_id, func.count())
            .where(Membership.workspace_id.in_(ids))
            .group_by(Membership.workspace_id)
        ).all()
    )
    return [WorkspaceSummary(m.workspace, m.role, counts.get(m.workspace_id, 0)) for m in memberships]


def administered_workspace(session: Session, user_id: int, workspace_id: int) -> Workspace:
    """The workspace when the user is its admin; NotFound when not a member, Forbidden below admin."""
    membership = membership_of(session, user_id, workspace_id)
    if membership is None:
        # Other teams' workspaces look missing, whether they exist or not.
        raise NotFound(NO_WORKSPACE.format(id=workspace_id))
    if not role_at_least(membership.role, "admin"):
        raise Forbidden(role_message(membership.role, membership.workspace.name, "admin"))
    return membership.workspace
