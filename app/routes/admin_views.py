"""What the account and admin pages share: rendering, redirects, dates, status codes, done messages.

Admin page routes use `AdminPageRoute`, which answers a NotFound with the not-found page (a notice for htmx).
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth.accounts import AccountError
from app.auth.tokens import as_utc
from app.models import ROLES
from app.routes.refusal_route import RefusalRoute
from app.services.accounts import Conflict
from app.services.audit_log import action_label
from app.services.errors import NotFound
from app.templating import is_htmx, templates

FormStr = Annotated[str, Form()]
# After a redirect the page says what just happened; only these fixed texts can be shown this way.
DONE_MESSAGES = {
    "created": "Workspace created. You are its admin: add or invite the people who work in it.",
    "renamed": "Workspace renamed.",
    "deleted": "Workspace deleted.",
    "offered": "Offer sent. They join once they accept it on their Account page (it waits under “Offers”).",
    "offer_withdrawn": "Offer withdrawn.",
    "joined": "You joined the workspace. Switch to it from the workspace menu at the top.",
    "declined": "Invitation declined.",
    "role": "Role changed. It applies from the member's next page or API request.",
    "removed": "Member removed. Their account stays; they no longer see this workspace.",
    "invite_cancelled": "Invite cancelled: its link no longer works.",
    "revoked": "Token revoked: requests that send it are refused from now on.",
}
ROLE_HINTS = {
    "reviewer": "reads, compares and rates drafts",
    "editor": "also uploads, curates and trains",
    "admin": "also manages members, models and deletion",
}


class AdminPageRoute(RefusalRoute):
    """A page route answering NotFound with this section's not-found page (a notice for htmx)."""

    caught = (NotFound,)

    def refusal(self, request: Request, exc: Exception) -> Response:
        """The not-found page (a notice for htmx) saying what was not found."""
        name = "admin/_notice.html" if is_htmx(request) else "admin/not_found.html"
        return render(request, name, {"error": str(exc)}, 404)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a page or partial (autoescape on); the helpers every admin template uses come along."""
    context = {"roles": ROLES, "role_hints": ROLE_HINTS, "when": when, "label": action_label, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def redirect(url: str, htmx: bool = False) -> Response:
    """A 303 See Other; for htmx an HX-Redirect, which htmx follows with a full page load."""
    if htmx:
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def when(value: datetime | None) -> str:
    """A timestamp as people read it: "5 Dec 2026, 14:05 UTC"."""
    if value is None:
        return ""
    value = as_utc(value)
    return f"{value.day} {value:%b %Y}, {value:%H:%M} UTC"


def error_status(exc: AccountError) -> int:
    """409 for a conflict with what exists, 422 for input that cannot be used."""
    return 409 if isinstance(exc, Conflict) else 422


def done_message(request: Request) -> str:
    """The fixed message named by ?done=..., or ""."""
    return DONE_MESSAGES.get(request.query_params.get("done", ""), "")
