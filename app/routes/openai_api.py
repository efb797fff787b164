"""OpenAI-compatible endpoints, so tools built for OpenAI's API can draft with Lastmile's models:
GET /v1/models and POST /v1/chat/completions.

Authentication is the JSON API's: `Authorization: Bearer <API token>` (the `api_key` of OpenAI's clients),
in the one workspace the token was made for (or the browser session's). `model` is an adapter
("adapter-12") or a base model's key, as /v1/models lists them. A worker writes the answer through a
Generation row; the request waits for it (up to settings.generation_wait_seconds) without holding the
event loop or a database connection. Errors come in OpenAI's shape: {"error": {"message", "type", "param",
"code"}}.
"""

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel as Schema
from pydantic import ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth.deps import Actor, current_actor
from app.auth.errors import Forbidden, NotAuthenticated, openai_error_body
from app.db import get_session, get_sessionmaker
from app.models import Workspace
from app.services import adapters as adapters_service
from app.services import generation_requests as generations
from app.services import model_catalog as catalog
from app.services.errors import FieldErrors, NotFound, TooManyQueued
from app.settings import get_settings

router = APIRouter(prefix="/v1", tags=["openai"])
# Lastmile's stop reasons as OpenAI's finish_reason (a repetition guard stop is a natural stop there).
FINISH_REASONS = {"eos": "stop", "length": "length", "repetition": "stop"}
# The service's field names as the request's.
PARAMS = {"max_new_tokens": "max_tokens", "base_model_id": "model", "adapter_id": "model"}
DEFAULT_MAX_TOKENS = 512


class OpenAIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(
        self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
        code: str | None = None,
    ) -> None:  # fmt: skip
        """Keep what the answer says."""
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code


def openai_error_handler(request: Request, exc: Exception) -> Response:
    """{"error": {...}} with the error's status."""
    assert isinstance(exc, OpenAIError)
    body = openai_error_body(exc.message, exc.type, exc.param, exc.code)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(body, status_code=exc.status, headers=headers)


def install_openai_errors(app: FastAPI) -> None:
    """Register the OpenAI-shaped error answer on the application."""
    app.add_exception_handler(OpenAIError, openai_error_handler)


def openai_actor(request: Request, session: Session = Depends(get_session)) -> Actor:
    """Who is asking (API token or browser session); 401/403 in OpenAI's shape otherwise."""
    try:
        return current_actor(request, session)
    except NotAuthenticated as exc:
        raise OpenAIError(401, exc.message, code="invalid_api_key") from None
    except Forbidden as exc:
        raise OpenAIError(403, exc.message, "permission_error") from None


class ChatRequest(Schema):
    """The parts of OpenAI's chat request Lastmile honours; other fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None = Field(None, description="At most this many new tokens (default 512)")
    max_completion_tokens: int | None = Field(None, description="The newer name of max_tokens")
    temperature: float | None = Field(None, description="0 or absent = greedy, always the same answer")
    seed: int | None = None
    stream: bool | None = Field(None, description="Not supported: answers come whole")
    n: int | None = Field(None, description="Only 1")


def chat_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the chat template takes it: text parts joined, the "developer" role as "system"."""
    content = message.get("content")
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        content = "".join(str(p.get("text", "")) for p in content)
    role = "system" if message.get("role") == "developer" else message.get("role")
    return {**message, "role": role, "content": content}


def parse_chat(payload: Any) -> ChatRequest:
    """The validated request, or a 400 naming the first problem."""
    try:
        chat = ChatRequest.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise OpenAIError(400, f"{param}: {first['msg']}" if param else first["msg"], param=param) from None
    if chat.stream:
        message = "Lastmile does not stream: send stream=false (the default) to get the answer whole."
        raise OpenAIError(400, message, param="stream", code="unsupported_parameter")
    if chat.n not in (None, 1):
        message = "Lastmile writes one answer per request: leave n out or set it to 1."
        raise OpenAIError(400, message, param="n")
    return chat


