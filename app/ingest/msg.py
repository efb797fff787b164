"""Outlook messages (.msg) read like .eml: the MAPI properties become an email.message.Message.

A .msg is an OLE compound file (read with olefile, BSD-licensed) whose streams hold MAPI properties
(MS-OXMSG): `__substg1.0_<id><type>` for strings and binaries, `__properties_version1.0` for fixed-size
values. extract-msg does this too but is GPL-3.0, which would bind everyone who redistributes Lastmile's
images; the few properties an example needs are read here. The message then goes through the same
path as an .eml (app.ingest.email.email_file), so replies, signatures and non-human mail are treated alike.
"""

import base64
import email.message
import email.utils
import io
import re
import struct
from datetime import UTC, datetime, timedelta
from email.parser import HeaderParser
from email.policy import compat32

import olefile

from app.ingest.charsets import decode_labelled
from app.ingest.decoding import display_name
from app.ingest.email import email_file
from app.ingest.types import IngestError, Limits, ParsedFile

# Property ids (MS-OXPROPS).
SUBJECT, MESSAGE_CLASS, TRANSPORT_HEADERS = 0x0037, 0x001A, 0x007D
SENDER_NAME, SENDER_EMAIL, SENDER_SMTP = 0x0C1A, 0x0C1F, 0x5D01
SENT_AS_NAME, SENT_AS_SMTP = 0x0042, 0x5D02
DISPLAY_TO = 0x0E04
BODY, HTML = 0x1000, 0x1013
MESSAGE_ID, IN_REPLY_TO, REFERENCES = 0x1035, 0x1042, 0x1039
SUBMIT_TIME, DELIVERY_TIME = 0x0039, 0x0E06
INTERNET_CPID, MESSAGE_CODEPAGE = 0x3FDE, 0x3FFD
# Property types: 8-bit string (in the message's code page), UTF-16 string, binary, 32-bit int, time.
STRING8, UNICODE, BINARY, INT32, FILETIME = 0x001E, 0x001F, 0x0102, 0x0003, 0x0040
TOP_HEADER_BYTES = 32  # the fixed-property stream of a top-level message starts with 32 reserved bytes
MAX_PROPERTY_BYTES = 50 * 1024 * 1024
CODEPAGES = {
    20127: "us-ascii", 65001: "utf-8", 1200: "utf-16-le", 20866: "koi8-r", 21866: "koi8-u",
    51932: "euc-jp", 50220: "iso-2022-jp", 50221: "iso-2022-jp", 50222: "iso-2022-jp", 51949: "euc-kr",
    936: "gb18030", 54936: "gb18030", 52936: "hz",
}  # fmt: skip
# Outlook items that are not emails: what they are, in words.
NOT_EMAIL = {
    "ipm.contact": "a contact card",
    "ipm.distlist": "a contact group",
    "ipm.task": "a task",
    "ipm.taskrequest": "a task request",
    "ipm.appointment": "a calendar appointment",
    "ipm.schedule.meeting": "a meeting invitation or answer",
    "ipm.stickynote": "a note",
    "ipm.activity": "a journal entry",
}
# Parts a message class says the mail is, for app.ingest.automated: reports and automatic replies.
REPORT_TYPES = {"ndr": "delivery-status", "dr": "delivery-status", "ipnrn": "disposition-notification"}
AUTO_REPLY_CLASSES = ("ipm.note.rules.ooftemplate", "ipm.note.rules.replytemplate")
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
META_CHARSET = re.compile(rb"""<meta[^>]*charset\s*=\s*["']?\s*([-\w.:]+)""", re.IGNORECASE)
# Headers of the original internet message that describe its old MIME body, not the one built here.
BODY_HEADERS = ("content-type", "content-transfer-encoding", "mime-version", "content-disposition")


