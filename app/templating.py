"""Jinja2 environment shared by every page and htmx partial (autoescape on)."""

from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

ROOT = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=ROOT / "templates")


def is_htmx(request: Request) -> bool:
    """Whether the request came from htmx (and wants a partial, not a page)."""
    return request.headers.get("HX-Request") == "true"
