"""CSRF protection: a per-session token (or a pre-session cookie for sign-in forms) plus an Origin check.

Every POST/PUT/PATCH/DELETE must carry the token in the `X-CSRF-Token` header (htmx sends it on every
request, from `hx-headers` on <body>) or in a `csrf_token` form field (plain forms, via csrf_field()). A
multipart body is never read before the check: it carries the token in the header or, from a plain form,
in the action's query string. Requests authenticated by a *valid* bearer token are exempt: a browser never
adds that header on its own, but any other Authorization header is no reason to skip the check.
"""

from urllib.parse import urlsplit

from fastapi import Depends, Request
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import api_tokens
from app.auth.deps import INVALID_TOKEN, bearer_token, request_session
from app.auth.errors import CsrfFailed, NotAuthenticated, is_api_path
from app.auth.sessions import SESSION_COOKIE, forwarded_value, is_https
from app.auth.tokens import random_token, same
from app.db import get_session

CSRF_COOKIE = "lastmile_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def anonymous_csrf_token(request: Request) -> str:
    """The pre-session token (double-submit cookie) for forms shown before sign-in; set when missing."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(token) <= 100:
        return token
    pending = getattr(request.state, "new_csrf_cookie", None)
    if pending is None:
        pending = random_token()
        # The security headers middleware adds the cookie to whatever response this request gets.
        request.state.new_csrf_cookie = pending
    return pending


def csrf_token_for(request: Request) -> str:
    """The token forms and htmx must send back: the session's when signed in, else the pre-session one."""
    return getattr(request.state, "csrf_token", None) or anonymous_csrf_token(request)


def csrf_input(token: str) -> Markup:
    """The hidden form field carrying `token`."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')


def own_origin(request: Request) -> str:
    """scheme://host[:port] the browser uses to reach us (forwarded values only behind a trusted proxy)."""
    host = forwarded_value(request, "x-forwarded-host") or request.headers.get("host", "")
    return f"{'https' if is_https(request) else 'http'}://{host}".lower()


def origin_ok(request: Request) -> bool:
    """Whether Origin (or, without it, Referer) is our own origin; True when the browser sent neither."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return True
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.strip().lower() == own_origin(request)


def is_multipart(request: Request) -> bool:
    """Whether the request's body is a multipart form (an upload)."""
    return request.headers.get("content-type", "").lower().startswith(MULTIPART)


async def sent_token(request: Request) -> str | None:
    """The token a request other than an upload carries: the header, or a urlencoded form's field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").lower().startswith(URLENCODED):
        # Starlette caches the parsed form on the request, so the route reads this same form.
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def refusal(request: Request, session: Session, sent: str | None, signed_in_only: bool) -> Exception | None:
    """Why a state-changing request is refused (NotAuthenticated or CsrfFailed), or None when it may go on.

    `signed_in_only`: an upload, checked before its body is read, needs a live token or a signed-in browser
    (a pre-session token would let anyone have a large body spooled before the route refuses them).
    """
    raw = bearer_token(request)
    api = is_api_path(request.url.path)
    if raw is not None:
        if raw and api_tokens.authenticate_token(session, raw) is not None:
            return None
        if api or signed_in_only:
            return NotAuthenticated(INVALID_TOKEN)
    auth_session = request_session(request, session)
    if auth_session is None and (api or signed_in_only):
        # The API and uploads are for tokens and signed-in browsers: anyone else is told to authenticate
        # (401 or the sign-in page), not that a form expired.
        return NotAuthenticated()
    if not origin_ok(request):
        return CsrfFailed()
    expected = auth_session.csrf_token if auth_session else request.cookies.get(CSRF_COOKIE)
    if same(sent, expected):
        return None
    if auth_session is None and request.cookies.get(SESSION_COOKIE):
        # The session ended while the page was open: sign in again rather than "form expired".
        return NotAuthenticated()
    return CsrfFailed()


async def csrf_protect(request: Request, session: Session = Depends(get_session)) -> None:
    """Global dependency: refuse state-changing requests without the right token or from another site."""
    # Uploads were judged by MultipartCsrfGate (app/auth/multipart_gate.py) before their body was read.
    if request.method not in UNSAFE_METHODS or is_multipart(request):
        return
    sent = await sent_token(request)
    # Database work stays off the event loop.
    refused = await run_in_threadpool(refusal, request, session, sent, False)
    if refused is not None:
        raise refused
