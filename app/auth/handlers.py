"""Answers to NotAuthenticated and Forbidden: JSON for the API, htmx redirects, pages for browsers."""

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.auth.errors import Forbidden, NotAuthenticated, is_api_path, openai_error_body
from app.auth.first_run import has_users
from app.auth.sessions import SESSION_COOKIE, clear_session_cookie
from app.db import get_sessionmaker
from app.templating import is_htmx, templates


def safe_next(value: str | None, default: str = "/") -> str:
    """`value` when it is a path on this site, else `default`: no redirects to other sites."""
    if not value:
        return default
    value = value.strip()
    parts = urlsplit(value)
    # "//evil.example" and "/\evil.example" are other sites to browsers; so is anything with a scheme.
    if (
        parts.scheme
        or parts.netloc
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(ord(c) < 32 for c in value)
    ):
        return default
    return value


def _local(url: str | None) -> str | None:
    """The path and query of a URL (from HX-Current-URL or Referer), for coming back after sign-in."""
    if not url:
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_url(request: Request) -> str:
    """/login?next=<where the person was>; /setup while Lastmile has no account yet."""
    with get_sessionmaker()() as session:
        if not has_users(session):
            return "/setup"
    if is_htmx(request):
        where = _local(request.headers.get("hx-current-url") or request.headers.get("referer"))
    elif request.method == "GET":
        where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        where = _local(request.headers.get("referer"))
    where = safe_next(where)
    return "/login" if where == "/" else f"/login?next={quote(where, safe='/')}"


def not_authenticated_handler(request: Request, exc: Exception) -> Response:
    """401 JSON for the API, an htmx redirect for partials, a 303 to the sign-in page otherwise."""
    message = exc.message if isinstance(exc, NotAuthenticated) else str(exc)
    if is_api_path(request.url.path):
        # OpenAI's clients read {"error": {...}} under /v1; Lastmile's own API answers {"detail": ...}.
        openai = request.url.path.startswith("/v1")
        body = openai_error_body(message, code="invalid_api_key") if openai else {"detail": message}
        response: Response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    elif is_htmx(request):
        response = Response(status_code=401, headers={"HX-Redirect": login_url(request)})
    else:
        response = RedirectResponse(login_url(request), status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        # The cookie no longer signs anyone in; drop it so the browser stops sending it.
        clear_session_cookie(response, request)
    return response


def forbidden_handler(request: Request, exc: Exception) -> Response:
    """403 saying why and whom to ask: JSON for the API, a notice for htmx, a page otherwise."""
    message = exc.message if isinstance(exc, Forbidden) else str(exc)
    if is_api_path(request.url.path):
        return JSONResponse({"detail": message}, status_code=403)
    name = "auth/_forbidden.html" if is_htmx(request) else "auth/forbidden.html"
    return templates.TemplateResponse(request, name, {"message": message}, status_code=403)


def install_auth_handlers(app: FastAPI) -> None:
    """Register the handlers on the application."""
    app.add_exception_handler(NotAuthenticated, not_authenticated_handler)
    app.add_exception_handler(Forbidden, forbidden_handler)
