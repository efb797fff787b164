"""First run: while no user exists, the first visitor (or `lastmile create-admin`) creates the admin."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.accounts import AccountError, admin_count, create_user, make_admin_everywhere
from app.db import write_lock
from app.models import User, Workspace


def has_users(session: Session) -> bool:
    """Whether any account exists (the setup page is open only while none does)."""
    return session.scalars(select(User.id).limit(1)).first() is not None


def create_first_admin(session: Session, email: str, name: str, password: str) -> User:
    """Create the first account, admin of every workspace; AccountError once any user exists."""
    write_lock(session, "first-admin")  # two first visitors cannot both become admin
    if has_users(session):
        raise AccountError("Lastmile is set up already: sign in, or ask an admin for an account.")
    return _admin(session, email, name, password)


def create_admin(session: Session, email: str, name: str, password: str, force_new: bool = False) -> User:
    """`lastmile create-admin`: refuses while an admin exists unless `force_new` (a locked-out team)."""
    write_lock(session, "first-admin")  # two first visitors cannot both become admin
    if admin_count(session) and not force_new:
        raise AccountError(
            "An admin exists already. Sign in as that admin to add people, "
            "or pass --force-new to create another admin."
        )
    return _admin(session, email, name, password)


def _admin(session: Session, email: str, name: str, password: str) -> User:
    """A new user with a password, admin of every workspace; the caller commits."""
    if session.scalars(select(Workspace.id).limit(1)).first() is None:
        raise AccountError("No workspace found: run `lastmile migrate` first.")
    user = create_user(session, email, name, password)
    make_admin_everywhere(session, user)
    return user
