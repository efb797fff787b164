"""Jinja2 environment shared by every page and htmx partial (autoescape on)."""

from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from app.auth.context import auth_context, csrf_field, may

ROOT = Path(__file__).resolve().parent.parent
# The context processor gives every page the actor, the CSRF token and the workspaces for the switcher.
templates = Jinja2Templates(directory=ROOT / "templates", context_processors=[auth_context])
templates.env.globals["csrf_field"] = csrf_field
templates.env.globals["may"] = may


def is_htmx(request: Request) -> bool:
    """Whether the request came from htmx (and wants a partial, not a page)."""
    return request.headers.get("HX-Request") == "true"
