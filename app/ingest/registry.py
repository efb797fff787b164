"""One entry point for every format: parse_file picks the parser by the file's extension."""

import logging
from collections.abc import Callable
from pathlib import PurePosixPath

from app.ingest import archive, docx, email, mailbox, msg, pdf, tabular, text
from app.ingest.archive import mb
from app.ingest.decoding import display_name
from app.ingest.types import IngestError, Limits, ParsedFile

log = logging.getLogger(__name__)

Parser = Callable[[str, bytes, Limits, dict[str, str] | None], ParsedFile]

PARSERS: dict[str, Parser] = {
    "txt": lambda f, d, limits, m: text.parse_text(f, d, limits, "txt"),
    "md": lambda f, d, limits, m: text.parse_text(f, d, limits, "md"),
    "docx": lambda f, d, limits, m: docx.parse_docx(f, d, limits),
    "pdf": lambda f, d, limits, m: pdf.parse_pdf(f, d, limits),
    "eml": lambda f, d, limits, m: email.parse_eml(f, d, limits),
    "mbox": lambda f, d, limits, m: mailbox.parse_mbox(f, d, limits),
    "msg": lambda f, d, limits, m: msg.parse_msg(f, d, limits),
    "csv": tabular.parse_csv,
    "json": tabular.parse_json,
    "jsonl": tabular.parse_jsonl,
}
SUPPORTED = (*PARSERS, "zip")
SUPPORTED_TEXT = ".txt, .md, .docx, .pdf, .eml, .msg, .mbox, .csv, .json, .jsonl and .zip"


def extension(filename: str) -> str:
    """The file's extension, lower-case, without the dot ("" when it has none)."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower().lstrip(".")


def _refused(filename: str, data: bytes, fmt: str, message: str) -> ParsedFile:
    """A file refused with `message`."""
    return ParsedFile(filename, data, fmt or "unknown", error=message)


def _precheck(filename: str, data: bytes, ext: str, limits: Limits) -> str | None:
    """Why the file is refused before any parser sees it (format, size, emptiness), or None."""
    name = display_name(filename)
    if ext == "docm":
        return (
            f"{name} is a Word document with macros (.docm), which Lastmile does not accept. Save it in "
            "Word as a plain 'Word Document (.docx)' and upload that."
        )
    if ext not in SUPPORTED:
        what = f"a .{ext} file" if ext else "a file without an extension"
        return f"Lastmile reads {SUPPORTED_TEXT} files; {name} is {what}. Save it in one of these formats."
    limit = limits.max_mailbox_bytes if ext == "mbox" else limits.max_file_bytes
    if len(data) > limit:
        return too_large(name, len(data), limit)
    # Only small files are checked for blank content here: the parsers see blank big ones.
    if len(data) < 65536 and not data.strip():
        return f"{name} is empty. Check that you picked the right file, or save it again and upload it."
    return None


def too_large(name: str, size: int, limit: int) -> str:
    """Why a file is refused for its size, naming the limit and what to do."""
    return (
        f"{name} is {mb(size)}, more than the {mb(limit)} allowed for one file. Split it into smaller "
        "files, or ask your administrator to raise the limit."
    )


def _parse_one(filename: str, data: bytes, limits: Limits, mapping: dict[str, str] | None) -> ParsedFile:
    """Parse a file that is not an archive; every failure becomes the file's error."""
    ext = extension(filename)
    refusal = _precheck(filename, data, ext, limits)
    if refusal:
        return _refused(filename, data, ext, refusal)
    if ext == "zip":
        return _refused(
            filename,
            data,
            ext,
            f"{display_name(filename)} is a zip inside a zip; Lastmile opens one level only. Unpack the "
            "inner archive and upload it (or its files) separately.",
        )
    try:
        parsed = PARSERS[ext](filename, data, limits, mapping if ext in ("csv", "json", "jsonl") else None)
    except IngestError as exc:
        return _refused(filename, data, ext, str(exc))
    except MemoryError:
        raise  # the sandbox refuses the whole file, naming its memory limit
    except Exception as exc:  # a hostile file must never take the import down
        log.warning("unexpected error parsing %r", filename, exc_info=True)
        return _refused(filename, data, ext, _unexpected(filename, exc))
    # A file skipped on purpose (an out-of-office reply, a bounce) says so in its result line instead.
    if not parsed.examples and not parsed.columns and not parsed.error and not parsed.skipped:
        parsed.error = (
            f"Lastmile found no examples in {display_name(filename)}. Check that it holds the text you "
            "meant to upload."
        )
    return parsed


def _unexpected(filename: str, exc: BaseException) -> str:
    """The message for an error no parser anticipated: what happened, in short, and what to try."""
    detail = " ".join(str(exc).split())[:160] or exc.__class__.__name__
    return (
        f"We could not read {display_name(filename)}: {detail}. Try opening it in the program that made it "
        "and saving it again, or export it as .txt or .pdf, then upload it again."
    )


def parse_file(
    filename: str, data: bytes, limits: Limits, mapping: dict[str, str] | None = None
) -> list[ParsedFile]:
    """Parse one uploaded file; a .zip yields one ParsedFile per member, anything else exactly one.

    Never raises for bad input: a refused file comes back with `error` set. Only MemoryError gets
    out, for app.ingest.sandbox to report. `mapping` maps Lastmile's fields (instruction, input,
    output, kind, tags) to a table's column names.
    """
    if extension(filename) != "zip":
        return [_parse_one(filename, data, limits, mapping)]
    refusal = _precheck(filename, data, "zip", limits)
    if refusal:
        return [_refused(filename, data, "zip", refusal)]

    def member(member_name: str, content: bytes) -> ParsedFile:
        """One archive member, parsed like a file of its own (nested archives refused)."""
        return _parse_one(member_name, content, limits, None)

    try:
        return archive.parse_zip(filename, data, limits, member)
    except IngestError as exc:
        return [_refused(filename, data, "zip", str(exc))]
    except MemoryError:
        raise
    except Exception as exc:  # a hostile archive must never take the import down
        log.warning("unexpected error reading archive %r", filename, exc_info=True)
        return [_refused(filename, data, "zip", _unexpected(filename, exc))]
