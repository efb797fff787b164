"""Notices in the app ("Training “Client reports” finished") and the optional per-workspace webhook."""

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Notice, Workspace, utcnow
from app.services.outbound import check_url, post_json

log = logging.getLogger(__name__)


def add_notice(
    session: Session,
    workspace_id: int,
    message: str,
    level: str = "info",
    link: str | None = None,
    run_id: int | None = None,
) -> Notice:
    """Add a notice for everyone in the workspace (flushed, not committed)."""
    notice = Notice(workspace_id=workspace_id, message=message, level=level, link=link, run_id=run_id)
    session.add(notice)
    session.flush()
    return notice


def unread_notices(session: Session, workspace_id: int, limit: int = 20) -> list[Notice]:
    """The workspace's notices not yet dismissed, newest first."""
    stmt = (
        select(Notice)
        .where(Notice.workspace_id == workspace_id, Notice.read_at.is_(None))
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def dismiss_notice(session: Session, workspace_id: int, notice_id: int) -> bool:
    """Mark one notice of the workspace read (committed); False when there is no such notice."""
    result = session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.workspace_id == workspace_id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
    )
    session.commit()
    return bool(result.rowcount)


def set_webhook(session: Session, workspace: Workspace, url: str | None) -> None:
    """Set or clear the workspace's webhook URL (the caller commits); OutboundRefused (a ValueError) for
    anything but an http(s) URL of a public server."""
    url = (url or "").strip() or None
    if url is not None:
        check_url(url)
    workspace.webhook_url = url


def post_webhook(url: str, message: str, link: str | None) -> bool:
    """POST {"text": message, "link": link} to `url`; failures are logged and never raised."""
    text = f"{message} {link}" if link else message
    try:
        response = post_json(url, {"text": text, "message": message, "link": link})
        response.raise_for_status()
        return True
    except Exception as exc:  # the run's outcome never depends on a chat service being up
        log.warning("webhook %s failed: %s", url, exc)
        return False
