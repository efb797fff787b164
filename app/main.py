"""The FastAPI application: pages, htmx partials, the JSON API and static files."""

from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from app.auth.csrf import csrf_protect
from app.auth.wiring import install_auth
from app.routes import (
    account,
    adapters,
    adapters_api,
    admin,
    admin_api,
    api_docs,
    compare,
    compare_api,
    datasets,
    drafts,
    examples,
    generations_api,
    health,
    models_pages,
    openai_api,
    runs,
    runs_api,
    uploads,
)
from app.routes.errors import install_error_handlers
from app.templating import ROOT


def create_app() -> FastAPI:
    """Build the web application (never imports torch, transformers or peft)."""
    # The CSRF check runs before every route; it must be given here, before any router is included.
    app = FastAPI(
        title="Lastmile",
        version="0.1.0",
        # /docs and /openapi.json come from app/routes/api_docs.py: members only, no CDN, strict CSP.
        docs_url=None,
        openapi_url=None,
        redoc_url=None,
        dependencies=[Depends(csrf_protect)],
    )
    static = ROOT / "static"
    Path(static / "vendor").mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=static), name="static")
    for module in (health, uploads, examples, datasets, account, admin, admin_api, api_docs):
        app.include_router(module.router)
    for module in (runs, runs_api, models_pages):
        app.include_router(module.router)
    for module in (adapters, adapters_api, drafts, generations_api, openai_api):
        app.include_router(module.router)
    for module in (compare, compare_api):
        app.include_router(module.router)
    openai_api.install_openai_errors(app)
    install_error_handlers(app)
    install_auth(app)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/examples", status_code=303)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    return app


app = create_app()
