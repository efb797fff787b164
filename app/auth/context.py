"""What every template gets without the route passing it: the actor, the CSRF token, the memberships."""

from typing import Any

from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from app.auth.csrf import csrf_input, csrf_token_for
from app.auth.deps import role_at_least


def auth_context(request: Request) -> dict[str, Any]:
    """Jinja2Templates context processor: `actor`, `csrf_token` and `memberships` from request.state."""
    return {
        "actor": getattr(request.state, "actor", None),
        "csrf_token": csrf_token_for(request),
        "memberships": getattr(request.state, "memberships", None) or [],
    }


@pass_context
def csrf_field(context: Context) -> Markup:
    """Jinja global `{{ csrf_field() }}`: the hidden CSRF input every plain POST form needs."""
    token = context.get("csrf_token")
    if not token:
        request = context.get("request")
        token = csrf_token_for(request) if request is not None else ""
    return csrf_input(token)


@pass_context
def may(context: Context, minimum: str) -> bool:
    """Jinja global `may('editor')`: whether the signed-in person's role here is `minimum` or above.

    Pages hide what the role may not do; the routes refuse it regardless (the template is no guard).
    """
    actor = context.get("actor")
    return actor is not None and role_at_least(actor.role, minimum)
