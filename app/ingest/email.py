"""Emails (.eml, each message of an .mbox or .msg): replies become "Reply to this email" examples."""

import email
import email.errors
import email.message
import email.utils
import re
from dataclasses import dataclass
from email.policy import compat32

from app.curation.fitting import numbered_parts
from app.ingest.automated import automated_kind
from app.ingest.charsets import decode_labelled as decode_bytes
from app.ingest.decoding import check_line_bytes, display_name, html_to_text, refuse_binary
from app.ingest.headers import (
    MAX_HEADER_CHARS,
    MAX_SUBJECT_CHARS,
    cap_headers,
    decode_words,
    raw_header,
    shorten,
)
from app.ingest.replies import has_quoted_message, sender_name, split_quoted, without_own_header
from app.ingest.reports import report_fit
from app.ingest.signatures import strip_signature
from app.ingest.types import ExampleDraft, IngestError, Limits, ParsedFile

REPLY_INSTRUCTION = "Reply to this email"
REPLY_SUBJECT = re.compile(r"^\s*(re|aw|sv|antw|vs|réf|ref)\s*(\[\d+\])?\s*:", re.IGNORECASE)
IDENTIFYING_HEADERS = ("from", "to", "subject", "date", "message-id")
MAX_PARTS = 1000
# Boundary lines are counted before parsing, so a message of a million tiny parts is refused cheaply.
MAX_BOUNDARY_LINES = 20_000


@dataclass
class Body:
    """The readable text of a message and what went wrong reading it."""

    text: str
    notes: list[str]


def header_text(message: email.message.Message, name: str) -> str:
    """A header's value with RFC 2047 encoded words decoded, on one line; "" when missing.

    The raw value is capped before decoding (headers.MAX_HEADER_CHARS), and a subject is cut to
    headers.MAX_SUBJECT_CHARS with an ellipsis: it becomes part of an instruction.
    """
    value = raw_header(message, name)
    if value is None:
        return ""
    text = " ".join(decode_words(value, lambda data, charset: decode_bytes(data, charset)[0]).split())
    return shorten(text, MAX_SUBJECT_CHARS if name.lower() == "subject" else MAX_HEADER_CHARS)


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
    """Undo format=flowed soft line breaks (RFC 3676): a line ending in a space continues on the next
    line of the same quote depth; the quote marks and space-stuffing of the continuation are dropped."""
    out: list[str] = []
    joining = False
    depth = 0
    for line in text.split("\n"):
        level = len(line) - len(line.lstrip(">"))
        content = line[level:]
        if content.startswith(" ") and (level or content.startswith(" From")):
            content = content[1:]  # space-stuffing
        if joining and level == depth:
            out[-1] += content
        else:
            out.append(line)
        depth = level
        joining = line.endswith(" ") and content.rstrip() != "--"
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


def is_reply(message: email.message.Message, subject: str, body: str) -> bool:
    """Whether the message answers another one: its headers say so, or its body quotes one with a heading."""
    if message.get("In-Reply-To") or message.get("References") or REPLY_SUBJECT.match(subject):
        return True
    return has_quoted_message(body)


@dataclass
class MessageResult:
    """What one email gives: its example, or why it gives none, and notes about reading it."""

    example: ExampleDraft | None  # None when the body is empty or the mail is skipped
    notes: list[str]
    skipped: str | None = None  # the kind of non-human mail (a key of app.ingest.automated.KINDS)
    signature_removed: bool = False  # the answer lost a signature, sign-off, contact block or footer


