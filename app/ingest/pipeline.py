"""Running an upload batch: parse each stored file and write its examples, one transaction per file."""

import logging
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import session_scope
from app.ingest.batch_messages import (
    NEEDS_MAPPING,
    archive_summary,
    member_name,
    parsed_result,
    short_name,
    unexpected_error_message,
    with_warnings,
)
from app.ingest.batch_rows import (
    SAMPLE_TAG,
    BatchContext,
    bump_batch,
    fail_foreign,
    item_document,
    lock_pending_item,
    owned_document,
    point_at_known,
    record_failure,
)
from app.ingest.fork_server import SandboxLimits, SandboxStopped
from app.ingest.mailbox_import import import_mailbox
from app.ingest.registry import extension
from app.ingest.sandbox import parse_in_sandbox
from app.ingest.store import original_path, store_bytes, storing
from app.ingest.types import Limits, ParsedFile
from app.models import Document, ImportBatch, ImportItem, utcnow
from app.queue import INGEST_BATCH, enqueue
from app.services.examples import new_example, token_counter
from app.services.health import refresh_health
from app.settings import get_settings
from app.shutdown import shutting_down

log = logging.getLogger(__name__)


def _apply_result(
    session: Session, ctx: BatchContext, item: ImportItem, document: Document, parsed: ParsedFile
) -> int:
    """Write what the parser found onto the document and the item; the examples added."""
    if parsed.error:
        # A failed mapping keeps the columns on offer, so the user can choose others.
        document.status = "needs_mapping" if ctx.source == "mapping" and document.columns else "failed"
        document.error = parsed.error
        item.status, item.message = "failed", with_warnings(parsed.error, parsed.warnings)
        return 0
    if parsed.columns and not parsed.examples:
        document.status, document.error = "needs_mapping", None
        document.columns = list(parsed.columns)
        item.status, item.message = "needs_mapping", with_warnings(NEEDS_MAPPING, parsed.warnings)
        return 0
    for draft in parsed.examples:
        if ctx.source == "sample" and SAMPLE_TAG not in draft.tags:
            draft.tags.append(SAMPLE_TAG)
        session.add(new_example(ctx.workspace_id, draft, document.id, ctx.counter))
    added = len(parsed.examples)
    document.status, document.error = "parsed", None
    document.example_count = (document.example_count or 0) + added
    if parsed.columns:
        document.columns = list(parsed.columns)
    item.status, item.message = parsed_result(parsed, added, short_name(item.filename))
    return added


def write_file(
    session: Session, ctx: BatchContext, item_id: int, parsed: ParsedFile, parent_doc_id: int | None
) -> int:
    """Record one parsed file: its Document, its examples and its item's result; the examples added.

    Top-level items count towards the batch's done files; archive members do not (their archive does).
    """
    item = lock_pending_item(session, item_id)
    if item is None:
        return 0
    counts_as_done = 1 if item.parent_item_id is None else 0
    # A mapping batch's item names its document: it is read again, not reported as a duplicate.
    document = owned_document(session, ctx, item.document_id)
    if item.document_id and document is None:
        fail_foreign(session, ctx, item, counts_as_done)
        return 0
    if document is None and point_at_known(session, ctx, item, counts_as_done):
        return 0
    if document is None:
        document = item_document(session, ctx, item, parent_id=parent_doc_id)
    document.format = parsed.format[:20]
    session.flush()  # the examples need the document's id
    item.document_id = document.id
    added = _apply_result(session, ctx, item, document, parsed)
    item.example_count = added
    bump_batch(session, ctx.batch_id, counts_as_done, added)
    return added


def write_file_safely(
    ctx: BatchContext, item_id: int, filename: str, parsed: ParsedFile, parent_doc_id: int | None
) -> None:
    """write_file in its own transaction; a fault rolls back only this file and marks its item failed."""
    for attempt in (1, 2):
        try:
            with session_scope() as session:
                write_file(session, ctx, item_id, parsed, parent_doc_id)
            return
        except IntegrityError:
            # Another batch stored the same bytes at the same moment: the retry finds its document.
            log.warning("integrity error writing item %s (attempt %s)", item_id, attempt, exc_info=True)
        except Exception:
            log.exception("could not write item %s of batch %s", item_id, ctx.batch_id)
            break
    record_failure(ctx, item_id, unexpected_error_message(filename))


