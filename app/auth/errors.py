"""The exceptions of authentication and authorisation; app/auth/handlers.py turns them into answers."""

from app.models import ROLES

SIGN_IN_FIRST = "Sign in first: open Lastmile in your browser and sign in, or send an API token."
FORM_EXPIRED = "This form has expired or came from another site; reload the page and try again."
# Who may do something, by the lowest role that may.
WHO_MAY = {"reviewer": "all members", "editor": "editors and admins", "admin": "only admins"}
API_PREFIXES = ("/api/", "/v1/")


def is_api_path(path: str) -> bool:
    """Whether a path belongs to the JSON API (answers are JSON, never pages or redirects)."""
    return path.startswith(API_PREFIXES) or path in ("/api", "/v1")


def openai_error_body(
    message: str, type_: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict:
    """An error in the shape OpenAI's clients read: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class NotAuthenticated(Exception):
    """No valid session cookie or API token came with the request."""

    def __init__(self, message: str = SIGN_IN_FIRST) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(Exception):
    """The person is signed in but may not do this here (their role is too low)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CsrfFailed(Forbidden):
    """A state-changing request without the right CSRF token, or sent from another site."""

    def __init__(self, message: str = FORM_EXPIRED) -> None:
        super().__init__(message)


def role_message(role: str, workspace_name: str, minimum: str) -> str:
    """Why a role may not do something, and what to do: "You are a reviewer in Sales; ..."."""
    article = "an" if role[:1] in "aeiou" else "a"
    who = WHO_MAY.get(minimum, "admins")
    return f"You are {article} {role} in {workspace_name}; {who} can do this. Ask a workspace admin."


def check_role_name(role: str) -> str:
    """`role` when it is one of ROLES; ValueError otherwise (a programming error, not user input)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    return role
