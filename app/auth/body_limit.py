"""Request body limits per route class, enforced while the body streams in (before parsing or spooling)."""

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.errors import is_api_path
from app.settings import Settings, get_settings

# Routes that take uploaded files or pasted documents, and routes whose bodies carry whole documents.
UPLOAD_PATHS = ("/upload", "/api/uploads")
TEXT_PATHS = ("/examples", "/api/examples", "/drafts", "/api/drafts", "/briefs", "/api/briefs", "/v1/")
MIB = 1024 * 1024


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether `path` is one of `prefixes` or below one of them."""
    return any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def body_limit(path: str, settings: Settings) -> int:
    """The most bytes a request body to `path` may have."""
    if _under(path, UPLOAD_PATHS):
        # An upload may hold max_upload_bytes of documents and max_mailbox_bytes of mailboxes, plus the
        # multipart framing around them.
        return settings.max_upload_bytes + settings.max_mailbox_bytes + MIB
    if _under(path, TEXT_PATHS):
        return settings.max_text_request_bytes
    return settings.max_request_bytes


def too_large_message(limit: int) -> str:
    """What a refused request is told."""
    size = f"{limit / MIB:.0f} MB" if limit >= MIB else f"{limit // 1024} KB"
    return (
        f"The request is too large: this address takes at most {size}. "
        "Send less at once (split the file or the text), or ask an admin to raise the limit."
    )


class BodyLimitMiddleware:
    """Pure ASGI middleware: 413 for a declared Content-Length over the limit, and stops a streamed body
    (chunked, or longer than declared) as soon as it passes the limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a receive that counts the body's bytes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"], get_settings())
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _answer_early(scope, send, 413, too_large_message(limit))
            return
        seen = 0

        async def counted() -> Message:
            """The next body chunk; 413 once the body passes the limit."""
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the body parsing: FastAPI passes HTTPExceptions through as they are.
                    raise HTTPException(413, too_large_message(limit))
            return message

        await self.app(scope, counted, send)


async def _answer_early(scope: Scope, send: Send, status: int, message: str) -> None:
    """Answer `status` with `message` without reading the body (JSON for the API, plain text for pages);
    the connection closes, so the unread body is never taken in."""
    api = is_api_path(scope["path"])
    body = json.dumps({"detail": message}).encode() if api else message.encode()
    content_type = b"application/json" if api else b"text/plain; charset=utf-8"
    length = str(len(body)).encode()
    headers = [(b"content-type", content_type), (b"content-length", length), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
