"""Mailboxes (.mbox) read as a stream: one message at a time from a file, never the whole file in memory.

A mailbox is read from a byte offset, message by message; what each message gives (an example, a
skip and why, notes) is a MessageOutcome, and MailboxTally sums them into the file's result line.
The ingest pipeline reads a large mailbox a slice at a time in the sandbox (app.ingest.mailbox_import);
parse_mbox reads a small one (an archive member, a file given as bytes) in one go, the same way.
"""

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from app.ingest.archive import mb
from app.ingest.decoding import display_name, refuse_binary
from app.ingest.email import header_text, message_example, parse_message
from app.ingest.types import ExampleDraft, IngestError, Limits, ParsedFile

FROM_LINE = b"From "
# Lines are read in pieces of at most this size, so a hostile line of gigabytes is never held whole.
READ_BYTES = 1024 * 1024
SNIFF_BYTES = 64 * 1024
MAX_LISTED_NOTES = 20
LABEL_SUBJECT_CHARS = 60


@dataclass(frozen=True)
class RawMessage:
    """One message's bytes as stored in the mailbox (mboxrd escaping undone), or why they were not kept."""

    number: int  # 1 for the mailbox's first message
    end: int  # the byte offset just past it: where the next message starts
    data: bytes
    problem: str | None = None  # set when the message is too large or has an over-long line


@dataclass
class MessageOutcome:
    """What one message of a mailbox gave."""

    number: int
    end: int
    example: ExampleDraft | None = None
    skipped: str | None = None  # mail no person wrote: a key of app.ingest.automated.KINDS
    signature_removed: bool = False
    problem: str | None = None  # why it gave nothing, as shown to the user
    notes: list[str] = field(default_factory=list)


def _from_line(chunk: bytes) -> bool:
    """Whether a line (read at a line start) starts a new message."""
    return chunk.startswith(FROM_LINE)


def iter_raw_messages(handle: BinaryIO, offset: int, number: int, limits: Limits) -> Iterator[RawMessage]:
    """The messages of the mbox `handle` from byte `offset` (the start of message `number` + 1).

    A message over limits.max_file_bytes, or with a line over limits.max_line_chars, comes back
    without its bytes (they are read past, never kept) and with the reason.
    """
    handle.seek(offset)
    parts: list[bytes] = []
    size = line_chars = 0
    problem: str | None = None
    position = offset
    at_line_start = True
    in_from_line = False
    started = False
    while True:
        chunk = handle.readline(READ_BYTES)
        if not chunk:
            break
        original = len(chunk)
        if at_line_start and _from_line(chunk):
            if started:
                yield RawMessage(number, position, b"".join(parts), problem)
            number += 1
            started, in_from_line = True, True
            parts, size, problem = [], 0, None
        elif in_from_line and not at_line_start:
            pass  # the rest of an over-long "From " line: the envelope, not the message
        elif started:
            in_from_line = False
            if at_line_start and chunk.startswith(b">") and _from_line(chunk.lstrip(b">")):
                chunk = chunk[1:]  # mboxrd: ">From " in a body was escaped when it was stored
            line_chars = len(chunk) if at_line_start else line_chars + len(chunk)
            size += len(chunk)
            if problem is None and line_chars > limits.max_line_chars:
                problem = f"it has a line longer than {limits.max_line_chars:,} characters"
            elif problem is None and size > limits.max_file_bytes:
                problem = f"it is larger than {mb(limits.max_file_bytes)}"
            if problem is None:
                parts.append(chunk)
            else:
                parts = []  # read past, never kept
        position += original
        at_line_start = chunk.endswith(b"\n")
    if started:
        yield RawMessage(number, position, b"".join(parts), problem)


def _label(number: int, subject: str) -> str:
    """How a message is named in notes: "message 3 ('Invoice 42')"."""
    ref = f"message {number}"
    return f"{ref} ('{subject[:LABEL_SUBJECT_CHARS]}')" if subject else ref


def read_message(raw: RawMessage) -> MessageOutcome:
    """What one raw message gives: an example, a skip (mail no person wrote), or a problem."""
    outcome = MessageOutcome(raw.number, raw.end)
    ref = f"message {raw.number}"
    if raw.problem:
        outcome.problem = f"{ref}: could not be read ({raw.problem}) — skipped"
        return outcome
    message = parse_message(raw.data)
    if isinstance(message, str):
        outcome.problem = f"{ref}: could not be read ({message}) — skipped"
        return outcome
    label = _label(raw.number, header_text(message, "Subject"))
    try:
        result = message_example(message)
    except Exception as exc:  # one malformed message must not cost the user the whole mailbox
        outcome.problem = f"{label}: could not be read ({exc.__class__.__name__}) — skipped"
        return outcome
    outcome.notes = [f"{label}: {note}" for note in result.notes]
    if result.skipped:
        outcome.skipped = result.skipped
    elif result.example is None:
        outcome.problem = f"{label}: no text in its body — skipped"
    else:
        result.example.source_ref = ref
        outcome.example = result.example
        outcome.signature_removed = result.signature_removed
    return outcome


def sniff(filename: str, head: bytes) -> None:
    """Refuse a file that is not a mailbox at all (a program, an image...) from its first bytes."""
    refuse_binary(filename, head)
    if not head.strip():
        raise IngestError(
            f"{display_name(filename)} is empty. Check that you picked the right file, or export the "
            "mailbox again and upload it."
        )


