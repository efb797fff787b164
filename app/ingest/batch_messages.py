"""The messages an upload shows next to each file, in words a business user understands."""

from collections import Counter
from pathlib import PurePosixPath

from app.ingest.automated import KINDS
from app.ingest.types import ParsedFile
from app.models import Document, ImportItem
from app.services.uploads import display_filename

NEEDS_MAPPING = "Choose which columns hold the brief and the answer"
MAX_NAME = 500  # ImportItem.filename and Document.filename are String(500)


def short_name(filename: str) -> str:
    """The last part of a file name ("archive.zip/inner/a.eml" → "a.eml") for messages."""
    return PurePosixPath(filename).name or filename


def member_name(filename: str) -> str:
    """An archive member's display name: its path inside the archive, without control characters."""
    parts = [display_filename(part) for part in filename.replace("\\", "/").split("/") if part.strip()]
    return "/".join(parts)[:MAX_NAME] or "Untitled file"


def with_warnings(message: str, warnings: list[str]) -> str:
    """The message followed by the parser's warnings, as sentences."""
    if not warnings:
        return message
    parts = [message, *warnings]
    return " ".join(p.strip() if p.strip().endswith((".", "!", "?")) else p.strip() + "." for p in parts)


def count_phrase(count: int, noun: str) -> str:
    """ "1 example", "12 examples"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def skipped_phrase(kinds: list[str]) -> str:
    """ "3 skipped (2 newsletters, 1 bounce)": mail no person wrote, counted by kind."""
    counts = Counter(kinds).most_common()
    parts = [f"{n} {KINDS[kind].one if n == 1 else KINDS[kind].many}" for kind, n in counts]
    return f"{len(kinds)} skipped ({', '.join(parts)})"


def parsed_result(parsed: ParsedFile, added: int, name: str) -> tuple[str, str]:
    """(status, message) of the file `name` once read: "12 examples from a.mbox: 9 signatures removed, …"."""
    if not added and parsed.skipped:
        if len(parsed.skipped) == 1 and parsed.format != "mbox":
            what = KINDS[parsed.skipped[0]].what
            message = f"Skipped: {name} is {what}, not an email written by a person, so nothing was added"
        else:
            skips = skipped_phrase(parsed.skipped)
            message = f"Nothing added from {name}: {skips}, none of them written by a person"
        return "skipped", with_warnings(message, parsed.warnings)
    counts = []
    if parsed.report_parts:
        counts.append(f"report split into {parsed.report_parts} parts to fit the model")
    if parsed.signatures_removed:
        counts.append(f"{count_phrase(parsed.signatures_removed, 'signature')} removed")
    if parsed.skipped:
        counts.append(skipped_phrase(parsed.skipped))
    base = f"{count_phrase(added, 'example')} from {name}" if added else f"No examples found in {name}"
    if counts:
        base += ": " + ", ".join(counts)
    return "parsed", with_warnings(base, parsed.warnings)


def duplicate_message(document: Document) -> str:
    """What a user sees for a file that is already in the workspace."""
    when = document.created_at
    date = f"{when.day} {when:%b %Y}" if when else "an earlier upload"
    return (
        f"Already uploaded on {date} as {document.filename} "
        f"({count_phrase(document.example_count, 'example')}) — nothing added"
    )


def unexpected_error_message(filename: str) -> str:
    """The message for a file whose examples could not be saved because of a fault, not its content."""
    return (
        f"Lastmile could not save the examples from {short_name(filename)} because of an unexpected "
        "error, so nothing from this file was kept; the other files are not affected. Try uploading "
        "it again, and tell your administrator if it keeps failing."
    )


def archive_summary(children: list[ImportItem]) -> str:
    """ "3 files, 41 examples; 1 refused; 1 already uploaded; 1 needs columns chosen"."""
    examples = sum(child.example_count for child in children)
    parts = [f"{count_phrase(len(children), 'file')}, {count_phrase(examples, 'example')}"]
    failed = sum(1 for c in children if c.status == "failed")
    duplicates = sum(1 for c in children if c.status == "duplicate")
    skipped = sum(1 for c in children if c.status == "skipped")
    mapping = sum(1 for c in children if c.status == "needs_mapping")
    if failed:
        parts.append(f"{failed} refused")
    if duplicates:
        parts.append(f"{duplicates} already uploaded")
    if skipped:
        parts.append(f"{skipped} skipped (not written by a person)")
    if mapping:
        parts.append(f"{mapping} {'needs' if mapping == 1 else 'need'} columns chosen")
    return "; ".join(parts)
