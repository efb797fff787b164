"""One-time links: invites (a pending user chooses name and password) and password resets."""

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.accounts import AccountError, create_user, normalise_email, set_membership, set_password
from app.auth.api_tokens import revoke_user_tokens
from app.auth.errors import check_role_name
from app.auth.tokens import as_utc, digest, random_token
from app.db import write_lock
from app.models import OneTimeLink, User, utcnow
from app.settings import get_settings

KINDS = ("invite", "reset")
INVALID_LINK = {
    "invite": "This invite link cannot be used: it was used already or it has expired. "
    "Ask a workspace admin for a new invite.",
    "reset": "This password reset link cannot be used: it was used already or it has expired. "
    "Ask an admin for a new reset link.",
}


def link_path(kind: str, raw: str) -> str:
    """The path of a one-time link, e.g. /invite/<token> (the admin shows it with the site's address)."""
    return f"/{kind}/{raw}"


def _new_link(session: Session, kind: str, user: User, hours: int, created_by: int | None, **extra) -> str:
    """Store a link and return its raw token (shown once; only its sha256 is kept)."""
    raw = random_token()
    now = utcnow()
    session.add(
        OneTimeLink(
            token_sha256=digest(raw),
            kind=kind,
            user_id=user.id,
            created_by=created_by,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
            **extra,
        )
    )
    session.flush()
    return raw


def create_invite(
    session: Session, email: str, name: str, workspace_id: int, role: str, created_by: int | None
) -> tuple[str, User]:
    """Invite someone: a pending user (no password) and a link; returns the raw token and the user.

    An existing account with a password cannot be invited (its owner is added to workspaces directly);
    inviting a pending user again gives a new link.
    """
    check_role_name(role)
    user = session.scalars(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        user = create_user(session, email, name)
    elif user.password_hash is not None:
        raise AccountError(
            f"{user.email} already has an account; add them to the workspace instead of inviting them."
        )
    raw = _new_link(
        session,
        "invite",
        user,
        get_settings().invite_link_hours,
        created_by,
        workspace_id=workspace_id,
        role=role,
    )
    return raw, user


def create_reset(session: Session, user: User, created_by: int | None) -> str:
    """A password reset link for `user` (earlier unused ones stop working); returns the raw token."""
    _expire_unused(session, user.id, "reset")
    return _new_link(session, "reset", user, get_settings().reset_link_hours, created_by)


def _expire_unused(session: Session, user_id: int, kind: str) -> None:
    """Mark the user's unused links of `kind` as used, so only the newest one works."""
    session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.user_id == user_id, OneTimeLink.kind == kind, OneTimeLink.used_at.is_(None))
        .values(used_at=utcnow())
    )


def find_link(session: Session, raw: str, kind: str) -> OneTimeLink | None:
    """The usable link of `kind` for token `raw`: unused, unexpired, its user active; None otherwise."""
    if kind not in KINDS or not raw or len(raw) > 200:
        return None
    link = session.scalars(select(OneTimeLink).where(OneTimeLink.token_sha256 == digest(raw))).first()
    if link is None or link.kind != kind or link.used_at is not None:
        return None
    if as_utc(link.expires_at) <= utcnow() or not link.user.is_active:
        return None
    # An invite is for a pending account only: once a password is set, older invites are dead.
    if kind == "invite" and link.user.password_hash is not None:
        return None
    return link


def accept_invite(session: Session, link: OneTimeLink, name: str, password: str) -> User:
    """Set the invited user's name and password and add the membership; the caller commits. An account
    that has a password already is never given another through a link (AccountError)."""
    # Two tabs (or two people) sending the same link at once: the second must see the first's password.
    write_lock(session, f"user:{link.user_id}")
    session.refresh(link)
    user = link.user
    session.refresh(user)
    if user.password_hash is not None or link.used_at is not None:
        raise AccountError(INVALID_LINK["invite"])
    user.name = name.strip()[:200] or user.name
    set_password(session, user, password)
    if link.workspace_id is not None and link.role:
        set_membership(session, user.id, link.workspace_id, link.role)
    link.used_at = utcnow()
    _expire_unused(session, user.id, "invite")
    return user


def use_reset(session: Session, link: OneTimeLink, password: str) -> User:
    """Set a new password through a reset link: every session and API token of the user ends (whoever
    needed the reset may have lost them to someone else); the caller commits."""
    set_password(session, link.user, password)
    revoke_user_tokens(session, link.user_id)
    link.used_at = utcnow()
    return link.user
