"""Plugging accounts into the application: middleware, exception handlers and the sign-in pages.

`create_app` also passes `dependencies=[Depends(csrf_protect)]` to FastAPI, so the CSRF check runs
before every route (it has to be there before any router is included).
"""

from fastapi import FastAPI

from app.auth.access_log import install_access_log_redaction
from app.auth.body_limit import BodyLimitMiddleware
from app.auth.handlers import install_auth_handlers
from app.auth.headers import SecurityHeadersMiddleware
from app.auth.multipart_gate import MultipartCsrfGate
from app.routes import auth


def install_auth(app: FastAPI) -> None:
    """Add the body limit and security headers middleware, access log redaction, the 401/403 handlers and
    the sign-in routes."""
    # The last added runs first: the security headers go on the body limit's 413 answers too.
    app.add_middleware(MultipartCsrfGate)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    install_access_log_redaction()
    install_auth_handlers(app)
    app.include_router(auth.router)