def single_message(handle: BinaryIO, limits: Limits) -> RawMessage | None:
    """The whole file as one message when it does not start like a mailbox (an email saved as .mbox)."""
    handle.seek(0)
    head = handle.read(SNIFF_BYTES).lstrip(b"\r\n")
    if _from_line(head):
        return None
    handle.seek(0)
    data = handle.read(limits.max_file_bytes + 1)
    end = handle.seek(0, io.SEEK_END)
    problem = None
    if len(data) > limits.max_file_bytes:
        data, problem = b"", f"it is larger than {mb(limits.max_file_bytes)}"
    return RawMessage(1, end, data, problem)


def first_offset(handle: BinaryIO) -> int:
    """Where the first message starts: past any blank lines at the top of the file."""
    handle.seek(0)
    head = handle.read(SNIFF_BYTES)
    return len(head) - len(head.lstrip(b"\r\n"))


@dataclass
class MailboxTally:
    """The running result of a mailbox read in slices; stored as JSON between them."""

    examples: int = 0
    signatures: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unlisted: int = 0  # problems and notes past the listed ones
    truncated: bool = False

    def add(self, outcome: MessageOutcome) -> None:
        """Count one message's outcome."""
        if outcome.skipped:
            self.skipped[outcome.skipped] = self.skipped.get(outcome.skipped, 0) + 1
        if outcome.example is not None:
            self.examples += 1
            self.signatures += int(outcome.signature_removed)
        problems = [outcome.problem] if outcome.problem else []
        for listed, new in ((self.problems, problems), (self.notes, outcome.notes)):
            room = max(0, MAX_LISTED_NOTES - len(listed))
            listed.extend(new[:room])
            self.unlisted += len(new) - len(new[:room])

    def warnings(self, max_messages: int) -> list[str]:
        """What the user reads after the file's result: skipped messages first, then notes."""
        listed = [*self.problems, *self.notes]
        hidden = self.unlisted + max(0, len(listed) - MAX_LISTED_NOTES)
        warnings = listed[:MAX_LISTED_NOTES]
        if hidden:
            warnings.append(f"… and {hidden:,} more notes.")
        if self.truncated:
            warnings.append(
                f"Only the first {max_messages:,} messages were read. Split the mailbox into smaller ones "
                "to import the rest."
            )
        return warnings

    def result(
        self, filename: str, data: bytes, examples: list[ExampleDraft], max_messages: int
    ) -> ParsedFile:
        """The mailbox's ParsedFile; IngestError when no message gave anything."""
        skipped = [kind for kind, count in self.skipped.items() for _ in range(count)]
        warnings = self.warnings(max_messages)
        if not self.examples and not skipped:
            reasons = "; ".join(self.problems[:3]) or "it holds no messages"
            raise IngestError(
                f"{display_name(filename)} has no emails Lastmile can use ({reasons}). Export the mailbox "
                "again from your mail program as .mbox, or upload single emails as .eml files."
            )
        signatures = self.signatures
        return ParsedFile(
            filename,
            data,
            "mbox",
            examples,
            warnings=warnings,
            signatures_removed=signatures,
            skipped=skipped,
        )

    def to_json(self) -> dict[str, Any]:
        """The tally as plain JSON."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MailboxTally":
        """A tally stored by to_json."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def read_messages(handle: BinaryIO, offset: int, number: int, limits: Limits) -> Iterator[RawMessage]:
    """The raw messages from `offset` (0: the file's start, which may be a lone email saved as .mbox)."""
    if offset == 0:
        single = single_message(handle, limits)
        if single is not None:
            yield single
            return
        offset = first_offset(handle)
    yield from iter_raw_messages(handle, offset, number, limits)


def parse_mbox(filename: str, data: bytes, limits: Limits) -> ParsedFile:
    """A mailbox given as bytes: one example per message; unreadable or empty messages skipped with a note."""
    sniff(filename, data[:SNIFF_BYTES])
    tally = MailboxTally()
    examples: list[ExampleDraft] = []
    for raw in read_messages(io.BytesIO(data), 0, 0, limits):
        if raw.number > limits.max_mailbox_messages:
            tally.truncated = True
            break
        outcome = read_message(raw)
        tally.add(outcome)
        if outcome.example is not None:
            examples.append(outcome.example)
    return tally.result(filename, data, examples, limits.max_mailbox_messages)


def read_slice(
    path: str, filename: str, limits: Limits, offset: int, number: int, seconds: float
) -> Iterator[tuple[Any, ...]]:
    """Read the mailbox at `path` from `offset` (after message `number`) for about `seconds`, in the sandbox.

    Yields, as it goes: ("reading", number, end) before each message is parsed (so a message that
    stalls the reader can be skipped), ("message", MessageOutcome) after it, and last ("end", offset,
    number, finished, truncated); or ("refused", message) when the file is no mailbox at all.
    """
    deadline = time.monotonic() + seconds
    with open(path, "rb") as handle:
        if offset == 0:
            try:
                sniff(filename, handle.read(SNIFF_BYTES))
            except IngestError as exc:
                yield ("refused", str(exc))
                return
        for raw in read_messages(handle, offset, number, limits):
            if raw.number > limits.max_mailbox_messages:
                yield ("end", offset, number, True, True)
                return
            yield ("reading", raw.number, raw.end)
            yield ("message", read_message(raw))
            offset, number = raw.end, raw.number
            if time.monotonic() > deadline:
                yield ("end", offset, number, False, False)
                return
    yield ("end", offset, number, True, False)
