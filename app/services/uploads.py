"""Creating upload batches (files, pasted text, sample data, column mappings) and enqueueing them."""

import io
import logging
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor
from app.ingest.store import Swept, TooLarge, store_fileobj, storing, sweep_leftovers
from app.models import TASK_KINDS, Document, ImportBatch, ImportItem, utcnow
from app.queue import INGEST_BATCH, enqueue
from app.sample_data import DESCRIPTION as SAMPLE_DESCRIPTION
from app.sample_data import sample_files
from app.services.errors import NotFound
from app.services.lookup import get_owned
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_DISPLAY_NAME = 200
QUEUE_DOWN = (
    "The worker queue is unreachable, so these files are stored but not read yet. "
    "Press “Try again” in a minute; if it keeps happening, ask your administrator to check "
    "that the Lastmile worker and its queue (Redis) are running."
)
# Fields a table's columns can be mapped to, in the order the mapping form shows them.
MAPPING_FIELDS = ("instruction", "input", "output", "kind", "tags")
MAPPING_LABELS = {
    "instruction": "the brief",
    "input": "the input",
    "output": "the answer",
    "kind": "the kind",
    "tags": "the tags",
}


ITEM_STATUSES = ("pending", "parsed", "skipped", "failed", "duplicate", "needs_mapping")
# The audit log's action for a new batch, by its source (reading a table again is not logged).
AUDIT_ACTIONS = {"upload": "upload", "paste": "paste", "sample": "sample_data"}


@dataclass(frozen=True)
class AcceptedFormat:
    """A kind of file the Upload page lists, in plain words, with what it becomes."""

    name: str
    extensions: str
    becomes: str


ACCEPTED_FORMATS = (
    AcceptedFormat(
        "Emails", ".eml, .msg, .mbox", "An email reply becomes: the incoming message → your reply."
    ),
    AcceptedFormat(
        "Reports and letters",
        ".docx, .pdf, .txt, .md",
        "A document becomes: “Write the report: <its title>” → the document's text "
        "(one example per section when it is very long).",
    ),
    AcceptedFormat(
        "Tables",
        ".csv, .jsonl, .json",
        "Each row becomes: the brief (and input) → the answer. If Lastmile cannot tell which "
        "columns hold what, it asks you.",
    ),
    AcceptedFormat("Zip archives", ".zip", "Each file inside is read on its own, as above."),
)
ACCEPT = ".eml,.msg,.mbox,.docx,.pdf,.txt,.md,.csv,.jsonl,.json,.zip"
SAMPLE_NOTE = (
    f"Loads the documents of {SAMPLE_DESCRIPTION.rstrip('.')}. Their examples are tagged “sample”, "
    "so you can find and remove them later."
)


class InvalidRequest(ValueError):
    """The user asked for something that cannot be done; the message says why and what to do."""


class BatchNotFound(NotFound):
    """The upload batch does not exist in this workspace."""


class DocumentNotFound(NotFound):
    """The uploaded file does not exist in this workspace."""


@dataclass
class IncomingFile:
    """One file of an upload: the name the browser sent and a readable binary stream."""

    filename: str | None
    fileobj: BinaryIO


def format_size(size: int) -> str:
    """A byte count as business users read it: "2 GB", "50 MB", "1.5 MB", "800 KB", "12 bytes"."""
    mb = 1024 * 1024
    if size >= 1024 * mb:
        return f"{size / (1024 * mb):.1f}".removesuffix(".0") + " GB"
    if size >= mb:
        return f"{size / mb:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def display_filename(name: str | None, fallback: str = "Untitled file") -> str:
    """A file name safe to store and show: no folders, no control or direction characters, bounded."""
    text = unicodedata.normalize("NFC", name or "")
    # Browsers may send a path (old IE sends C:\...): only the last part is the file's name.
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    # Category C covers control characters and invisible format ones such as right-to-left overrides,
    # which can make "exe.txt" display as "txt.exe".
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    if not text:
        return fallback
    if len(text) > MAX_DISPLAY_NAME:
        _stem, dot, ext = text.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        text = text[: MAX_DISPLAY_NAME - len(keep) - 2] + "…" + ("." + keep if keep else "")
    return text


def _stream_size(fileobj: BinaryIO) -> int | None:
    """The total size of a seekable stream, or None when it cannot tell."""
    try:
        fileobj.seek(0, os.SEEK_END)
        return fileobj.tell()
    except (OSError, ValueError):
        return None


def is_mailbox(name: str) -> bool:
    """Whether a file is a mailbox export (.mbox): streamed, with its own size limit."""
    return name.lower().endswith(".mbox")


def _too_large_message(name: str, size: int, settings: Settings, per_file: bool) -> str:
    """Why a file was refused for its size, naming the limit and what to do."""
    mailbox = is_mailbox(name)
    if per_file:
        limit = settings.max_mailbox_bytes if mailbox else settings.max_file_bytes
        what = "per mailbox" if mailbox else "per file"
        return (
            f"{name} is {format_size(size)}; the limit is {format_size(limit)} {what}. "
            "Split it into smaller files, or ask your administrator to raise the limit."
        )
    total = settings.max_mailbox_bytes if mailbox else settings.max_upload_bytes
    what = "of mailboxes per upload" if mailbox else "per upload"
    return (
        f"{name} was not uploaded: with the files before it, this upload passed the limit of "
        f"{format_size(total)} {what}. Upload it again on its own."
    )


