"""Bytes to text for the text formats: encoding detection, binary refusal, line guard, HTML to text."""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePosixPath

from app.ingest.charsets import guess_charset
from app.ingest.types import IngestError

# Checked first and longest first: the UTF-32 LE BOM starts with the UTF-16 LE BOM.
BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

# Magic numbers of files people rename by mistake (or on purpose); what they are, in plain words.
SIGNATURES = (
    (b"\x7fELF", "a program (Linux executable)"),
    (b"MZ", "a Windows program (.exe or .dll)"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive or an Office document"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office document (.doc, .xls)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xca\xfe\xba\xbe", "a program (macOS or Java)"),
    (b"\xcf\xfa\xed\xfe", "a program (macOS executable)"),
)

# Control bytes that never occur in text; tab, newlines, form feed and escape are allowed.
_CONTROL = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32)])
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
# Bytes that are not valid UTF-8 come back as lone surrogates from the "surrogateescape" handler.
_BAD_BYTE = re.compile("[\udc80-\udcff]")
_GOOD_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")
SAMPLE_BYTES = 64 * 1024
MAX_CONTROL_SHARE = 0.05
# How a detected legacy encoding is named to the user.
LEGACY_NAMES = {
    "cp1252": "Windows-1252 (Western European)", "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)", "koi8_r": "KOI8-R (Russian)", "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)", "cp1255": "Windows-1255 (Hebrew)", "cp1256": "Windows-1256 (Arabic)",
    "cp1257": "Windows-1257 (Baltic)", "iso8859_2": "ISO-8859-2 (Central European)",
    "iso8859_7": "ISO-8859-7 (Greek)", "cp932": "Shift JIS (Japanese)", "euc_jp": "EUC-JP (Japanese)",
    "gb18030": "GB18030 (Simplified Chinese)", "big5": "Big5 (Traditional Chinese)",
    "cp949": "EUC-KR (Korean)", "cp874": "Windows-874 (Thai)",
}  # fmt: skip
HTML_START = re.compile(r"\s*(<!doctype\s+html|<html[\s>]|<\?xml[^>]*>\s*<html)", re.IGNORECASE)


@dataclass
class Decoded:
    """Text decoded from a file, the encoding used and what the user should know about it."""

    text: str
    encoding: str
    warnings: list[str] = field(default_factory=list)


def display_name(filename: str) -> str:
    """The file's name as shown in messages: no control characters, bounded length."""
    clean = _CONTROL_CHARS.sub("", filename).replace("\x7f", "")
    return clean if len(clean) <= 200 else clean[:95] + "…" + clean[-95:]


def file_stem(filename: str) -> str:
    """The file name without folders and extension (archive members included)."""
    return PurePosixPath(filename.replace("\\", "/")).stem or filename


def check_line_bytes(filename: str, data: bytes, max_line_chars: int) -> None:
    """Refuse raw bytes whose longest line cannot fit `max_line_chars` in any encoding (cheap pre-check)."""
    # Fast path first: one huge line is found without splitting the whole file.
    if len(data) <= max_line_chars:
        return
    first_break = min((i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0), default=len(data))
    # Four bytes per character at most (UTF-32), so a longer byte run is too long whatever the encoding.
    if first_break > 4 * max_line_chars:
        raise _long_line(filename, max_line_chars)
    if max(map(len, data.splitlines())) > 4 * max_line_chars:
        raise _long_line(filename, max_line_chars)


def check_line_chars(filename: str, text: str, max_line_chars: int) -> None:
    """Refuse text with a line longer than `max_line_chars` characters (newlines already normalised)."""
    if len(text) > max_line_chars and max(map(len, text.split("\n"))) > max_line_chars:
        raise _long_line(filename, max_line_chars)


def _long_line(filename: str, max_line_chars: int) -> IngestError:
    """The error for a file with an over-long line."""
    return IngestError(
        f"{display_name(filename)} has a line longer than {max_line_chars:,} characters, which a normal "
        "document never has (it may be a data dump or a damaged file). Open it, add line breaks or save "
        "it again as plain text, then upload it again."
    )


def describe_binary(data: bytes) -> tuple[bytes, str] | None:
    """(magic number, what it is in plain words) when `data` starts like a known binary format."""
    for magic, what in SIGNATURES:
        # "MZ" could start a real sentence; a Windows program has binary bytes right after it.
        if data.startswith(magic) and (magic != b"MZ" or any(b in _CONTROL for b in data[2:64])):
            return magic, what
    return None


def refuse_binary(filename: str, data: bytes) -> None:
    """Refuse a known non-text file format (programs, images, PDFs...) uploaded under a text extension."""
    found = describe_binary(data)
    if found is None:
        return
    magic, what = found
    name = display_name(filename)
    if magic == b"%PDF":
        raise IngestError(
            f"{name} is really {what} with the wrong extension. Rename it to {file_stem(name)}.pdf and "
            "upload it again."
        )
    raise IngestError(
        f"{name} is not a text file: it looks like {what}. Upload the document itself, saved as "
        "text (.txt), Word (.docx), PDF, email (.eml) or a table (.csv)."
    )


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 LE/BE when the sample's NUL bytes sit on one side of most character pairs, else None."""
    half = len(sample) // 2
    if half < 2:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    # Latin text in UTF-16 has a NUL in every other byte: many NULs on one side, almost none on the other.
    if odd_nuls > 0.3 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.3 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


def _control_share(text: str) -> float:
    """Share of control characters in `text` (a sample)."""
    return len(_CONTROL_CHARS.findall(text)) / max(len(text), 1)


def decode_text(filename: str, data: bytes) -> Decoded:
    """Decode a text file: BOM, strict UTF-8, UTF-16, else a detected legacy encoding; binaries refused."""
    warnings: list[str] = []
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                text = data[len(bom) :].decode(encoding, errors="replace")
                warnings.append(
                    f"Some characters could not be read as {encoding.upper()} and show as �; check the text."
                )
            return _finish(filename, text, encoding, warnings)
    refuse_binary(filename, data)
    sample = data[:SAMPLE_BYTES]
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return _finish(filename, data.decode(utf16, errors="replace"), utf16, warnings)
    if sum(sample.count(b) for b in _CONTROL) > MAX_CONTROL_SHARE * len(sample):
        raise _not_text(filename)
    try:
        return _finish(filename, data.decode("utf-8"), "utf-8", warnings)
    except UnicodeDecodeError:
        pass
    # Mostly valid UTF-8 with a few bad bytes: keep UTF-8 and replace them; otherwise it is a legacy file.
    escaped = data.decode("utf-8", errors="surrogateescape")
    bad = len(_BAD_BYTE.findall(escaped))
    good = len(_GOOD_NON_ASCII.findall(escaped))
    if good > bad:
        warnings.append(
            f"{bad} byte(s) were not valid UTF-8 and show as �; check the text around them after import."
        )
        return _finish(filename, data.decode("utf-8", errors="replace"), "utf-8", warnings)
    # A legacy file: charset-normalizer names the encoding (Windows-1252 among near-equal guesses).
    encoding = guess_charset(data) or "cp1252"
    what = LEGACY_NAMES.get(encoding, encoding)
    warnings.append(
        f"The file is not UTF-8, so it was decoded as {what}; check that accented characters look right, "
        "or save the file as UTF-8 and upload it again."
    )
    return _finish(filename, data.decode(encoding, errors="replace"), encoding, warnings)


def _finish(filename: str, text: str, encoding: str, warnings: list[str]) -> Decoded:
    """Normalise newlines, drop NULs and refuse text that is mostly control characters."""
    if _control_share(text[:SAMPLE_BYTES]) > MAX_CONTROL_SHARE:
        raise _not_text(filename)
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    return Decoded(text, encoding, warnings)


def _not_text(filename: str) -> IngestError:
    """The error for binary content under a text extension."""
    return IngestError(
        f"{display_name(filename)} is not a text file (it contains binary data). Open it in the program "
        "that made it and save it as text (.txt), Word (.docx) or PDF, then upload it again."
    )


def looks_like_html(text: str) -> bool:
    """Whether `text` is a whole HTML document (a web page saved under a text extension)."""
    return bool(HTML_START.match(text[:2000]))


BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "dd", "div", "dl", "dt", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
})  # fmt: skip
PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre"}
)
# Invisible content; <head> is closed by <body> too, as browsers do.
SKIP_TAGS = frozenset({"script", "style", "title", "noscript", "template", "head", "svg", "object", "iframe"})


class _HtmlText(HTMLParser):
    """Collects the readable text of an HTML document, line by line."""

    def __init__(self, markdown: bool) -> None:
        """Start empty; `markdown` renders headings as `#` lines."""
        super().__init__(convert_charrefs=True)
        self.markdown = markdown
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip: list[str] = []
        self.quote = 0
        self.pre = 0
        self.cells = 0

    def newline(self, blank: bool = False) -> None:
        """End the current line (`blank`: even an empty one); blockquote depth becomes `> ` prefixes."""
        text = "".join(self.current)
        text = text.rstrip() if self.pre else " ".join(text.split())
        self.current = []
        if text or blank:
            self.lines.append(("> " * self.quote + text).rstrip() if text else "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a tag: skip invisible content, start blocks, mark list items and headings."""
        if tag == "body":
            self.skip.clear()  # a missing </head> must not hide the whole page
        if tag in SKIP_TAGS:
            self.skip.append(tag)
            return
        if tag == "br":
            self.newline(blank=True)
        elif tag in BLOCK_TAGS:
            self.newline()
            if tag == "blockquote":
                self.quote += 1
            elif tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.current.append("- ")
            elif tag in ("h1", "h2", "h3", "h4", "h5", "h6") and self.markdown:
                self.current.append("#" * int(tag[1]) + " ")
            elif tag == "tr":
                self.cells = 0
        elif tag in ("td", "th"):
            if self.cells:
                self.current.append(" | ")
            self.cells += 1

    def handle_endtag(self, tag: str) -> None:
        """Close a tag: leave skipped content, end blocks."""
        if tag in SKIP_TAGS:
            if tag in self.skip:
                del self.skip[len(self.skip) - 1 - self.skip[::-1].index(tag) :]
            return
        if tag not in BLOCK_TAGS:
            return
        self.newline()
        if tag == "blockquote" and self.quote:
            self.quote -= 1
        elif tag == "pre" and self.pre:
            self.pre -= 1
        if tag in PARAGRAPH_TAGS:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        """Add visible text; inside <pre> line breaks are kept."""
        if self.skip:
            return
        if not self.pre:
            self.current.append(data)
            return
        first, *rest = data.split("\n")
        self.current.append(first)
        for line in rest:
            self.newline(blank=True)
            self.current.append(line)


def html_to_text(html: str, markdown: bool = False) -> str:
    """The readable text of an HTML document: no scripts or styles, blockquotes as `> ` lines."""
    parser = _HtmlText(markdown)
    parser.feed(html)
    parser.close()
    parser.newline()
    # Nested blocks leave runs of empty lines behind: keep one.
    lines: list[str] = []
    for line in parser.lines:
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip("\n")
