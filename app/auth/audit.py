"""The audit log: who uploaded, deleted, exported, downloaded, trained or invited, per workspace."""

from typing import Any

from sqlalchemy.orm import Session

from app.auth.deps import Actor
from app.models import AuditEvent, utcnow

# What each action is called on the audit page; unknown actions are shown as they are.
ACTION_LABELS = {
    "login": "Signed in",
    "upload": "Uploaded files",
    "paste": "Pasted text",
    "sample_data": "Loaded the sample data",
    "delete_examples": "Deleted examples",
    "split_examples": "Split examples to fit the model",
    "export": "Exported examples",
    "download_original": "Downloaded an original file",
    "create_dataset": "Created a dataset",
    "delete_dataset": "Deleted a dataset",
    "freeze_snapshot": "Froze a dataset snapshot",
    "train": "Started training",
    "promote": "Promoted an adapter",
    "delete_adapter": "Deleted an adapter",
    "download_adapter": "Downloaded an adapter",
    "promote_draft": "Made a reviewed draft a training example",
    "mark_reference_bad": "Marked a reference as bad",
    "invite": "Invited a user",
    "role_change": "Changed a role",
    "password_change": "Changed their password",
    "password_reset": "Reset a password",
    "api_token_create": "Created an API token",
    "api_token_revoke": "Revoked an API token",
}


def record_event(
    session: Session,
    workspace_id: int,
    user_id: int | None,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Add an audit event without an Actor (sign-in, background tasks); the caller commits."""
    event = AuditEvent(
        workspace_id=workspace_id,
        user_id=user_id,
        action=action[:40],
        target=target,
        detail=detail,
        created_at=utcnow(),
        ip=ip,
    )
    session.add(event)
    return event


def record(
    session: Session, actor: Actor, action: str, target: str = "", detail: dict[str, Any] | None = None
) -> AuditEvent:
    """Add an audit event for what `actor` did in their current workspace; the caller commits."""
    return record_event(session, actor.workspace.id, actor.user.id, action, target, detail, actor.ip)