def _child_item_id(ctx: BatchContext, parent_item_id: int, position: int, parsed: ParsedFile) -> int:
    """The archive member's item: stores the member as an original and records (or finds) its item."""
    name = member_name(parsed.filename)
    # The member's bytes, then its row, under the store's lock (a start-up sweep waits for both).
    with storing(ctx.originals), session_scope() as session:
        # A member refused before it was read (too large, password protected) has no bytes to keep.
        stored = None if parsed.error and not parsed.data else store_bytes(ctx.originals, parsed.data)
        query = select(ImportItem).where(
            ImportItem.parent_item_id == parent_item_id, ImportItem.position == position
        )
        child = session.scalars(query).first()  # present when a redelivered task resumes
        if child is None:
            child = ImportItem(
                batch_id=ctx.batch_id,
                parent_item_id=parent_item_id,
                position=position,
                filename=name,
                sha256=stored.sha256 if stored else None,
                size_bytes=stored.size_bytes if stored else 0,
                status="pending",
            )
            session.add(child)
            session.flush()
        return child.id


def _open_archive(ctx: BatchContext, item_id: int) -> int | None:
    """Record the archive's own Document and return its id; None when the archive is a duplicate."""
    with session_scope() as session:
        item = lock_pending_item(session, item_id)
        if item is None:
            return None
        if item.document_id:  # a redelivered task resumes the archive it started
            if owned_document(session, ctx, item.document_id) is None:
                fail_foreign(session, ctx, item, 1)
                return None
            return item.document_id
        if point_at_known(session, ctx, item, 1):
            return None
        document = item_document(session, ctx, item, format="zip", status="stored")
        session.flush()  # a new document needs its id
        item.document_id = document.id
        return document.id


def _close_archive(ctx: BatchContext, item_id: int, document_id: int) -> None:
    """Summarise an archive's members on its item and Document."""
    with session_scope() as session:
        item = lock_pending_item(session, item_id)
        if item is None:
            return
        children = list(session.scalars(select(ImportItem).where(ImportItem.parent_item_id == item_id)))
        examples = sum(child.example_count for child in children)
        document = owned_document(session, ctx, document_id)
        all_failed = bool(children) and all(child.status == "failed" for child in children)
        item.status = "failed" if all_failed or not children else "parsed"
        base = archive_summary(children) if children else f"{short_name(item.filename)} holds no files"
        item.message = base
        item.example_count = examples
        if document is not None:
            document.status = item.status
            document.example_count = examples
        bump_batch(session, ctx.batch_id, 1, 0)


def is_archive_result(filename: str, parsed: list[ParsedFile]) -> bool:
    """Whether parse_file expanded the file into members (a refused archive comes back as itself)."""
    if not filename.lower().endswith(".zip"):
        return False
    return not (len(parsed) == 1 and parsed[0].filename == filename)


def write_archive(ctx: BatchContext, item_id: int, parsed: list[ParsedFile]) -> None:
    """Record an archive: its Document, then each member as its own original, Document and child item."""
    document_id = _open_archive(ctx, item_id)
    if document_id is None:
        return
    for position, member in enumerate(parsed):
        child_id = _child_item_id(ctx, item_id, position, member)
        if member.error and not member.data:
            record_failure(ctx, child_id, with_warnings(member.error, member.warnings))
        else:
            write_file_safely(ctx, child_id, member.filename, member, document_id)
    _close_archive(ctx, item_id, document_id)


def process_item(ctx: BatchContext, item_id: int, deadline: float) -> bool:
    """Read one stored original, parse it and record the result; False when a mailbox has more to read.

    A mailbox is read in slices until `deadline` (time.monotonic()); any other file in one go.
    """
    with session_scope() as session:
        item = session.get(ImportItem, item_id)
        if item is None or item.status != "pending":
            return True
        filename, sha256 = item.filename, item.sha256
        mapping = None
        if ctx.source == "mapping" and item.document_id:
            document = owned_document(session, ctx, item.document_id)
            mapping = document.column_mapping if document is not None else None
    try:
        path = original_path(ctx.originals, sha256 or "")
        present = path.is_file()
    except (OSError, ValueError):
        present = False
    if not present:
        log.error("original of item %s is missing", item_id)
        record_failure(
            ctx,
            item_id,
            f"The stored copy of {filename} is missing, so it could not be read. Upload it again.",
        )
        return True
    if extension(filename) == "mbox" and ctx.source != "mapping":
        return import_mailbox(ctx, item_id, path, filename, deadline)
    try:
        # Untrusted bytes: parsed in a child process with memory, CPU and time limits.
        parsed = parse_in_sandbox(path, filename, ctx.limits, ctx.sandbox, mapping)
    except SandboxStopped:
        raise  # not the file's fault: it is read again after the worker's restart
    except Exception:
        # parse_file promises not to raise for bad input: this is a fault, reported plainly.
        log.exception("parser failed on item %s", item_id)
        record_failure(
            ctx,
            item_id,
            f"Lastmile could not read {filename} because of an unexpected error. Check that it opens on "
            "your computer and upload it again; tell your administrator if it keeps failing.",
        )
        return True
    if is_archive_result(filename, parsed):
        write_archive(ctx, item_id, parsed)
    elif not parsed:
        record_failure(ctx, item_id, f"Lastmile found nothing it can read in {filename}.")
    else:
        write_file_safely(ctx, item_id, filename, parsed[0], None)
    return True