def create_batch(
    session: Session,
    workspace_id: int,
    files: Sequence[IncomingFile],
    settings: Settings,
    source: str = "upload",
    actor: Actor | None = None,
) -> ImportBatch:
    """Store every file as an original and record a queued batch with one item per file; commits.

    A file over the per-file or per-upload limit becomes a failed item; the others proceed. With an
    `actor`, the upload is noted in the workspace's audit log in the same transaction.
    """
    if not files:
        raise InvalidRequest("Choose at least one file to upload.")
    batch = ImportBatch(workspace_id=workspace_id, source=source, state="queued", total_files=len(files))
    # Files first, then the rows that name them; the lock keeps a start-up sweep off files in between.
    with storing(settings.originals_dir):
        refused = _store_files(batch, files, settings)
        batch.done_files = refused
        if refused == len(files):
            # Nothing left for the worker to read: the batch is finished as it stands.
            batch.state = "done"
            batch.started_at = batch.finished_at = utcnow()
        session.add(batch)
        if actor is not None:
            _audit_batch(session, actor, batch)
        session.commit()
    return batch


def _store_files(batch: ImportBatch, files: Sequence[IncomingFile], settings: Settings) -> int:
    """Store each file as an original and add its item to `batch`; the number refused for size.

    Mailboxes (.mbox) count against their own limits (max_mailbox_bytes per file and per upload),
    every other file against max_file_bytes and max_upload_bytes. Either way the bytes are copied
    from the request's spooled file to the store in chunks, never held in memory.
    """
    remaining = {True: settings.max_mailbox_bytes, False: settings.max_upload_bytes}
    refused = 0
    for position, incoming in enumerate(files):
        name = display_filename(incoming.filename)
        mailbox = is_mailbox(name)
        item = ImportItem(position=position, filename=name, status="pending")
        per_file_limit = settings.max_mailbox_bytes if mailbox else settings.max_file_bytes
        limit = min(per_file_limit, remaining[mailbox])
        try:
            stored = store_fileobj(settings.originals_dir, incoming.fileobj, limit)
        except TooLarge as exc:
            size = _stream_size(incoming.fileobj) or exc.seen
            per_file = size > per_file_limit or limit == per_file_limit
            item.status = "failed"
            item.size_bytes = size
            item.message = _too_large_message(name, size, settings, per_file)
            refused += 1
        else:
            item.sha256 = stored.sha256
            item.size_bytes = stored.size_bytes
            remaining[mailbox] -= stored.size_bytes
        batch.items.append(item)
    return refused


def sweep_upload_leftovers(session: Session, settings: Settings) -> Swept | None:
    """Remove what uploads cut short by a crash left in the originals store (run as the web starts)."""

    def referenced() -> set[str]:
        """Every sha256 a row names: those originals stay."""
        items = session.scalars(select(ImportItem.sha256).where(ImportItem.sha256.is_not(None)))
        return {*items, *session.scalars(select(Document.sha256))}

    return sweep_leftovers(settings.originals_dir, referenced)


def _audit_batch(session: Session, actor: Actor, batch: ImportBatch) -> None:
    """Note a new batch in the audit log: who uploaded how many files, and which (by name) when one."""
    session.flush()  # the event names the batch by its id
    names = [item.filename for item in batch.items]
    target = names[0] if len(names) == 1 else f"{len(names)} files"
    detail = {"batch": batch.id, "files": len(names)}
    record(session, actor, AUDIT_ACTIONS.get(batch.source, batch.source), target, detail)


def create_text_batch(
    session: Session,
    workspace_id: int,
    title: str | None,
    text: str,
    settings: Settings,
    actor: Actor | None = None,
) -> ImportBatch:
    """Record pasted text as a one-file batch named after its title ("Pasted text.txt" without one)."""
    if not (text or "").strip():
        raise InvalidRequest("Paste some text first: the text box is empty.")
    # A slash in a title is not a folder: keep the whole title as the name.
    clean_title = (title or "").strip().replace("/", "-").replace("\\", "-")
    filename = display_filename(f"{clean_title}.txt" if clean_title else "", fallback="Pasted text.txt")
    data = io.BytesIO(text.encode("utf-8"))
    files = [IncomingFile(filename, data)]
    return create_batch(session, workspace_id, files, settings, source="paste", actor=actor)


def create_sample_batch(
    session: Session, workspace_id: int, settings: Settings, actor: Actor | None = None
) -> ImportBatch:
    """Record the bundled sample files as a batch; its examples are tagged "sample"."""
    files = [IncomingFile(name, io.BytesIO(data)) for name, data in sample_files()]
    return create_batch(session, workspace_id, files, settings, source="sample", actor=actor)


