"""The comparison and generation tasks' bodies: take the row, write the drafts, end it with a plain message.

`execute_comparison(comparison_id)` and `execute_generation(generation_id)` are what the Celery tasks
`lastmile.compare_adapter` and `lastmile.generate` call. A delivery works on a row only after taking its lease
(worker/job_lease.py: from queued, or from running whose heartbeat is older than run_stale_seconds) and keeps
the heartbeat fresh while it works; every later write is conditional on its lease owner, so a duplicate
delivery does nothing and a superseded one stops. torch and the engine are imported only after the row is
taken.
"""

import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import session_scope
from app.models import Adapter, BaseModel, utcnow
from app.review_models import Comparison, ComparisonItem, Generation
from app.settings import get_settings
from worker.job_lease import Job, heartbeat, take
from worker.run_progress import Heartbeat
from worker.run_task import resolve_model_dir, worker_name

log = logging.getLogger(__name__)
# Celery's soft limits (the hard ones come a minute later): a comparison answers every held-out example twice.
COMPARISON_TIME_LIMIT = 6 * 3600
GENERATION_TIME_LIMIT = 3600


class LeaseLost(Exception):
    """Another delivery took the row over (this one was presumed dead): stop writing."""


def _owner() -> str:
    """This delivery's lease owner: host, process and a nonce."""
    return f"{worker_name()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _taken(session: Session, table: Job, row_id: int, owner: str) -> bool:
    """Take the row's lease for this delivery; False (logged) when it is finished or held elsewhere."""
    if take(session, table, row_id, owner, worker_name()):
        return True
    log.info("%s %s: not taken by this delivery (finished or held elsewhere)", table.__tablename__, row_id)
    return False


@contextmanager
def _beating(table: Job, row_id: int, owner: str) -> Iterator[None]:
    """Keep this delivery's lease on the row fresh while the body works (a real model takes minutes)."""
    beat = Heartbeat(row_id, owner, partial(heartbeat, table))
    beat.start()
    try:
        yield
    finally:
        beat.stopped.set()


def _end(table: Job, row_id: int, owner: str, values: dict[str, Any]) -> bool:
    """Write the row's end state if this delivery still holds it (committed)."""
    with session_scope() as session:
        return bool(
            session.execute(
                update(table)
                .execution_options(synchronize_session=False)
                .where(table.id == row_id, table.lease_owner == owner, table.state == "running")
                .values(finished_at=utcnow(), **values)
            ).rowcount
        )


def _model_folder(model: BaseModel | None) -> Path:
    """The base model's folder (downloaded once for Hub models); a plain error when it is gone."""
    from worker.generation.engine import GenerationError

    if model is None:
        raise GenerationError(
            "The base model of this adapter was removed from the catalog, so it cannot write drafts. Add the "
            "model again, or train the adapter again on another base model."
        )
    return resolve_model_dir(model)


