"""On-demand generations (new briefs, drafts, API completions): recorded, published, their place in line."""

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db import get_sessionmaker
from app.models import BaseModel, Run, utcnow
from app.review_models import Comparison, Generation
from app.services import model_catalog as catalog
from app.services.adapters import get_adapter
from app.services.errors import FieldErrors, NotFound, TooManyQueued
from app.services.job_queue import publish_job
from app.services.lookup import get_owned
from app.settings import get_settings

PURPOSES = ("brief", "draft", "api")
ROLES = ("system", "user", "assistant")
FINISHED = ("succeeded", "failed")
ADAPTER_MODEL_PREFIX = "adapter-"


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
    adapter_name = None
    if adapter_id is not None:
        adapter = get_adapter(session, workspace_id, adapter_id)
        base_model_id, adapter_name = adapter.base_model_id, adapter.name
        if base_model_id is None:
            raise FieldErrors({"adapter_id": "The base model of this adapter was removed; train it again."})
    model = session.get(BaseModel, base_model_id) if base_model_id is not None else None
    if model is None or (model.workspace_id not in (None, workspace_id)) or not model.enabled:
        raise FieldErrors({"base_model_id": "Pick a base model or an adapter."})
    # The same check a run gets: a model no worker can hold would wait in the queue for ever.
    fit, capacity = catalog.worker_for(session, model)
    if fit is False and capacity is not None:
        raise FieldErrors({"base_model_id": catalog.too_large_message(model, capacity)})
    check_queue_quota(session, workspace_id, user_id)
    generation = Generation(
        workspace_id=workspace_id, created_by=user_id, base_model_id=model.id, adapter_id=adapter_id,
        adapter_name=adapter_name, purpose=purpose, messages=clean,
        with_base=with_base and adapter_id is not None, max_new_tokens=max_new_tokens,
        temperature=temperature, seed=seed, published_at=utcnow(),
    )  # fmt: skip
    session.add(generation)
    session.commit()
    # Published only after the commit: the worker must find the row it is told about (a publish that fails
    # or is lost is made again by the reaper: the row is the record).
    publish_job(Generation, generation.id)
    return generation


def check_queue_quota(session: Session, workspace_id: int, user_id: int | None) -> None:
    """TooManyQueued when the person or the workspace has as many unfinished generations as allowed."""
    settings = get_settings()
    unfinished = select(func.count()).select_from(Generation).where(Generation.state.not_in(FINISHED))
    mine = session.scalar(unfinished.where(Generation.created_by == user_id)) if user_id is not None else 0
    if (mine or 0) >= settings.generation_max_queued_per_user:
        raise TooManyQueued(
            f"You have {mine} drafts or completions waiting or being written; the limit is "
            f"{settings.generation_max_queued_per_user}. Ask again once one has finished."
        )
    ours = session.scalar(unfinished.where(Generation.workspace_id == workspace_id)) or 0
    if ours >= settings.generation_max_queued_per_workspace:
        raise TooManyQueued(
            f"This workspace has {ours} drafts or completions waiting or being written; the limit is "
            f"{settings.generation_max_queued_per_workspace}. Ask again once some have finished."
        )


def get_generation(session: Session, workspace_id: int, generation_id: int) -> Generation:
    """The generation as the database holds it now (the worker writes it)."""
    missing = NotFound(f"Draft {generation_id} does not exist in this workspace (it may have been deleted).")
    return get_owned(session, Generation, workspace_id, generation_id, missing, fresh=True)


def recent_generations(
    session: Session,
    workspace_id: int,
    user_id: int | None = None,
    purpose: str | None = None,
    limit: int = 20,
) -> list[Generation]:
    """The workspace's latest generations, newest first (only one user's, or one purpose's, when given)."""
    stmt = select(Generation).where(Generation.workspace_id == workspace_id)
    if user_id is not None:
        stmt = stmt.where(Generation.created_by == user_id)
    if purpose is not None:
        stmt = stmt.where(Generation.purpose == purpose)
    stmt = stmt.order_by(Generation.queued_at.desc(), Generation.id.desc()).limit(limit)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def status_text(session: Session, generation: Generation) -> str:
    """Where the generation stands, in plain words (its place in line while it waits)."""
    if generation.state == "queued":
        return gpu_line(session, generation.queued_at).sentence()
    if generation.state == "running":
        return "Writing now…"
    if generation.state == "failed":
        return generation.error or "The worker could not write this draft."
    return "Done."


def give_up(session: Session, generation_id: int, reason: str) -> None:
    """Fail a generation nobody waits for any more, if no worker has taken it yet (committed)."""
    session.execute(
        update(Generation)
        .where(Generation.id == generation_id, Generation.state == "queued")
        .values(state="failed", error=reason, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()


async def wait_until_finished(generation_id: int, timeout: float) -> Generation | None:
    """The generation once it has succeeded or failed, or None after `timeout` seconds.

    Polls the database from the thread pool with a short-lived session each time, so a waiting request
    neither blocks the event loop nor holds a database connection while it waits.
    """
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        generation = await run_in_threadpool(_finished, generation_id)
        if generation is not None or time.monotonic() >= deadline:
            return generation
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 1.0)


def _finished(generation_id: int) -> Generation | None:
    """The generation if it has ended (detached from its short session), else None."""
    with get_sessionmaker()(expire_on_commit=False) as session:
        generation = session.get(Generation, generation_id)
        if generation is None or generation.state not in FINISHED:
            return None
        session.expunge(generation)
        return generation


# ---- model ids of the OpenAI-compatible API ---------------------------------------------------------


def adapter_model_id(adapter_id: int) -> str:
    """The stable `model` name of an adapter in the OpenAI-compatible API: "adapter-12"."""
    return f"{ADAPTER_MODEL_PREFIX}{adapter_id}"


def model_id(generation: Generation, model_keys: dict[int, str]) -> str:
    """The `model` name a generation answered with (its adapter's, else its base model's key)."""
    if generation.adapter_id is not None:
        return adapter_model_id(generation.adapter_id)
    return model_keys.get(generation.base_model_id or 0, "")


def resolve_model(session: Session, workspace_id: int, name: str) -> tuple[int | None, int | None]:
    """(base_model_id, adapter_id) of a `model` name: "adapter-<id>" or a base model's key; else NotFound."""
    missing = NotFound(f"The model '{name}' does not exist. GET /v1/models lists the ones you can use.")
    if name.startswith(ADAPTER_MODEL_PREFIX):
        number = name.removeprefix(ADAPTER_MODEL_PREFIX)
        if not number.isdigit():
            raise missing
        try:
            return None, get_adapter(session, workspace_id, int(number)).id
        except NotFound:
            raise missing from None
    model = session.scalar(select(BaseModel).where(BaseModel.key == name, BaseModel.enabled.is_(True)))
    if model is None or model.workspace_id not in (None, workspace_id):
        raise missing
    return model.id, None


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
