"""User accounts: creating users, memberships, signing in (throttled) and changing passwords."""

import re
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth import throttle
from app.auth.errors import check_role_name
from app.auth.passwords import hash_password, password_problem, verify_password
from app.auth.sessions import revoke_user_sessions
from app.models import Membership, OneTimeLink, User, Workspace, utcnow

WRONG_CREDENTIALS = "Email or password is wrong. Check both and try again."
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NAME_CHARS = 200


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why and what to do."""


def normalise_email(email: str) -> str:
    """The stored form of an email address: trimmed and lower-cased."""
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """What is wrong with an email address, or None."""
    if not email:
        return "Enter an email address."
    if len(email) > 320 or not EMAIL_PATTERN.match(email):
        return f"'{email[:100]}' is not an email address; it should look like name@company.com."
    return None


def user_by_email(session: Session, email: str) -> User | None:
    """The user with this email address (any case), or None."""
    return session.scalars(select(User).where(User.email == normalise_email(email))).first()


def usable_email(email: str) -> str:
    """`email` normalised; AccountError saying what is wrong when it cannot be an account's address."""
    email = normalise_email(email)
    problem = email_problem(email)
    if problem:
        raise AccountError(problem)
    return email


def create_user(session: Session, email: str, name: str, password: str | None = None) -> User:
    """A new user (without a password until an invite is accepted); AccountError when taken or invalid."""
    email = usable_email(email)
    if user_by_email(session, email) is not None:
        raise AccountError(f"There is already an account for {email}.")
    if password is not None:
        problem = password_problem(password, email=email)
        if problem:
            raise AccountError(problem)
    now = utcnow()
    user = User(
        email=email,
        name=name.strip()[:MAX_NAME_CHARS] or email.split("@", 1)[0],
        password_hash=hash_password(password) if password is not None else None,
        is_active=True,
        created_at=now,
        password_changed_at=now if password is not None else None,
    )
    session.add(user)
    session.flush()
    return user


def set_membership(session: Session, user_id: int, workspace_id: int, role: str) -> Membership:
    """Give the user `role` in the workspace (adding them, or changing their role); the caller commits."""
    check_role_name(role)
    membership = session.scalars(
        select(Membership).where(Membership.user_id == user_id, Membership.workspace_id == workspace_id)
    ).first()
    if membership is None:
        membership = Membership(user_id=user_id, workspace_id=workspace_id, role=role, created_at=utcnow())
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def make_admin_everywhere(session: Session, user: User) -> list[Workspace]:
    """Make `user` admin of every workspace (the first admin after setup); returns the workspaces."""
    workspaces = list(session.scalars(select(Workspace).order_by(Workspace.id)))
    for workspace in workspaces:
        set_membership(session, user.id, workspace.id, "admin")
    return workspaces


def admin_count(session: Session) -> int:
    """How many active users are admin of at least one workspace."""
    query = (
        select(func.count(func.distinct(Membership.user_id)))
        .join(User, User.id == Membership.user_id)
        .where(Membership.role == "admin", User.is_active.is_(True))
    )
    return session.scalar(query) or 0


@dataclass(frozen=True)
class SignInResult:
    """The outcome of a sign-in try: the user, or the message and HTTP status to answer with."""

    user: User | None
    error: str = ""
    status: int = 200


def sign_in(session: Session, email: str, password: str, ip: str | None) -> SignInResult:
    """Check email and password, throttled per account and per address; commits the attempt."""
    email = normalise_email(email)
    attempt = throttle.begin(session, email, ip)
    if attempt.lockout is not None:
        attempt.finish(session, False)
        session.commit()
        return SignInResult(None, attempt.lockout.message, 429)
    user = user_by_email(session, email)
    usable = user is not None and user.is_active
    # Unknown, disabled and not-yet-accepted accounts verify a dummy hash: same time, same message.
    ok, new_hash = verify_password(password, user.password_hash if usable and user else None)
    attempt.finish(session, ok)
    if not ok or user is None:
        session.commit()
        return SignInResult(None, WRONG_CREDENTIALS, 400)
    if new_hash:
        user.password_hash = new_hash
    return SignInResult(user)


def set_password(session: Session, user: User, password: str) -> None:
    """Store a new password, end every session of the user and kill their unused one-time links (a reset
    link made before must not outlive the password it was for); the caller starts a fresh session, commits."""
    now = utcnow()
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    revoke_user_sessions(session, user.id)
    session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.user_id == user.id, OneTimeLink.used_at.is_(None))
        .values(used_at=now)
    )


def check_current_password(session: Session, user: User, password: str, ip: str | None) -> str | None:
    """What is wrong with the current password typed to confirm a change, or None; throttled and counted
    like sign-in (the same account and address limits), so it is no side door for guessing."""
    attempt = throttle.begin(session, user.email, ip)
    ok = attempt.lockout is None and verify_password(password, user.password_hash)[0]
    attempt.finish(session, ok)
    # Committed whatever the caller does next: a refused change is rolled back, its failure must count.
    session.commit()
    if attempt.lockout is not None:
        return attempt.lockout.message
    return None if ok else "Your current password is not right. Type it again."


def change_password(
    session: Session, user: User, current: str, new: str, confirm: str, ip: str | None = None
) -> str | None:
    """Change the user's password after checking the current one; returns what is wrong, or None."""
    wrong = check_current_password(session, user, current, ip)
    if wrong:
        return wrong
    problem = password_problem(new, confirm, email=user.email)
    if problem:
        return problem
    if verify_password(new, user.password_hash)[0]:
        return "Choose a new password that differs from your current one."
    set_password(session, user, new)
    return None
