"""Password hashing with Argon2id (pwdlib) and the rules a new password must meet."""

import os
import threading
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.settings import get_settings

MAX_PASSWORD_CHARS = 1024
# An Argon2id hash takes 64 MiB and a core for ~0.3 s: a burst of sign-ins (20 at once took a gigabyte and
# both cores of a small server) hashes on all cores but one, so pages stay quick and memory bounded.
_hashing = threading.BoundedSemaphore(max(1, (os.cpu_count() or 1) - 1))


@lru_cache
def _hasher() -> PasswordHash:
    """The process-wide Argon2id hasher (argon2-cffi's recommended parameters)."""
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    """The Argon2id hash to store for `password`."""
    with _hashing:
        return _hasher().hash(password)


@lru_cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, verified for unknown accounts so they take as long as known ones."""
    return hash_password("lastmile-dummy-password-never-valid")


def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """Whether `password` matches `stored`, and a new hash when the stored one uses old parameters.

    With no stored hash (unknown email, invite not yet accepted) a dummy hash is verified anyway, so the
    answer takes the same time and says nothing about which accounts exist.
    """
    if not stored:
        dummy = _dummy_hash()  # outside the semaphore: making it takes a turn of its own
        with _hashing:
            _hasher().verify(password, dummy)
        return False, None
    try:
        with _hashing:
            return _hasher().verify_and_update(password, stored)
    except Exception:
        # A corrupt or foreign hash in the database must not sign anyone in, nor crash the sign-in page.
        return False, None


def password_problem(password: str, confirm: str | None = None, email: str = "") -> str | None:
    """What is wrong with a new password, in words for the person choosing it; None when it is fine."""
    minimum = get_settings().password_min_length
    if len(password) < minimum:
        return f"Choose a password of at least {minimum} characters."
    if len(password) > MAX_PASSWORD_CHARS:
        return f"Choose a password of at most {MAX_PASSWORD_CHARS} characters."
    if email and password.strip().lower() == email.strip().lower():
        return "Choose a password that is not your email address."
    if confirm is not None and password != confirm:
        return "The two passwords are not the same; type the new password twice."
    return None