def _start(batch_id: int) -> BatchContext | None:
    """Mark the batch running (before any work) and gather its context; None if there is nothing to do."""
    settings = get_settings()
    with session_scope() as session:
        batch = session.get(ImportBatch, batch_id, with_for_update=True)
        if batch is None:
            log.warning("import batch %s does not exist; nothing to do", batch_id)
            return None
        if batch.state in ("done", "failed"):
            log.info("import batch %s is already %s; not running it again", batch_id, batch.state)
            return None
        batch.state = "running"
        batch.started_at = batch.started_at or utcnow()
        batch.error = None
        workspace_id, source = batch.workspace_id, batch.source
    return BatchContext(
        batch_id=batch_id,
        workspace_id=workspace_id,
        source=source,
        limits=Limits.from_settings(settings),
        sandbox=SandboxLimits.from_settings(settings),
        counter=token_counter(),
        originals=settings.originals_dir,
        slice_seconds=settings.ingest_slice_seconds,
    )


def _finish(ctx: BatchContext) -> None:
    """Refresh the workspace's quality flags, then mark the batch done (so its page shows fresh flags)."""
    with session_scope() as session:
        batch = session.get(ImportBatch, ctx.batch_id)
        added = batch.example_count if batch is not None else 0
    if added:
        try:
            with session_scope() as session:
                refresh_health(session, ctx.workspace_id)  # commits on its own
        except Exception:
            # Stale flags are recomputed on the next change; the examples themselves are saved.
            log.exception("could not refresh health after batch %s", ctx.batch_id)
    with session_scope() as session:
        batch = session.get(ImportBatch, ctx.batch_id)
        if batch is not None:
            batch.state = "done"
            batch.finished_at = utcnow()


def run_turn(batch_id: int) -> bool:
    """Parse the pending items of batch `batch_id` for one turn (ingest_slice_seconds); True if work is left.

    Every turn does some work (at least one file, or one slice of a mailbox), unless the worker is shutting
    down: then it ends after the file or slice it is on, or cuts that short, so the worker stops promptly.
    The database is the record: the next turn reads the items still pending and each mailbox's recorded
    offset, and the turn that finds nothing left marks the batch done.
    """
    ctx = _start(batch_id)
    if ctx is None:
        return False
    with session_scope() as session:
        query = (
            select(ImportItem.id)
            .where(ImportItem.batch_id == batch_id, ImportItem.parent_item_id.is_(None))
            .where(ImportItem.status == "pending")
            .order_by(ImportItem.position)
        )
        item_ids = list(session.scalars(query))
    deadline = time.monotonic() + ctx.slice_seconds
    try:
        for index, item_id in enumerate(item_ids):
            if index > 0 and (time.monotonic() >= deadline or shutting_down()):
                return True
            if not process_item(ctx, item_id, deadline):
                return True
    except SandboxStopped:
        # The worker is stopping: the file cut short stays pending and is read again from the start.
        log.info("import batch %s: stopped for the worker's shutdown; it goes back in the queue", batch_id)
        return True
    except Exception:
        log.exception("import batch %s stopped", batch_id)
        with session_scope() as session:
            batch = session.get(ImportBatch, batch_id)
            if batch is not None:
                batch.state = "failed"
                batch.finished_at = utcnow()
                batch.error = (
                    "The import stopped because of an unexpected error. The files listed as done are "
                    "saved; upload the others again, and tell your administrator if it keeps happening."
                )
        return False
    _finish(ctx)
    return False


def run_batch(batch_id: int) -> None:
    """Every turn of batch `batch_id`, one after the other in this process (tests, benchmarks)."""
    while run_turn(batch_id):
        pass


def take_turn(batch_id: int) -> None:
    """One turn of the ingest task: when work is left, the batch goes back in the queue behind the others.

    So imports of different workspaces take turns on a busy worker. The message is published before
    the task is acknowledged: a crash in between leaves a duplicate, which finds the work already
    recorded, never a lost batch. With the broker unreachable the batch goes on here instead.
    """
    if not run_turn(batch_id):
        return
    try:
        enqueue(INGEST_BATCH, batch_id)
    except Exception:
        log.exception("could not put import batch %s back in the queue; it goes on now", batch_id)
        run_batch(batch_id)
