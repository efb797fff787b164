"""The JSON API's documentation for members: Swagger UI from static/vendor (no CDN) and the OpenAPI schema.

Swagger UI starts from one inline script; the page's Content-Security-Policy allows exactly that script
by its hash, so the strict policy of every other page stays as it is.
"""

import base64
import copy
import hashlib
import re
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from app.auth.headers import CSP
from app.routes.roles import Reader

router = APIRouter(include_in_schema=False)

OPENAPI_URL = "/openapi.json"
SWAGGER_JS = "/static/vendor/swagger-ui-bundle.js"
SWAGGER_CSS = "/static/vendor/swagger-ui.css"
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
# Scripts send their personal API token (Account page); a browser's cookie alone cannot change anything
# from Swagger UI, since it sends no CSRF token.
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A personal API token (lm_…) from your Account page.",
}


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions ('sha256-…') for each inline <script> of `html`."""
    digests = (hashlib.sha256(body).digest() for body in INLINE_SCRIPT.findall(html))
    return [f"'sha256-{base64.b64encode(d).decode('ascii')}'" for d in digests]


@lru_cache
def docs_page() -> tuple[bytes, str]:
    """The Swagger UI page and the policy that lets its own init script run (and nothing else inline)."""
    html = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title="Lastmile API",
        swagger_js_url=SWAGGER_JS,
        swagger_css_url=SWAGGER_CSS,
        swagger_favicon_url="/static/favicon.svg",
        # No badge from the online validator: Lastmile's servers and users may have no internet.
        swagger_ui_parameters={"validatorUrl": None},
    ).body
    policy = CSP.replace("script-src 'self'", " ".join(["script-src 'self'", *script_hashes(html)]), 1)
    return bytes(html), policy


@router.get("/docs", response_class=HTMLResponse)
def docs(actor: Reader) -> HTMLResponse:
    """Swagger UI for the JSON API (members only, like the API itself)."""
    html, policy = docs_page()
    # The security headers middleware keeps a Content-Security-Policy the route set itself.
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


def with_bearer_auth(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of the OpenAPI schema that declares bearer tokens, so Swagger UI offers "Authorize"."""
    schema = copy.deepcopy(schema)
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = BEARER_SCHEME
    schema["security"] = [{"bearer": []}]
    return schema


@router.get(OPENAPI_URL)
def openapi(request: Request, actor: Reader) -> JSONResponse:
    """The OpenAPI schema of the JSON API."""
    return JSONResponse(with_bearer_auth(request.app.openapi()))
