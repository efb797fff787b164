"""CSRF for multipart bodies, checked before a byte of the body is read.

FastAPI parses a route's form (and spools its files to disk) before it runs any dependency, so the
global CSRF dependency would see an upload only after it was taken in whole. This middleware refuses a
multipart request that carries no valid API token and no right CSRF token (header or query string) first.
"""

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import api_tokens
from app.auth.csrf import CSRF_FIELD, CSRF_HEADER, MULTIPART, UNSAFE_METHODS, origin_ok
from app.auth.deps import INVALID_TOKEN, bearer_token
from app.auth.errors import CsrfFailed, NotAuthenticated
from app.auth.handlers import forbidden_handler, not_authenticated_handler
from app.auth.sessions import SESSION_COOKIE, load_session
from app.auth.tokens import same
from app.db import get_sessionmaker


def refusal(request: Request) -> Response | None:
    """None when the request may send its multipart body; else the answer that refuses it (the same the
    routes would give: 401 or a sign-in redirect, 403 "form expired")."""
    raw = bearer_token(request)
    with get_sessionmaker()() as session:
        if raw is not None:
            if raw and api_tokens.authenticate_token(session, raw) is not None:
                return None
            return not_authenticated_handler(request, NotAuthenticated(INVALID_TOKEN))
        auth_session = load_session(session, request.cookies.get(SESSION_COOKIE))
        if auth_session is None:
            return not_authenticated_handler(request, NotAuthenticated())
        sent = request.headers.get(CSRF_HEADER) or request.query_params.get(CSRF_FIELD)
        if origin_ok(request) and same(sent, auth_session.csrf_token):
            return None
    return forbidden_handler(request, CsrfFailed())


class MultipartCsrfGate:
    """Pure ASGI middleware: multipart requests pass only with a valid token, before their body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an unauthorised multipart request at once; pass everything else on."""
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            request = Request(scope)
            if request.headers.get("content-type", "").lower().startswith(MULTIPART):
                refused = await to_thread.run_sync(refusal, request)
                if refused is not None:
                    await refused(scope, receive, send)
                    return
        await self.app(scope, receive, send)
