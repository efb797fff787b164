"""The rows an import batch writes, shared by files and mailboxes: documents, items and batch counters."""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.curation.tokens import TokenCounter
from app.db import session_scope
from app.ingest.batch_messages import MAX_NAME, NEEDS_MAPPING, duplicate_message, short_name
from app.ingest.fork_server import SandboxLimits
from app.ingest.types import Limits
from app.models import Document, ImportBatch, ImportItem

log = logging.getLogger(__name__)

# Examples from the bundled sample files carry this tag, so they are easy to find and remove.
SAMPLE_TAG = "sample"


@dataclass(frozen=True)
class BatchContext:
    """What every step of one batch run needs to know."""

    batch_id: int
    workspace_id: int
    source: str
    limits: Limits
    sandbox: SandboxLimits
    counter: TokenCounter
    originals: Path
    # A batch works this long, then goes back in the queue behind the others (see pipeline.run_batch).
    slice_seconds: float


def bump_batch(session: Session, batch_id: int, done: int, examples: int) -> None:
    """Add to the batch's counters in SQL, so concurrent writers never lose an increment."""
    if done or examples:
        session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(
                done_files=ImportBatch.done_files + done,
                example_count=ImportBatch.example_count + examples,
            )
        )


def find_document(session: Session, workspace_id: int, sha256: str) -> Document | None:
    """The workspace's document with these bytes, if any."""
    query = select(Document).where(Document.workspace_id == workspace_id, Document.sha256 == sha256)
    return session.scalars(query).first()


def item_document(session: Session, ctx: BatchContext, item: ImportItem, **fields: Any) -> Document:
    """The Document for an item's bytes: a failed one to read again, or a new one with `fields` (added)."""
    document = find_document(session, ctx.workspace_id, item.sha256 or "")
    if document is None:
        document = Document(
            workspace_id=ctx.workspace_id,
            sha256=item.sha256,
            filename=item.filename[:MAX_NAME],
            size_bytes=item.size_bytes,
            **fields,
        )
        session.add(document)
    return document


def owned_document(session: Session, ctx: BatchContext, document_id: int | None) -> Document | None:
    """The document `document_id` when it belongs to the batch's workspace; None otherwise.

    Tasks receive only ids, so the task checks again what the web checked: a batch never reads or
    writes another workspace's document, whatever its items point at.
    """
    if document_id is None:
        return None
    document = session.get(Document, document_id)
    if document is None or document.workspace_id != ctx.workspace_id:
        log.warning("batch %s names document %s of another workspace; ignored", ctx.batch_id, document_id)
        return None
    return document


def fail_foreign(session: Session, ctx: BatchContext, item: ImportItem, counts_as_done: int) -> None:
    """Fail an item that points at a document outside the batch's workspace (it is never read)."""
    item.status = "failed"
    name = short_name(item.filename)
    item.message = f"{name} could not be read: it points at a file outside this workspace. Upload it again."
    item.document_id = None
    bump_batch(session, ctx.batch_id, counts_as_done, 0)


def lock_pending_item(session: Session, item_id: int) -> ImportItem | None:
    """The item, locked for this transaction (PostgreSQL), or None if another run already did it."""
    item = session.get(ImportItem, item_id, with_for_update=True, populate_existing=True)
    return item if item is not None and item.status == "pending" else None


def point_at_known(session: Session, ctx: BatchContext, item: ImportItem, counts_as_done: int) -> bool:
    """Settle an item whose bytes the workspace already holds (duplicate, or columns still to choose).

    False when there is no such document, or it failed before: a failed file is read again, since
    the parsers or the limits may have changed since.
    """
    document = find_document(session, ctx.workspace_id, item.sha256 or "")
    if document is None or document.status == "failed":
        return False
    item.document_id = document.id
    if document.status == "needs_mapping":
        item.status, item.message = "needs_mapping", NEEDS_MAPPING
    else:
        item.status, item.message = "duplicate", duplicate_message(document)
    bump_batch(session, ctx.batch_id, counts_as_done, 0)
    return True


def record_failure(ctx: BatchContext, item_id: int, message: str) -> None:
    """Mark an item failed with a plain message, in its own transaction."""
    with session_scope() as session:
        item = lock_pending_item(session, item_id)
        if item is None:
            return
        item.status = "failed"
        item.message = message
        bump_batch(session, ctx.batch_id, 1 if item.parent_item_id is None else 0, 0)