def _codec_label(codepage: int | None) -> str | None:
    """A charset label for a Windows code page number."""
    if not codepage:
        return None
    if 28591 <= codepage <= 28605:
        return f"iso-8859-{codepage - 28590}"
    return CODEPAGES.get(codepage, f"cp{codepage}")


class _Properties:
    """The top-level MAPI properties of a .msg file."""

    def __init__(self, ole: olefile.OleFileIO, limits: Limits) -> None:
        """Index the top-level property streams (attachments and recipients are not read)."""
        self.ole = ole
        self.limit = min(limits.max_file_bytes, MAX_PROPERTY_BYTES)
        self.streams: dict[int, tuple[int, str]] = {}
        for entry in ole.listdir(streams=True, storages=False):
            name = entry[0] if len(entry) == 1 else ""
            if name.startswith("__substg1.0_") and len(name) == 20:
                try:
                    self.streams[int(name[12:16], 16)] = (int(name[16:20], 16), name)
                except ValueError:
                    continue
        self.fixed = self._fixed()
        self.codepage = _codec_label(self.fixed.get(MESSAGE_CODEPAGE) or self.fixed.get(INTERNET_CPID))

    def _read(self, name: str) -> bytes:
        """A stream's bytes, refused when larger than any real message property."""
        if self.ole.get_size(name) > self.limit:
            raise IngestError("a property of the message is larger than any real email")
        return self.ole.openstream(name).read()

    def _fixed(self) -> dict[int, int]:
        """The 32-bit integer and time values of the fixed-size property stream."""
        if not self.ole.exists("__properties_version1.0"):
            return {}
        data = self._read("__properties_version1.0")
        values: dict[int, int] = {}
        for offset in range(TOP_HEADER_BYTES, len(data) - 15, 16):
            tag, _flags, value = struct.unpack_from("<IIQ", data, offset)
            if tag & 0xFFFF == INT32:
                values[tag >> 16] = value & 0xFFFFFFFF
            elif tag & 0xFFFF == FILETIME:
                values[tag >> 16] = value
        return values

    def raw(self, prop: int) -> tuple[int, bytes] | None:
        """(type, bytes) of a variable-size property, or None."""
        found = self.streams.get(prop)
        return None if found is None else (found[0], self._read(found[1]))

    def text(self, prop: int) -> str:
        """A string property as text ("" when missing); 8-bit strings in the message's code page."""
        found = self.raw(prop)
        if found is None:
            return ""
        kind, data = found
        if kind == UNICODE:
            text = data.decode("utf-16-le", errors="replace")
        elif kind == STRING8:
            text = decode_labelled(data, self.codepage)[0]
        else:
            return ""
        return text.split("\x00", 1)[0].strip()

    def time(self, prop: int) -> datetime | None:
        """A FILETIME property as a datetime."""
        value = self.fixed.get(prop)
        if not value:
            return None
        try:
            return FILETIME_EPOCH + timedelta(microseconds=value // 10)
        except OverflowError:
            return None


def _address(name: str, address: str) -> str:
    """ "Name <smtp@address>"; an Exchange (X.500) address is left out, it is no email address."""
    smtp = address if "@" in address and not address.startswith("/") else ""
    return email.utils.formataddr((name, smtp)) if smtp else name


def _html_label(html: bytes, fallback: str | None) -> str | None:
    """The charset an HTML body declares in its <meta>, else the message's."""
    found = META_CHARSET.search(html[:4096])
    return found.group(1).decode("ascii", "replace") if found else fallback


def _body(props: _Properties) -> tuple[str, str] | None:
    """(subtype, text) of the message's body: its plain text, else its HTML; None when it has neither."""
    plain = props.text(BODY)
    if plain.strip():
        return "plain", plain
    found = props.raw(HTML)
    if found is None:
        return None
    kind, data = found
    if kind == BINARY:
        html = decode_labelled(data.split(b"\x00", 1)[0], _html_label(data, props.codepage))[0]
    else:
        html = props.text(HTML)
    return ("html", html) if html.strip() else None


def _headers(props: _Properties) -> email.message.Message:
    """The original internet headers (Outlook keeps them for received mail), without the body's."""
    message = HeaderParser(policy=compat32).parsestr(props.text(TRANSPORT_HEADERS) + "\n\n")
    for name in BODY_HEADERS:
        del message[name]
    return message


def _set(message: email.message.Message, name: str, value: str) -> None:
    """Set a header (replacing the original's), when there is a value."""
    if value:
        del message[name]
        message[name] = " ".join(value.split())


def to_message(props: _Properties, kind: str) -> email.message.Message:
    """The .msg as an email.message.Message with a single text part (inside a report for receipts)."""
    message = _headers(props)
    sender = _address(
        props.text(SENT_AS_NAME) or props.text(SENDER_NAME),
        props.text(SENT_AS_SMTP) or props.text(SENDER_SMTP) or props.text(SENDER_EMAIL),
    )
    if not message.get("From"):
        _set(message, "From", sender)
    if not message.get("To"):
        _set(message, "To", props.text(DISPLAY_TO))
    _set(message, "Subject", props.text(SUBJECT))
    for name, prop in (("Message-ID", MESSAGE_ID), ("In-Reply-To", IN_REPLY_TO), ("References", REFERENCES)):
        if not message.get(name):
            _set(message, name, props.text(prop))
    sent = props.time(SUBMIT_TIME) or props.time(DELIVERY_TIME)
    if sent and not message.get("Date"):
        message["Date"] = email.utils.format_datetime(sent)
    if kind.startswith(AUTO_REPLY_CLASSES) and not message.get("Auto-Submitted"):
        message["Auto-Submitted"] = "auto-replied"
    body = _body(props)
    subtype, text = body if body is not None else ("plain", "")
    part = email.message.Message()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(text.encode("utf-8")).decode("ascii"))
    report = REPORT_TYPES.get(kind.rsplit(".", 1)[-1]) if kind.startswith("report.") else None
    if report:
        message["Content-Type"] = f"multipart/report; report-type={report}"
        message.set_payload([part])
        return message
    for name, value in part.items():
        message[name] = value
    message.set_payload(part.get_payload())
    return message


