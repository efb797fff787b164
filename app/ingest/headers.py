"""Email header values read safely: capped before decoding, RFC 2047 encoded words decoded in linear time.

email.header.decode_header pops encoded words off the front of a list one by one: quadratic in their
number (a subject of 100,000 encoded words took minutes). Here every header is cut to MAX_HEADER_CHARS
raw characters first, and encoded words are found in one regular-expression pass.
"""

import binascii
import email.message
import re
from collections.abc import Callable

# Raw characters of one header value that are ever looked at: real headers are far shorter (a long
# References line runs to a few thousand); a longer one is cut before anything decodes or parses it.
MAX_HEADER_CHARS = 16_384
# A subject longer than this is cut with an ellipsis: it becomes part of an instruction, not a document.
MAX_SUBJECT_CHARS = 300
ELLIPSIS = "…"
# =?charset?encoding?text?= (RFC 2047; a charset may carry an RFC 2231 language: "utf-8*en").
ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([bBqQ])\?([^?\s]*)\?=")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")

Decoder = Callable[[bytes, str | None], str]


def cap_headers(part: email.message.Message, limit: int = MAX_HEADER_CHARS) -> bool:
    """Cut every header of `part` to `limit` raw characters (in place); whether any was cut."""
    raw = list(part.raw_items())
    if all(len(value) <= limit for _name, value in raw if isinstance(value, str)):
        return False
    for name in {name for name, _value in raw}:
        del part[name]
    for name, value in raw:
        part.set_raw(name, value[:limit] if isinstance(value, str) else value)
    return True


def raw_header(message: email.message.Message, name: str) -> str | None:
    """The first `name` header exactly as it was in the file (8-bit bytes kept as surrogate escapes)."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)[:MAX_HEADER_CHARS]
    return None


def _word_bytes(encoding: str, text: str) -> bytes | None:
    """The bytes an encoded word's text stands for; None when it is not valid B or Q encoding."""
    data = text.encode("ascii", "surrogateescape")
    if encoding in "qQ":
        return _Q_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data.replace(b"_", b" "))
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


def _literal(text: str, decode: Decoder) -> str:
    """Header text outside encoded words; raw 8-bit bytes (escaped by the parser) are decoded too."""
    if all(ord(ch) < 0xDC80 or ord(ch) > 0xDCFF for ch in text):
        return text
    return decode(text.encode("utf-8", "surrogateescape"), None)


def decode_words(value: str, decode: Decoder) -> str:
    """`value` with its encoded words decoded by `decode(bytes, charset)`; linear in its length.

    Whitespace between two encoded words is dropped (RFC 2047 §6.2), and neighbouring words in the
    same charset are joined as bytes first, so a character split across two words survives.
    """
    pieces: list[str] = []
    pending: bytearray = bytearray()
    pending_charset: str | None = None
    position = 0
    last_was_word = False

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            pieces.append(decode(bytes(pending), pending_charset))
            pending.clear()
            pending_charset = None

    for match in ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:  # not a valid word: keep it as it stands
            continue
        if between and not (last_was_word and not between.strip()):
            flush()
            pieces.append(_literal(between, decode))
        charset = match.group(1).split("*", 1)[0].lower()
        if charset != pending_charset:
            flush()
            pending_charset = charset
        pending.extend(data)
        position = match.end()
        last_was_word = True
    flush()
    pieces.append(_literal(value[position:], decode))
    return "".join(pieces)


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS
