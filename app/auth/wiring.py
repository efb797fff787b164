"""Plugging accounts into the application: middleware, exception handlers and the sign-in pages.

`create_app` also passes `dependencies=[Depends(csrf_protect)]` to FastAPI, so the CSRF check runs
before every route (it has to be there before any router is included).
"""

from fastapi import FastAPI

from app.auth.handlers import install_auth_handlers
from app.auth.headers import SecurityHeadersMiddleware
from app.routes import auth


def install_auth(app: FastAPI) -> None:
    """Add the security headers middleware, the 401/403 handlers and the sign-in routes."""
    app.add_middleware(SecurityHeadersMiddleware)
    install_auth_handlers(app)
    app.include_router(auth.router)