def _not_email(kind: str) -> str | None:
    """What an Outlook item that is not an email is, in words (None for an email or a post)."""
    for prefix, what in NOT_EMAIL.items():
        if kind == prefix or kind.startswith(prefix + "."):
            return what
    return None


def parse_msg(filename: str, data: bytes, limits: Limits) -> ParsedFile:
    """One Outlook message (.msg) as one example, read like an .eml."""
    name = display_name(filename)
    if not olefile.isOleFile(io.BytesIO(data)):
        raise IngestError(
            f"{name} is not an Outlook message (.msg). In Outlook, open the email and choose File > Save As "
            "> Outlook Message Format, or save it as .eml, then upload it again."
        )
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            props = _Properties(ole, limits)
            kind = props.text(MESSAGE_CLASS).lower() or "ipm.note"
            what = _not_email(kind)
            if what:
                raise IngestError(
                    f"{name} is {what} saved from Outlook, not an email. Lastmile learns from emails: save "
                    "the emails themselves (.msg or .eml) and upload those."
                )
            if kind.startswith("ipm.note.smime") and not kind.endswith("multipartsigned"):
                raise IngestError(
                    f"{name} is an encrypted email, which Lastmile cannot read. Open it in Outlook, copy its "
                    "text into a new email or a .txt file, and upload that."
                )
            message = to_message(props, kind)
    except (OSError, ValueError, EOFError, struct.error):  # olefile reports damage as OSError
        raise IngestError(
            f"{name} is a damaged Outlook message. Open it in Outlook and save it again (File > Save As), "
            "or save it as .eml, then upload it again."
        ) from None
    return email_file(filename, data, "msg", message, limits)