def _queue(actor: Actor, chat: ChatRequest) -> int:
    """Record and publish the generation (a short session of its own); its id."""
    messages = [chat_message(m) for m in chat.messages]
    with get_sessionmaker()() as session:
        try:
            base_model_id, adapter_id = generations.resolve_model(session, actor.workspace.id, chat.model)
        except NotFound as exc:
            raise OpenAIError(404, str(exc), param="model", code="model_not_found") from None
        try:
            generation = generations.request_generation(
                session, actor.workspace.id, actor.user.id, messages, base_model_id=base_model_id,
                adapter_id=adapter_id, purpose="api",
                max_new_tokens=chat.max_tokens or chat.max_completion_tokens or DEFAULT_MAX_TOKENS,
                temperature=chat.temperature or 0.0, seed=chat.seed or 0,
            )  # fmt: skip
        except TooManyQueued as exc:
            raise OpenAIError(429, exc.message, "requests", code="rate_limit_exceeded") from None
        except FieldErrors as exc:
            field, message = next(iter(exc.errors.items()))
            raise OpenAIError(400, message, param=PARAMS.get(field, field)) from None
        return generation.id


def _give_up(generation_id: int, reason: str) -> None:
    """Fail the generation if no worker has taken it yet (a short session of its own)."""
    with get_sessionmaker()() as session:
        generations.give_up(session, generation_id, reason)


@router.post("/chat/completions")
async def chat_completions(request: Request, actor: Actor = Depends(openai_actor)) -> JSONResponse:
    """A chat completion written by the adapter or base model `model`, answered whole (no streaming)."""
    try:
        payload = await request.json()
    except ValueError:
        raise OpenAIError(400, "The request body must be JSON.") from None
    chat = parse_chat(payload)
    generation_id = await run_in_threadpool(_queue, actor, chat)
    wait = get_settings().generation_wait_seconds
    generation = await generations.wait_until_finished(generation_id, wait)
    if generation is None:
        reason = f"No worker answered within {wait:g} seconds; the GPU queue may be busy with training."
        await run_in_threadpool(_give_up, generation_id, reason)
        raise OpenAIError(504, f"{reason} Try again later.", "server_error", code="timeout")
    if generation.state == "failed":
        raise OpenAIError(500, generation.error or "The worker could not answer.", "server_error")
    usage = {
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.completion_tokens,
        "total_tokens": generation.prompt_tokens + generation.completion_tokens,
    }
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": generation.output or ""},
        "finish_reason": FINISH_REASONS.get(generation.stop_reason, "stop"),
        "logprobs": None,
    }
    return JSONResponse(
        {
            "id": f"chatcmpl-lastmile-{generation.id}",
            "object": "chat.completion",
            "created": int(generation.queued_at.timestamp()),
            "model": chat.model,
            "choices": [choice],
            "usage": usage,
        }
    )


@router.get("/models")
def list_models(
    actor: Actor = Depends(openai_actor), session: Session = Depends(get_session)
) -> dict[str, Any]:
    """The adapters of the workspace and the base models it may use, by the `model` names chat takes."""
    workspace = session.get(Workspace, actor.workspace.id)
    owner = workspace.slug if workspace is not None else "lastmile"
    models = catalog.list_models(session, actor.workspace.id)
    session.commit()  # keep the catalog rows list_models may have seeded
    keys = {m.id: m.key for m in models}
    data = [
        {"id": generations.adapter_model_id(a.id), "object": "model",
         "created": int(a.created_at.timestamp()), "owned_by": owner, "name": a.name,
         "base_model": keys[a.base_model_id]}
        for a in adapters_service.list_adapters(session, actor.workspace.id)
        if a.base_model_id in keys
    ] + [
        {"id": m.key, "object": "model", "created": int(m.created_at.timestamp()), "owned_by": "lastmile",
         "name": m.name}
        for m in models
    ]  # fmt: skip
    return {"object": "list", "data": data}
