"""A mailbox import, one slice at a time: read for a while in the sandbox, record, go on from there.

A 2 GB mailbox is never held in memory and never holds the worker: each slice reads messages from a
byte offset for at most `slice seconds` (each message within the per-file time budget: one that
stalls the reader is skipped with a note), then writes the slice's examples and the new offset in
one transaction. A redelivered task, or the next turn of the batch, goes on from the offset recorded;
a slice whose start no longer matches the record (another copy of the task wrote it) is dropped.
"""

import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.db import session_scope
from app.ingest.batch_messages import parsed_result, short_name
from app.ingest.batch_rows import (
    SAMPLE_TAG,
    BatchContext,
    bump_batch,
    item_document,
    lock_pending_item,
    owned_document,
    point_at_known,
)
from app.ingest.decoding import display_name
from app.ingest.fork_server import MB, SandboxFault, SandboxLimits, run_limited
from app.ingest.mailbox import MailboxTally, MessageOutcome, read_slice
from app.ingest.registry import too_large
from app.ingest.sandbox import fault_message
from app.ingest.types import IngestError
from app.models import Document, ImportItem
from app.services.examples import new_example
from app.shutdown import shutting_down

log = logging.getLogger(__name__)


@dataclass
class Slice:
    """What one slice read: the messages' outcomes and where the next slice starts."""

    offset: int
    number: int
    outcomes: list[MessageOutcome] = field(default_factory=list)
    finished: bool = False
    truncated: bool = False
    refused: str | None = None


def _message_fault(number: int, fault: SandboxFault, limits: SandboxLimits) -> str:
    """Why a message the sandbox stopped on was skipped, in plain words."""
    if fault.kind == "memory":
        why = f"it needs more than {limits.memory_bytes // MB:,} MB of memory to read"
    elif fault.kind in ("cpu", "wall"):
        why = (
            f"it took longer to read than the {round(limits.wall_seconds):,} seconds allowed for one message"
        )
    else:
        why = "Lastmile's reader stopped on it"
    return f"message {number}: could not be read ({why}) — skipped"


def read_one_slice(
    ctx: BatchContext, path: Path, filename: str, offset: int, number: int, seconds: float
) -> Slice:
    """Read one slice of the mailbox in the sandbox; a message that stalls it is skipped, not retried."""
    # RLIMIT_CPU counts the whole slice; the wall clock restarts at every message (per_item).
    limits = replace(ctx.sandbox, cpu_seconds=ctx.sandbox.cpu_seconds + math.ceil(seconds))
    args = (str(path), filename, ctx.limits, offset, number, seconds)
    fault: SandboxFault | None = None
    try:
        events = run_limited(read_slice, args, limits, per_item=True)
    except SandboxFault as exc:
        log.warning("sandbox stopped a slice of %r at offset %s: %s", filename, offset, exc)
        events, fault = exc.items, exc
    result = Slice(offset, number)
    reading: tuple[int, int] | None = None
    for event in events:
        if event[0] == "refused":
            result.refused, result.finished = event[1], True
        elif event[0] == "reading":
            reading = (event[1], event[2])
        elif event[0] == "message":
            result.outcomes.append(event[1])
            result.number, result.offset = event[1].number, event[1].end
            reading = None
        else:  # "end"
            result.offset, result.number, result.finished, result.truncated = event[1:]
    if fault is not None and reading is not None:
        skipped_number, end = reading
        problem = _message_fault(skipped_number, fault, ctx.sandbox)
        result.outcomes.append(MessageOutcome(skipped_number, end, problem=problem))
        result.number, result.offset = skipped_number, end
    elif fault is not None and offset == 0:  # it stopped before any message: the file cannot be read
        result.refused, result.finished = fault_message(filename, fault, ctx.sandbox), True
    elif fault is not None:  # it stopped between messages: keep what was read, say the rest was not
        problem = f"the messages after message {result.number} could not be read — skipped"
        result.outcomes.append(MessageOutcome(result.number, result.offset, problem=problem))
        result.finished = True
    return result


