"""Emails (.eml, .mbox): replies become "Reply to this email" examples, other emails "Write an email"."""

import email
import email.errors
import email.message
import email.utils
import re
from dataclasses import dataclass
from email.header import decode_header
from email.policy import compat32

from app.ingest.automated import automated_kind
from app.ingest.decoding import check_line_bytes, display_name, html_to_text, refuse_binary
from app.ingest.replies import clean_body, split_quoted
from app.ingest.types import ExampleDraft, IngestError, Limits, ParsedFile

REPLY_INSTRUCTION = "Reply to this email"
REPLY_SUBJECT = re.compile(r"^\s*(re|aw|sv|antw|vs|réf|ref)\s*(\[\d+\])?\s*:", re.IGNORECASE)
MBOX_FROM = re.compile(rb"^From [^\r\n]*\r?\n", re.MULTILINE)
MBOXRD_ESCAPE = re.compile(rb"^>(>*From )", re.MULTILINE)
IDENTIFYING_HEADERS = ("from", "to", "subject", "date", "message-id")
MAX_MESSAGES = 5000
MAX_PARTS = 1000
# Boundary lines are counted before parsing, so a message of a million tiny parts is refused cheaply.
MAX_BOUNDARY_LINES = 20_000
MAX_LISTED_SKIPS = 20
# Declared charsets that say nothing reliable: the bytes decide (UTF-8, else Windows-1252).
UNDECLARED = frozenset({"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "default"})
# Mail programs label Windows-1252 text as Latin-1; decoding as Windows-1252 keeps its curly quotes.
LATIN_1 = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1"})


@dataclass
class Body:
    """The readable text of a message and what went wrong reading it."""

    text: str
    notes: list[str]


def decode_bytes(payload: bytes, charset: str | None) -> tuple[str, str | None]:
    """Text from a part's bytes in its declared charset; a note when characters had to be guessed."""
    name = (charset or "").strip().lower()
    if name in LATIN_1 or name in ("cp1252", "windows-1252"):
        # Bytes that are valid UTF-8 beyond ASCII are UTF-8 mislabelled; otherwise Windows-1252 (see LATIN_1).
        try:
            return payload.decode("utf-8"), None
        except UnicodeDecodeError:
            name = "cp1252"
    if name not in UNDECLARED:
        try:
            return payload.decode(name), None
        except UnicodeDecodeError:
            try:
                return payload.decode(
                    name, errors="replace"
                ), f"some characters were not valid {name} and show as �"
            except (LookupError, UnicodeError, ValueError):
                pass
        except (LookupError, UnicodeError, ValueError):
            pass  # an unknown charset, or a codec that is not a text encoding ("zlib", "base64")
    try:
        return payload.decode("utf-8"), None
    except UnicodeDecodeError:
        return payload.decode("cp1252", errors="replace"), "its text was decoded as Windows-1252"


def header_text(message: email.message.Message, name: str) -> str:
    """A header's value with RFC 2047 encoded words decoded, on one line; "" when missing or unreadable."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        pieces = decode_header(value)
    except (ValueError, LookupError, TypeError, AttributeError, email.errors.MessageError):
        return " ".join(str(value).split())
    # decode_header keeps the spaces that matter inside the pieces (it drops those between encoded words).
    text = "".join(decode_bytes(p, c)[0] if isinstance(p, bytes) else p for p, c in pieces)
    return " ".join(text.split())


def _parts(message: email.message.Message, notes: list[str]) -> list[email.message.Message]:
    """The message's leaf parts in order, walked without recursion and stopped after MAX_PARTS."""
    leaves: list[email.message.Message] = []
    stack, seen = [message], 0
    while stack:
        part = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            notes.append(f"it has more than {MAX_PARTS:,} parts; only the first {MAX_PARTS:,} were read")
            break
        payload = part.get_payload()
        # An attached email (message/rfc822) is an attachment, not this message's text.
        if part.is_multipart() and part.get_content_type() != "message/rfc822" and isinstance(payload, list):
            stack.extend(reversed(payload))
        else:
            leaves.append(part)
    return leaves


def _param(part: email.message.Message, name: str) -> str:
    """A Content-Type parameter, lower-case ("" when missing); RFC 2231 values are collapsed."""
    value = part.get_param(name, "")
    return str(email.utils.collapse_rfc2231_value(value) if isinstance(value, tuple) else value).lower()


def _unflow(text: str, delsp: bool) -> str:
    """Undo format=flowed soft line breaks (a line ending in a space continues on the next line)."""
    out: list[str] = []
    joining = False
    for line in text.split("\n"):
        if joining:
            out[-1] += line
        else:
            out.append(line)
        joining = line.endswith(" ") and line != "-- "
        if joining and delsp:
            out[-1] = out[-1][:-1]
    return "\n".join(out)


def message_body(message: email.message.Message) -> Body:
    """The message's text: its first text/plain part, else its first text/html part as text."""
    notes: list[str] = []
    leaves = [p for p in _parts(message, notes) if p.get_content_disposition() != "attachment"]
    for wanted in ("text/plain", "text/html"):
        for part in leaves:
            if part.get_content_type() != wanted:
                continue
            try:
                payload = part.get_payload(decode=True)
            except (ValueError, TypeError, LookupError):
                continue
            if not isinstance(payload, bytes):
                continue
            text, note = decode_bytes(payload, part.get_content_charset())
            if note:
                notes.append(note)
            text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
            if wanted == "text/html":
                text = html_to_text(text)
            elif _param(part, "format") == "flowed":
                text = _unflow(text, _param(part, "delsp") == "yes")
            if text.strip():
                return Body(text, notes)
    return Body("", notes)


def is_reply(message: email.message.Message, subject: str) -> bool:
    """Whether the headers say the message answers another one."""
    return bool(message.get("In-Reply-To") or message.get("References") or REPLY_SUBJECT.match(subject))


@dataclass
class MessageResult:
    """What one email gives: its example, or why it gives none, and notes about reading it."""

    example: ExampleDraft | None  # None when the body is empty or the mail is skipped
    notes: list[str]
    skipped: str | None = None  # the kind of non-human mail (a key of app.ingest.automated.KINDS)
    signature_removed: bool = False  # the answer lost a signature, sign-off, contact block or footer


def _cleaned(text: str) -> tuple[str, bool]:
    """The text without its signature and footers, and whether anything was removed."""
    cleaned = clean_body(text)
    return cleaned, len("".join(cleaned.split())) < len("".join(text.split()))


def message_example(message: email.message.Message) -> MessageResult:
    """The example one email gives (none when its body is empty or no person wrote it), with notes."""
    subject = header_text(message, "Subject")
    body = message_body(message)
    kind = automated_kind(message, subject, body.text)
    if kind:
        return MessageResult(None, body.notes, skipped=kind)
    quoted = split_quoted(body.text) if is_reply(message, subject) else None
    if quoted is not None:
        reply, removed = _cleaned(quoted.reply)
        incoming = clean_body(quoted.text)
        if reply and incoming:
            their_subject = quoted.subject or REPLY_SUBJECT.sub("", subject, count=1).strip()
            # The name says who wrote in; their address is personal data the model need not learn.
            sender = email.utils.parseaddr(quoted.sender)[0] or quoted.sender.split("<")[0].strip()
            heading = [f"From: {sender}"] if sender and "@" not in sender else []
            heading += [f"Subject: {their_subject}"] if their_subject else []
            input_text = "\n".join(heading) + ("\n\n" if heading else "") + incoming
            example = ExampleDraft(REPLY_INSTRUCTION, reply, input_text)
            return MessageResult(example, body.notes, signature_removed=removed)
        text = reply  # the quote held nothing readable: the reply stands on its own
    else:
        text, removed = _cleaned(body.text)
    if not text:
        return MessageResult(None, body.notes)
    instruction = f"Write an email: {subject}" if subject else "Write an email"
    return MessageResult(ExampleDraft(instruction, text), body.notes, signature_removed=removed)


def _parse_message(raw: bytes) -> email.message.Message | str:
    """Parse one message, or say (in plain words) why it cannot be read."""
    # Counting boundary lines first keeps a message of a million tiny parts from being parsed at all.
    if raw.count(b"\n--") > MAX_BOUNDARY_LINES:
        return f"it has more than {MAX_BOUNDARY_LINES:,} parts"
    try:
        return email.message_from_bytes(raw, policy=compat32)
    except RecursionError:
        return "its parts are nested too deeply"
    except (ValueError, LookupError, TypeError, email.errors.MessageError):
        return "its structure is damaged"


def parse_eml(filename: str, data: bytes, limits: Limits) -> ParsedFile:
    """One email (.eml) as one example."""
    name = display_name(filename)
    refuse_binary(filename, data)
    check_line_bytes(filename, data, limits.max_line_chars)
    message = _parse_message(data)
    if isinstance(message, str):
        raise IngestError(
            f"{name} could not be read as an email: {message}. Save the email again from your mail program "
            "and upload it."
        )
    if not any(message.get(h) for h in IDENTIFYING_HEADERS):
        raise IngestError(
            f"{name} does not look like an email: it has no From, To or Subject lines. Save the email "
            "from your mail program (drag it to a folder, or 'Save as' .eml) and upload that file."
        )
    result = message_example(message)
    warnings = [f"This email: {n}." for n in result.notes]
    if result.skipped:
        return ParsedFile(filename, data, "eml", skipped=[result.skipped], warnings=warnings)
    if result.example is None:
        raise IngestError(
            f"{name} has no text in its body (it may hold only attachments). Upload an email with text, "
            "or upload its attachments themselves."
        )
    removed = int(result.signature_removed)
    return ParsedFile(filename, data, "eml", [result.example], warnings=warnings, signatures_removed=removed)


def split_mbox(data: bytes) -> tuple[list[bytes], bool]:
    """The raw messages of an mbox (at most MAX_MESSAGES), and whether there were more."""
    starts = []
    for match in MBOX_FROM.finditer(data):
        if len(starts) > MAX_MESSAGES:
            break
        starts.append(match)
    if not starts or starts[0].start() != 0:
        return [data], False  # a single message saved with the wrong extension
    truncated = len(starts) > MAX_MESSAGES
    starts = starts[: MAX_MESSAGES + 1]
    messages = []
    for current, following in zip(starts, [*starts[1:], None], strict=True):
        end = following.start() if following else len(data)
        messages.append(MBOXRD_ESCAPE.sub(rb"\1", data[current.end() : end]))
    return messages[:MAX_MESSAGES], truncated


def parse_mbox(filename: str, data: bytes, limits: Limits) -> ParsedFile:
    """A mailbox (.mbox): one example per message; unreadable or empty messages are skipped with a note."""
    name = display_name(filename)
    refuse_binary(filename, data)
    check_line_bytes(filename, data, limits.max_line_chars)
    messages, truncated = split_mbox(data.lstrip(b"\r\n"))
    examples: list[ExampleDraft] = []
    skipped: list[str] = []
    notes: list[str] = []
    automated: list[str] = []
    signatures = 0
    for number, raw in enumerate(messages, start=1):
        ref = f"message {number}"
        message = _parse_message(raw)
        if isinstance(message, str):
            skipped.append(f"{ref}: could not be read ({message}) — skipped")
            continue
        subject = header_text(message, "Subject")
        label = f"{ref} ('{subject[:60]}')" if subject else ref
        try:
            result = message_example(message)
        except Exception as exc:  # one malformed message must not cost the user the whole mailbox
            skipped.append(f"{label}: could not be read ({exc.__class__.__name__}) — skipped")
            continue
        notes += [f"{label}: {n}" for n in result.notes]
        example = result.example
        if result.skipped:
            automated.append(result.skipped)  # counted in the file's result line
            continue
        signatures += int(result.signature_removed)
        if example is None:
            skipped.append(f"{label}: no text in its body — skipped")
            continue
        example.source_ref = ref
        examples.append(example)
    if not examples and automated:
        warnings = [*skipped, *notes][:MAX_LISTED_SKIPS]
        return ParsedFile(filename, data, "mbox", skipped=automated, warnings=warnings)
    if not examples:
        reasons = "; ".join(skipped[:3]) or "it holds no messages"
        raise IngestError(
            f"{name} has no emails Lastmile can use ({reasons}). Export the mailbox again from your mail "
            "program as .mbox, or upload single emails as .eml files."
        )
    warnings = [*skipped, *notes]
    if len(warnings) > MAX_LISTED_SKIPS:
        warnings = [*warnings[:MAX_LISTED_SKIPS], f"… and {len(warnings) - MAX_LISTED_SKIPS:,} more notes."]
    if truncated:
        warnings.append(
            f"Only the first {MAX_MESSAGES:,} messages were read. Split the mailbox into smaller ones "
            "to import the rest."
        )
    return ParsedFile(
        filename, data, "mbox", examples, warnings=warnings, signatures_removed=signatures, skipped=automated
    )
