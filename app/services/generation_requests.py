"""On-demand generations (new briefs, drafts, API completions): recorded, published, their place in line."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Adapter, BaseModel, Run
from app.queue import GENERATE, enqueue
from app.review_models import Comparison, Generation
from app.services.errors import FieldErrors, NotFound
from app.services.lookup import get_owned
from app.settings import get_settings

PURPOSES = ("brief", "draft", "api")
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class GpuLine:
    """Where a queued job stands on the gpu queue: jobs ahead and whether a run is training now."""

    ahead: int
    training: bool

    def sentence(self) -> str:
        """Plain words for the page: "Training is using the worker; 2 jobs ahead of yours"."""
        jobs = "1 job" if self.ahead == 1 else f"{self.ahead} jobs"
        if self.training:
            return (
                f"A training run is using the worker; {jobs} ahead of yours."
                if self.ahead
                else ("A training run is using the worker; yours is next.")
            )
        return (
            f"Waiting for a worker; {jobs} ahead of yours."
            if self.ahead
            else "Waiting for a worker; yours is next."
        )


def check_messages(messages: Any) -> list[dict[str, str]]:
    """The chat messages as the chat template takes them, or FieldErrors naming what is wrong."""
    if not isinstance(messages, list) or not messages:
        raise FieldErrors({"messages": "Give at least one message with the brief."})
    clean = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in ROLES or not isinstance(content, str):
            raise FieldErrors(
                {"messages": f"Message {index + 1} needs a role ({', '.join(ROLES)}) and text content."}
            )
        clean.append({"role": role, "content": content})
    if clean[-1]["role"] != "user" or not clean[-1]["content"].strip():
        raise FieldErrors({"messages": "The last message must be the brief (a user message with text)."})
    return clean


def request_generation(
    session: Session,
    workspace_id: int,
    user_id: int | None,
    messages: Any,
    *,
    base_model_id: int | None = None,
    adapter_id: int | None = None,
    purpose: str = "draft",
    with_base: bool = False,
    max_new_tokens: int = 512,
    temperature: float = 0.0,
    seed: int = 0,
) -> Generation:
    """Record a queued generation (committed) and publish it; the adapter fixes the base model when given."""
    errors: dict[str, str] = {}
    limit = get_settings().generation_max_new_tokens
    if purpose not in PURPOSES:
        errors["purpose"] = f"Purpose must be one of {', '.join(PURPOSES)}."
    if not 1 <= max_new_tokens <= limit:
        errors["max_new_tokens"] = f"Ask for between 1 and {limit} new tokens."
    if not 0.0 <= temperature <= 2.0:
        errors["temperature"] = "Temperature must be between 0 (always the same answer) and 2."
    if errors:
        raise FieldErrors(errors)
    clean = check_messages(messages)
    if adapter_id is not None:
        adapter = get_owned(session, Adapter, workspace_id, adapter_id, NotFound("No such adapter."))
        base_model_id = adapter.base_model_id
        if base_model_id is None:
            raise FieldErrors({"adapter_id": "The base model of this adapter was removed; train it again."})
    model = session.get(BaseModel, base_model_id) if base_model_id is not None else None
    if model is None or (model.workspace_id not in (None, workspace_id)) or not model.enabled:
        raise FieldErrors({"base_model_id": "Pick a base model or an adapter."})
    generation = Generation(
        workspace_id=workspace_id, created_by=user_id, base_model_id=model.id, adapter_id=adapter_id,
        purpose=purpose, messages=clean, with_base=with_base and adapter_id is not None,
        max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
    )  # fmt: skip
    session.add(generation)
    session.commit()
    # Published only after the commit: the worker must find the row it is told about.
    enqueue(GENERATE, generation.id)
    return generation


def get_generation(session: Session, workspace_id: int, generation_id: int) -> Generation:
    """The generation as the database holds it now (the worker writes it)."""
    return get_owned(session, Generation, workspace_id, generation_id, NotFound("No such draft."), fresh=True)


def gpu_line(session: Session, queued_at: datetime) -> GpuLine:
    """What stands before a job queued at `queued_at` on the gpu queue (all workspaces share it)."""
    ahead = 0
    for table in (Run, Comparison, Generation):
        ahead += int(
            session.scalar(
                select(func.count())
                .select_from(table)
                .where(table.state == "queued", table.queued_at < queued_at)
            )
            or 0
        )
    training = bool(
        session.scalar(select(func.count()).select_from(Run).where(Run.state.in_(("running", "cancelling"))))
    )
    return GpuLine(ahead=ahead, training=training)