def clean_mapping(columns: Sequence[str], mapping: dict[str, str | None]) -> dict[str, str]:
    """Check a column mapping against a table's columns; the cleaned mapping or InvalidRequest.

    The answer is required, and the brief or the input (the parser fills in a generic brief).
    """
    cleaned: dict[str, str] = {}
    for field in MAPPING_FIELDS:
        column = (mapping.get(field) or "").strip()
        if not column:
            continue
        # The kind may also be one word for the whole file ("classify") instead of a column.
        if column not in columns and not (field == "kind" and column.lower() in TASK_KINDS):
            raise InvalidRequest(
                f"The file has no column named “{column}” for {MAPPING_LABELS[field]}. "
                f"Its columns are: {', '.join(columns)}."
            )
        cleaned[field] = column
    if "output" not in cleaned:
        raise InvalidRequest("Choose the column that holds the answer (what was written).")
    if "instruction" not in cleaned and "input" not in cleaned:
        raise InvalidRequest("Choose the column that holds the brief, or the one that holds the input.")
    if cleaned["output"] in (cleaned.get("instruction"), cleaned.get("input")):
        raise InvalidRequest("The answer must come from its own column, not the brief's or the input's.")
    return cleaned


def create_mapping_batch(
    session: Session, workspace_id: int, document_id: int, mapping: dict[str, str | None]
) -> ImportBatch:
    """Save a document's column mapping and record a batch that reads it again with it; commits.

    DocumentNotFound when the document is not in this workspace; InvalidRequest for a bad mapping.
    """
    document = get_document(session, workspace_id, document_id)
    if not document.columns:
        raise InvalidRequest(f"{document.filename} is not a table, so it has no columns to choose.")
    if document.example_count:
        raise InvalidRequest(
            f"{document.filename} already has {document.example_count} examples. Delete them on the "
            "Examples page before choosing other columns, so nothing is counted twice."
        )
    document.column_mapping = clean_mapping(document.columns, mapping)
    item = ImportItem(
        position=0,
        filename=document.filename,
        sha256=document.sha256,
        size_bytes=document.size_bytes,
        document_id=document.id,
        status="pending",
    )
    batch = ImportBatch(workspace_id=workspace_id, source="mapping", state="queued", total_files=1)
    batch.items.append(item)
    session.add(batch)
    session.commit()
    return batch


def enqueue_batch(session: Session, batch: ImportBatch) -> bool:
    """Hand a queued batch to the worker; on a broker failure record it on the batch and return False."""
    if batch.state != "queued":
        return True
    if batch.error:
        # Cleared before publishing: the worker may start as soon as the message is out.
        batch.error = None
        session.commit()
    try:
        enqueue(INGEST_BATCH, batch.id)
    except Exception:
        log.exception("could not enqueue import batch %s", batch.id)
        batch.error = QUEUE_DOWN
        session.commit()
        return False
    return True


def republish_unfinished(session: Session) -> int:
    """Publish again every batch not finished (queued or running); returns how many.

    For a start where no worker can be importing yet (`lastmile run` owns its workers). A duplicate message
    does no harm: a turn reads only the items still pending, and a finished batch is left alone.
    """
    unfinished = ImportBatch.state.in_(("queued", "running"))
    batch_ids = list(session.scalars(select(ImportBatch.id).where(unfinished).order_by(ImportBatch.id)))
    for batch_id in batch_ids:
        enqueue(INGEST_BATCH, batch_id)
    return len(batch_ids)


def get_batch(session: Session, workspace_id: int, batch_id: int) -> ImportBatch:
    """The batch `batch_id` of the workspace (fresh from the database), or BatchNotFound."""
    missing = BatchNotFound(f"There is no upload {batch_id} in this workspace.")
    return get_owned(session, ImportBatch, workspace_id, batch_id, missing, fresh=True)


def recent_batches(session: Session, workspace_id: int, limit: int = 10) -> list[ImportBatch]:
    """The workspace's latest batches, newest first."""
    query = (
        select(ImportBatch)
        .where(ImportBatch.workspace_id == workspace_id)
        .order_by(ImportBatch.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def get_document(session: Session, workspace_id: int, document_id: int) -> Document:
    """The document `document_id` of the workspace, or DocumentNotFound."""
    missing = DocumentNotFound(f"There is no file {document_id} in this workspace.")
    return get_owned(session, Document, workspace_id, document_id, missing)


def note_download(session: Session, actor: Actor, document: Document) -> None:
    """Note in the audit log that `actor` downloaded the original of `document`; commits."""
    record(session, actor, "download_original", document.filename, {"document": document.id})
    session.commit()


def list_documents(session: Session, workspace_id: int, limit: int = 500, offset: int = 0) -> list[Document]:
    """The workspace's documents, newest first."""
    query = (
        select(Document)
        .where(Document.workspace_id == workspace_id)
        .order_by(Document.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def documents_by_id(session: Session, ids: set[int]) -> dict[int, Document]:
    """The documents with these ids, keyed by id (for showing mapping forms next to items)."""
    if not ids:
        return {}
    return {doc.id: doc for doc in session.scalars(select(Document).where(Document.id.in_(ids)))}
