"""Reading a workspace's audit log: newest first, paged, filtered by action and by user."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.audit import ACTION_LABELS
from app.models import AuditEvent, User

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Actions this module's admin pages record, next to the ones app.auth names.
ADMIN_ACTION_LABELS = {
    "create_workspace": "Created the workspace",
    "rename_workspace": "Renamed the workspace",
    "delete_workspace": "Deleted a workspace",
    "add_member": "Added a member",
    "offer_membership": "Offered membership",
    "accept_membership": "Accepted membership",
    "decline_membership": "Declined membership",
    "withdraw_offer": "Withdrew an offer",
    "remove_member": "Removed a member",
    "cancel_invite": "Cancelled an invite",
    "reset_link": "Created a password reset link",
}
LABELS = {**ACTION_LABELS, **ADMIN_ACTION_LABELS}
# Detail keys in the user's words; other keys are shown as they are.
DETAIL_LABELS = {"old": "from", "new": "to", "old_name": "was", "role": "role", "prefix": "starts with"}


def action_label(action: str) -> str:
    """What an action is called on the audit page ("role_change" → "Changed a role")."""
    return LABELS.get(action, action.replace("_", " ").capitalize())


def detail_text(detail: dict[str, Any] | None) -> str:
    """A one-line reading of an event's detail: "from editor, to admin"."""
    if not detail:
        return ""
    parts = [f"{DETAIL_LABELS.get(key, key.replace('_', ' '))} {value}" for key, value in detail.items()]
    return ", ".join(parts)


@dataclass(frozen=True)
class AuditPage:
    """One page of events with what the filters and pager need."""

    events: list[AuditEvent]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the filtered log has (at least 1)."""
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        """Whether an older page exists."""
        return self.page < self.pages


def audit_page(
    session: Session,
    workspace_id: int,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    action: str | None = None,
    user_id: int | None = None,
) -> AuditPage:
    """Page `page` (1 = newest) of the workspace's events, optionally one action's or one user's."""
    page = max(1, page)
    page_size = min(max(1, page_size), MAX_PAGE_SIZE)
    where = [AuditEvent.workspace_id == workspace_id]
    if action:
        where.append(AuditEvent.action == action)
    if user_id is not None:
        where.append(AuditEvent.user_id == user_id)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    events = session.scalars(
        select(AuditEvent)
        .where(*where)
        # The id breaks ties between events of the same instant, newest first.
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return AuditPage(list(events), page, page_size, total)


def logged_actions(session: Session, workspace_id: int) -> list[tuple[str, str]]:
    """The actions that occur in the workspace's log, as (action, label), by label: the filter's choices."""
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.workspace_id == workspace_id).distinct()
    ).all()
    return sorted(((a, action_label(a)) for a in actions), key=lambda pair: pair[1])


def logged_users(session: Session, workspace_id: int) -> list[User]:
    """The people who appear in the workspace's log, by name: the filter's choices."""
    ids = select(AuditEvent.user_id).where(AuditEvent.workspace_id == workspace_id).distinct()
    return list(
        session.scalars(select(User).where(User.id.in_(ids)).order_by(func.lower(User.name), User.email))
    )