def message_example(message: email.message.Message) -> MessageResult:
    """The example one email gives (none when its body is empty or no person wrote it), with notes.

    A reply becomes "Reply to this email": the message it answers (its sender's name, subject and
    text, without older history or signature) → the reply, without sign-off, signature or footer.
    """
    subject = header_text(message, "Subject")
    body = message_body(message)
    kind = automated_kind(message, subject, body.text)
    if kind:
        return MessageResult(None, [], skipped=kind)  # notes on reading it would only be noise
    writer = sender_name(header_text(message, "From"))
    quoted = split_quoted(body.text) if is_reply(message, subject, body.text) else None
    if quoted is not None:
        reply = strip_signature(quoted.reply, writer)
        incoming = strip_signature(quoted.text, quoted.sender).text
        their_subject = quoted.subject or REPLY_SUBJECT.sub("", subject, count=1).strip()
        if reply.text and (incoming or quoted.sender or quoted.subject):
            # The name says who wrote in; their address is personal data the model need not learn.
            heading = [f"From: {quoted.sender}"] if quoted.sender else []
            heading += [f"Subject: {their_subject}"] if their_subject else []
            input_text = "\n".join(heading) + ("\n\n" + incoming if incoming else "")
            example = ExampleDraft(REPLY_INSTRUCTION, reply.text, input_text.strip())
            return MessageResult(example, body.notes, signature_removed=reply.removed)
        cleaned = reply  # nothing readable is quoted: the reply stands on its own (or, empty, gives nothing)
    else:
        cleaned = strip_signature(without_own_header(body.text), writer)
    if not cleaned.text:
        return MessageResult(None, body.notes)
    instruction = f"Write an email: {subject}" if subject else "Write an email"
    example = ExampleDraft(instruction, cleaned.text)
    return MessageResult(example, body.notes, signature_removed=cleaned.removed)


def parse_message(raw: bytes) -> email.message.Message | str:
    """Parse one message, or say (in plain words) why it cannot be read."""
    # Counting boundary lines first keeps a message of a million tiny parts from being parsed at all.
    if raw.count(b"\n--") > MAX_BOUNDARY_LINES:
        return f"it has more than {MAX_BOUNDARY_LINES:,} parts"
    try:
        message = email.message_from_bytes(raw, policy=compat32)
    except RecursionError:
        return "its parts are nested too deeply"
    except (ValueError, LookupError, TypeError, email.errors.MessageError):
        return "its structure is damaged"
    _cap_all_headers(message)
    return message


def _cap_all_headers(message: email.message.Message) -> None:
    """Cut over-long headers in the parts _parts reads, before anything decodes or parses them.

    Address and parameter parsing in the email package is quadratic on some inputs; nothing below
    this point sees a header longer than headers.MAX_HEADER_CHARS.
    """
    stack, seen = [message], 0
    while stack and seen <= MAX_PARTS:
        part = stack.pop()
        seen += 1
        cap_headers(part)
        payload = part.get_payload()
        if part.is_multipart() and part.get_content_type() != "message/rfc822" and isinstance(payload, list):
            stack.extend(reversed(payload))


def parse_eml(filename: str, data: bytes, limits: Limits) -> ParsedFile:
    """One email (.eml) as one example."""
    name = display_name(filename)
    refuse_binary(filename, data)
    check_line_bytes(filename, data, limits.max_line_chars)
    message = parse_message(data)
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
    return email_file(filename, data, "eml", message, limits)


def fitted(example: ExampleDraft, limits: Limits) -> list[ExampleDraft]:
    """The example, or, for an email written on its own that is too long for the model, its parts that
    fit (cut at paragraphs, like a report's). A reply stays whole: its answer means nothing in parts."""
    fit = report_fit(limits)
    if example.instruction == REPLY_INSTRUCTION or fit.fits(
        example.instruction, example.input, example.output
    ):
        return [example]
    return numbered_parts(fit, example.instruction, example.input, example.output, "")


def email_file(
    filename: str, data: bytes, fmt: str, message: email.message.Message, limits: Limits
) -> ParsedFile:
    """The ParsedFile of a file holding one email (.eml, .msg): its examples, or why it gives none."""
    result = message_example(message)
    warnings = [f"This email: {n}." for n in result.notes]
    if result.skipped:
        return ParsedFile(filename, data, fmt, skipped=[result.skipped], warnings=warnings)
    if result.example is None:
        raise IngestError(
            f"{display_name(filename)} has no text in its body (it may hold only attachments). Upload an "
            "email with text, or upload its attachments themselves."
        )
    removed = int(result.signature_removed)
    examples = fitted(result.example, limits)
    parts = len(examples) if len(examples) > 1 else 0
    return ParsedFile(
        filename, data, fmt, examples, warnings=warnings, signatures_removed=removed, report_parts=parts
    )
