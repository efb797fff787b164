"""CSRF for multipart bodies, checked before a byte of the body is read.

FastAPI parses a route's form (and spools its files to disk) before it runs any dependency, so the
global CSRF dependency would see an upload only after it was taken in whole. This middleware makes the same
decision (app.auth.csrf.refusal) for multipart requests first, and the dependency leaves them to it.
"""

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.csrf import CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, is_multipart, refusal
from app.auth.errors import NotAuthenticated
from app.auth.handlers import forbidden_handler, not_authenticated_handler
from app.db import get_sessionmaker


def upload_refusal(scope: Scope) -> Response | None:
    """None when the upload may send its body; else the answer the routes would give (401 or the sign-in
    page, 403 "form expired"). The token is the header's, or from a plain form, the query string's."""
    # A request state of its own: the browser session loaded here belongs to this short database session.
    request = Request({**scope, "state": {}})
    sent = request.headers.get(CSRF_HEADER) or request.query_params.get(CSRF_FIELD)
    with get_sessionmaker()() as session:
        refused = refusal(request, session, sent, signed_in_only=True)
    if refused is None:
        return None
    handler = not_authenticated_handler if isinstance(refused, NotAuthenticated) else forbidden_handler
    return handler(request, refused)


class MultipartCsrfGate:
    """Pure ASGI middleware: multipart requests pass only with a valid token, before their body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an unauthorised multipart request at once; pass everything else on."""
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS and is_multipart(Request(scope)):
            refused = await to_thread.run_sync(upload_refusal, scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
