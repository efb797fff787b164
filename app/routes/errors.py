"""Application-wide exception handlers: a missing object answers 404, refused fields 422, a full queue 429.

Routes call the services and let `NotFound`, `FieldErrors` and the upload service's `InvalidRequest`
propagate; these handlers turn them into the JSON answer (paths under /api) or the page that says what
is missing. Pages that show refused values again in their own form catch the errors themselves.
"""

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from app.db import get_sessionmaker
from app.routes.uploads import missing
from app.routes.views import not_found
from app.services.errors import FieldErrors, NotFound, TooManyQueued
from app.services.uploads import InvalidRequest

# The first path segment of each page names the section its not-found page links back to.
PAGE_SECTIONS = {
    "examples": "examples",
    "datasets": "datasets",
    "upload": "upload",
    "uploads": "upload",
    "runs": "runs",
    "models": "models",
    "adapters": "adapters",
    "drafts": "drafts",
    "briefs": "drafts",
    "compare": "review",
    "review": "review",
}


def _first_segment(request: Request) -> str:
    """The first part of the request path: "api", "examples", "upload", ..."""
    return request.url.path.strip("/").split("/", 1)[0]


def is_api(request: Request) -> bool:
    """Whether the request went to the JSON API (which answers errors as JSON, never as pages)."""
    return _first_segment(request) == "api"


def not_found_handler(request: Request, exc: Exception) -> Response:
    """404 naming what is missing: `{"detail": ...}` for the API, the section's not-found page otherwise."""
    message = str(exc)
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=404)
    section = PAGE_SECTIONS.get(_first_segment(request), "examples")
    # The request's own session is closed by now; the page header needs the workspace name. The route
    # got as far as NotFound, so current_actor has run and noted who is asking, in which workspace.
    with get_sessionmaker()() as session:
        workspace = request.state.actor.workspace
        if section == "upload":
            # Upload pages show the Upload page (or its notice) with the message instead.
            return missing(request, session, workspace, message)
        return not_found(request, workspace, message, section)


async def field_errors_handler(request: Request, exc: Exception) -> Response:
    """422 with the service's per-field messages, shaped like FastAPI's own validation errors."""
    if not isinstance(exc, FieldErrors) or not is_api(request):
        # Pages show refused values in their own forms; one that gets here is a bug (a 500).
        raise exc
    if isinstance(exc, TooManyQueued):
        return JSONResponse({"detail": exc.message}, status_code=429)
    errors = [
        {"type": "value_error", "loc": ("body", field), "msg": msg, "input": None}
        for field, msg in exc.errors.items()
    ]
    return await request_validation_exception_handler(request, RequestValidationError(errors))


def invalid_request_handler(request: Request, exc: Exception) -> Response:
    """422 with the upload service's message saying why the request cannot be done."""
    if not is_api(request):
        # Upload pages show the message in the form the user sent (see uploads.form_error).
        raise exc
    return JSONResponse({"detail": str(exc)}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on the application."""
    app.add_exception_handler(NotFound, not_found_handler)
    app.add_exception_handler(FieldErrors, field_errors_handler)
    app.add_exception_handler(InvalidRequest, invalid_request_handler)
