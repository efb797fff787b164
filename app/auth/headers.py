"""Security headers on every response, and the pre-session CSRF cookie when a form asked for one."""

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.csrf import CSRF_COOKIE
from app.auth.sessions import is_https

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Static assets hold nothing private and may be cached; every other answer may (pages, API, downloads).
CACHEABLE_PREFIX = "/static/"
CSRF_COOKIE_SECONDS = 12 * 3600


def _csrf_cookie_headers(scope: Scope, token: str) -> list[str]:
    """The Set-Cookie value(s) for the pre-session CSRF cookie."""
    cookie = Response()
    cookie.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=CSRF_COOKIE_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(Request(scope)),
    )
    return [value.decode("latin-1") for key, value in cookie.raw_headers if key == b"set-cookie"]


class SecurityHeadersMiddleware:
    """Pure ASGI middleware (streams and file downloads pass through untouched) adding the headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start of every HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Shared with request.state in the routes, which note a pre-session CSRF token there.
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            """Pass `message` on, with the headers added when it starts the response."""
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if not scope["path"].startswith(CACHEABLE_PREFIX) and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                if is_https(Request(scope)):
                    headers["Strict-Transport-Security"] = "max-age=31536000"
                token = state.get("new_csrf_cookie")
                if token:
                    for value in _csrf_cookie_headers(scope, token):
                        headers.append("set-cookie", value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