def open_mailbox(ctx: BatchContext, item_id: int) -> dict[str, Any] | None:
    """The item's progress, starting it (its Document, offset 0) on the first slice; None when settled."""
    with session_scope() as session:
        item = lock_pending_item(session, item_id)
        if item is None:
            return None
        if item.progress is not None:
            return item.progress
        counts_as_done = 1 if item.parent_item_id is None else 0
        if point_at_known(session, ctx, item, counts_as_done):
            return None
        document = item_document(session, ctx, item, format="mbox", status="stored")
        session.flush()  # a new document needs its id
        item.document_id = document.id
        item.progress = {"offset": 0, "number": 0, "tally": {}}
        return item.progress


def _close(
    item: ImportItem, document: Document, tally: MailboxTally, refused: str | None, ctx: BatchContext
) -> None:
    """Set the mailbox's final status and result line on its item and Document."""
    item.progress = None
    if refused is None:
        try:
            parsed = tally.result(item.filename, b"", [], ctx.limits.max_mailbox_messages)
        except IngestError as exc:
            refused = str(exc)
    if refused is not None:
        item.status, item.message = "failed", refused
        document.status, document.error = "failed", refused
        return
    item.status, item.message = parsed_result(parsed, tally.examples, short_name(item.filename))
    document.status, document.error = "parsed", None


def write_slice(ctx: BatchContext, item_id: int, start: int, result: Slice) -> bool:
    """Record a slice's examples and where to go on, in one transaction; whether the mailbox is done."""
    with session_scope() as session:
        item = lock_pending_item(session, item_id)
        if item is None or item.progress is None:
            return True
        if item.progress.get("offset") != start:
            return False  # another copy of the task recorded this slice already: go on from its record
        document = owned_document(session, ctx, item.document_id)
        if document is None:
            return True
        tally = MailboxTally.from_json(item.progress.get("tally") or {})
        added = 0
        for outcome in result.outcomes:
            tally.add(outcome)
            if outcome.example is not None:
                if ctx.source == "sample":
                    outcome.example.tags.append(SAMPLE_TAG)
                session.add(new_example(ctx.workspace_id, outcome.example, document.id, ctx.counter))
                added += 1
        tally.truncated = result.truncated
        document.example_count = (document.example_count or 0) + added
        item.example_count = (item.example_count or 0) + added
        done = result.finished
        if done:
            _close(item, document, tally, result.refused, ctx)
        else:
            item.progress = {"offset": result.offset, "number": result.number, "tally": tally.to_json()}
        counts_as_done = 1 if done and item.parent_item_id is None else 0
        bump_batch(session, ctx.batch_id, counts_as_done, added)
        return done


def mailbox_refusal(ctx: BatchContext, path: Path, filename: str) -> str | None:
    """Why a stored mailbox is refused before it is read (its size), or None."""
    size = path.stat().st_size
    if size > ctx.limits.max_mailbox_bytes:
        return too_large(display_name(filename), size, ctx.limits.max_mailbox_bytes)
    return None


def import_mailbox(ctx: BatchContext, item_id: int, path: Path, filename: str, deadline: float) -> bool:
    """Read slices of the mailbox until it is done (True) or the batch's turn is over (False)."""
    refusal = mailbox_refusal(ctx, path, filename)
    while True:
        progress = open_mailbox(ctx, item_id)
        if progress is None:
            return True
        start, number = progress["offset"], progress["number"]
        if refusal is not None:
            result = Slice(start, number, finished=True, refused=refusal)
        else:
            seconds = max(0.0, deadline - time.monotonic())
            result = read_one_slice(ctx, path, filename, start, number, seconds)
        if write_slice(ctx, item_id, start, result):
            return True
        if time.monotonic() >= deadline or shutting_down():
            return False