def plain_error(exc: BaseException, what: str) -> str:
    """A message for business users about an error that stopped `what` ("the comparison", "the draft")."""
    from worker.generation.engine import GenerationError
    from worker.training import TrainingError

    if isinstance(exc, GenerationError | TrainingError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return f"A file {what} needs is missing ({exc.filename}). Import the model again, then try again."
    if type(exc).__name__ == "SoftTimeLimitExceeded":
        return (
            f"Writing {what} took longer than the worker's time limit and was stopped. Ask for fewer new "
            "tokens, or ask your administrator for a faster worker."
        )
    if "out of memory" in str(exc).lower():
        return (
            "The worker ran out of memory. Ask for fewer new tokens or pick a smaller model, and try again."
        )
    return f"Writing {what} stopped with an unexpected error ({type(exc).__name__}: {exc}). Try again."


@dataclass(frozen=True)
class _Side:
    """One draft to write: which item, base or adapted."""

    item_id: int
    adapted: bool


class ComparisonWriter:
    """Stores drafts as batches finish and counts the examples with both drafts (done/total)."""

    def __init__(
        self, comparison_id: int, owner: str, sides: list[_Side], done: set[int], total: int
    ) -> None:
        """For `sides` (one per request); `done` holds the items that had both drafts already."""
        self.comparison_id, self.owner, self.sides, self.total = comparison_id, owner, sides, total
        self.missing = {side.item_id: 0 for side in sides}
        for side in sides:
            self.missing[side.item_id] += 1
        self.done = len(done)

    def __call__(self, drafts: dict[int, Any]) -> None:
        """Write the drafts of one batch and the progress, if this delivery still holds the comparison."""
        prefix = {True: "adapted", False: "base"}
        with session_scope() as session:
            for index, draft in drafts.items():
                side = self.sides[index]
                kind = prefix[side.adapted]
                session.execute(
                    update(ComparisonItem)
                    .execution_options(synchronize_session=False)
                    .where(ComparisonItem.id == side.item_id)
                    .values(
                        {
                            f"{kind}_output": draft.text,
                            f"{kind}_tokens": draft.tokens,
                            f"{kind}_stop": draft.stop,
                        }
                    )
                )
                self.missing[side.item_id] -= 1
                self.done += self.missing[side.item_id] == 0
            held = session.execute(
                update(Comparison)
                .execution_options(synchronize_session=False)
                .where(Comparison.id == self.comparison_id, Comparison.lease_owner == self.owner)
                .where(Comparison.state == "running")
                .values(done=self.done, status_text=f"Writing drafts: {self.done} of {self.total} examples")
            ).rowcount
            if not held:
                session.rollback()
                raise LeaseLost


def answer_plans(engine: Any, references: list[tuple[str, str]], bound: int) -> dict[str, Any]:
    """Per task kind, the shape and length budget of the comparison's drafts (from the held-out references'
    lengths in the base model's tokens, at most `bound`)."""
    from worker.generation.shapes import plan_answers

    def count(text: str) -> int:
        return len(engine.tokenizer(text, add_special_tokens=False)["input_ids"])

    return plan_answers(references, count, bound)


def used_settings(engine: Any, plans: dict[str, Any]) -> dict[str, Any]:
    """What the comparison's drafts were written with, for its settings record: per kind the answer shape
    and token limit, and the base model's own decoding settings that applied."""
    from worker.generation.decoding import Sampling

    sampling = Sampling.of_model(engine.model.generation_config)
    answers = {kind: {"shape": p.shape, "max_new_tokens": p.max_new_tokens} for kind, p in plans.items()}
    return {
        "answers": answers,
        "stop_token_ids": sorted(engine.stop_ids),
        "repetition_penalty": sampling.repetition_penalty,
        "no_repeat_ngram_size": sampling.no_repeat_ngram_size,
    }


def _record_settings(comparison_id: int, owner: str, settings: dict[str, Any]) -> None:
    """Store the settings the drafts are written with, if this delivery still holds the comparison."""
    with session_scope() as session:
        session.execute(
            update(Comparison)
            .execution_options(synchronize_session=False)
            .where(Comparison.id == comparison_id, Comparison.lease_owner == owner)
            .values(settings=settings)
        )


def execute_comparison(comparison_id: int) -> str:
    """Write base and adapted drafts for every held-out example of a comparison; returns what happened."""
    owner = _owner()
    with session_scope() as session:
        if not _taken(session, Comparison, comparison_id, owner):
            return "skipped"
        comparison = session.get(Comparison, comparison_id, populate_existing=True)
        assert comparison is not None
        adapter = session.get(Adapter, comparison.adapter_id)
        assert adapter is not None  # the comparison goes with its adapter (ON DELETE CASCADE)
        model = session.get(BaseModel, adapter.base_model_id) if adapter.base_model_id else None
        items = [
            (i.id, i.kind, i.instruction, i.input, i.reference, i.base_output, i.adapted_output)
            for i in comparison.items
        ]
        settings = dict(comparison.settings)
        bound = int(settings.get("max_new_tokens", get_settings().comparison_max_new_tokens))
        seed = int(settings.get("seed", 0))
        adapter_key, adapter_dir = f"adapter-{adapter.id}", get_settings().data_dir / adapter.path
    with _beating(Comparison, comparison_id, owner):
        started = time.monotonic()
        try:
            from worker.generation.engine import Decoding, Request, engine_for

            engine = engine_for(_model_folder(model), model.name if model else None)
            name = engine.use_adapter(adapter_key, adapter_dir)
            plans = answer_plans(engine, [(item[1], item[4]) for item in items], bound)
            _record_settings(comparison_id, owner, settings | used_settings(engine, plans))
            requests, sides, done = [], [], set()
            for item_id, kind, instruction, input, _reference, base_output, adapted_output in items:
                if base_output is not None and adapted_output is not None:
                    done.add(item_id)  # a resumed comparison keeps the drafts written before
                    continue
                prompt, plan = engine.example_prompt(instruction, input), plans[kind]
                for adapted, output in ((False, base_output), (True, adapted_output)):
                    if output is None:
                        adapter = name if adapted else None
                        requests.append(Request(prompt, adapter, plan.max_new_tokens, plan.shape))
                        sides.append(_Side(item_id, adapted))
            writer = ComparisonWriter(comparison_id, owner, sides, done, len(items))
            engine.generate(requests, Decoding(bound, seed=seed), on_batch=writer)
        except LeaseLost:
            log.warning("comparison %s: taken over by another delivery; this one stops", comparison_id)
            return "superseded"
        except Exception as exc:
            log.exception("comparison %s failed", comparison_id)
            message = plain_error(exc, "the drafts")
            failed = {"state": "failed", "error": message, "status_text": message}
            _end(Comparison, comparison_id, owner, failed)
            return "failed"
        values = {"state": "succeeded", "status_text": "Finished", "done": len(items)}
        values["seconds"] = round(time.monotonic() - started, 2)
        return "succeeded" if _end(Comparison, comparison_id, owner, values) else "superseded"


def execute_generation(generation_id: int) -> str:
    """Answer a generation's messages (with the base model too, when asked); returns what happened."""
    owner = _owner()
    with session_scope() as session:
        if not _taken(session, Generation, generation_id, owner):
            return "skipped"
        generation = session.get(Generation, generation_id, populate_existing=True)
        assert generation is not None
        adapter = session.get(Adapter, generation.adapter_id) if generation.adapter_id else None
        model_id = adapter.base_model_id if adapter is not None else generation.base_model_id
        model = session.get(BaseModel, model_id) if model_id else None
        adapter_key = f"adapter-{adapter.id}" if adapter is not None else None
        adapter_dir = get_settings().data_dir / adapter.path if adapter is not None else None
        messages, with_base = list(generation.messages), generation.with_base and adapter is not None
        decoding_args = (generation.max_new_tokens, generation.temperature, generation.seed)
        deleted = generation.adapter_name if adapter is None else None
    if deleted is not None:
        message = f"The adapter “{deleted}” was deleted before this draft was written. Pick another adapter."
        _end(Generation, generation_id, owner, {"state": "failed", "error": message})
        return "failed"
    with _beating(Generation, generation_id, owner):
        try:
            from worker.generation.engine import Decoding, Request, engine_for

            engine = engine_for(_model_folder(model), model.name if model else None)
            name = engine.use_adapter(adapter_key, adapter_dir) if adapter_key and adapter_dir else None
            prompt = engine.chat_prompt(messages)
            requests = [Request(prompt, name)] + ([Request(prompt, None)] if with_base else [])
            drafts = engine.generate(requests, Decoding(*decoding_args))
        except Exception as exc:
            log.exception("generation %s failed", generation_id)
            failed = {"state": "failed", "error": plain_error(exc, "the draft")}
            _end(Generation, generation_id, owner, failed)
            return "failed"
        values = {
            "state": "succeeded", "output": drafts[0].text, "stop_reason": drafts[0].stop,
            "prompt_tokens": len(prompt), "completion_tokens": drafts[0].tokens,
            "base_output": drafts[1].text if with_base else None,
        }  # fmt: skip
        return "succeeded" if _end(Generation, generation_id, owner, values) else "superseded"
