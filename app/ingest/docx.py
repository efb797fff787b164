"""Word (.docx) reports: package checks (bombs, macros, DTDs) before python-docx, then markdown text."""

import io
import re
import zipfile
from dataclasses import dataclass

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from app.ingest.archive import ExpansionBudget, guard_entries, open_zip, read_entry
from app.ingest.decoding import check_line_chars, describe_binary, display_name
from app.ingest.docx_xml import (
    accepted_text,
    body_items,
    is_contents_paragraph,
    is_strict,
    transitional_package,
)
from app.ingest.reports import Section, clean_title, first_line_title, report_file
from app.ingest.types import IngestError, Limits, ParsedFile

# "<!" starts a DOCTYPE (and so entity declarations) unless it opens a comment or CDATA.
MARKUP_DECLARATION = re.compile(rb"<!(?!--|\[CDATA\[)")
XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
# Encodings in which "<!" is plain ASCII bytes (UTF-16/32 are scanned with their NUL bytes removed).
SAFE_ENCODINGS = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "utf-16", "utf-32"}
)
EBCDIC_XML = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC, which libxml2 would decode on its own
HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


@dataclass
class Block:
    """One paragraph or table of the document, rendered as markdown."""

    text: str
    heading_level: int | None = None  # 1-9 for "Heading N" paragraphs
    is_title: bool = False  # the "Title" style
    is_list: bool = False  # a list item: consecutive items are not separated by blank lines


def check_package(filename: str, data: bytes, limits: Limits) -> None:
    """Refuse a .docx that is not a Word package, is a zip bomb, has macros or a DOCTYPE in any XML part."""
    name = display_name(filename)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError(
            f"{name} is an old-style Word file (.doc) or a password-protected document. Open it in Word, "
            "remove any password, save it as 'Word Document (.docx)' and upload it again."
        )
    if not data.startswith(b"PK"):
        found = describe_binary(data)
        what = f" (it looks like {found[1]})" if found else ""
        raise IngestError(
            f"{name} is not a Word document{what}, even though its name ends in .docx. Open it in Word and "
            "save it as 'Word Document (.docx)', then upload it again."
        )
    zf = open_zip(
        filename,
        data,
        f"{name} is damaged: it is not a complete Word document. Open it in Word, save it again as .docx "
        "and upload it again.",
    )
    with zf:
        infos = guard_entries(filename, zf, limits)
        names = {info.filename for info in infos}
        if "word/document.xml" not in names:
            raise IngestError(
                f"{name} is not a Word document (it is another kind of zip file renamed to .docx). Open "
                "it in Word and save it as .docx, or upload the original file."
            )
        budget = ExpansionBudget(limits)
        for info in infos:
            if info.filename.lower().endswith("vbaproject.bin"):
                raise _macros(name)
            try:
                content = read_entry(filename, zf, info, limits, budget, limits.max_archive_expanded_bytes)
            except (
                zipfile.BadZipFile,
                OSError,
                EOFError,
                ValueError,
                RuntimeError,
                NotImplementedError,
            ) as exc:
                raise IngestError(
                    f"{name} is damaged (one of its parts cannot be unpacked). Open it in Word, save it "
                    "again as .docx and upload it again."
                ) from exc
            _check_part(name, info.filename, content or b"")


def _macros(name: str) -> IngestError:
    """The error for a document with macros."""
    return IngestError(
        f"{name} contains macros, which Lastmile does not accept. Save it in Word as a plain "
        "'Word Document (.docx)' (without macros) and upload that."
    )


def _check_part(name: str, part: str, content: bytes) -> None:
    """Refuse an XML part with a DOCTYPE/ENTITY declaration, or in an encoding that could hide one."""
    if content.startswith(EBCDIC_XML):
        raise _doctype(name)
    # UTF-16/32 markup is ASCII once its NUL bytes are gone; the scan only needs the markup.
    scan = content.replace(b"\x00", b"") if b"\x00" in content[:4] else content
    head = scan[:200].lstrip(b"\xef\xbb\xbf\xff\xfe").lstrip()
    if not head.startswith(b"<"):
        return  # images, fonts, embedded objects: not XML, so lxml cannot parse them either
    declared = XML_ENCODING.match(head)
    if declared and declared.group(1).decode("ascii", "replace").lower() not in SAFE_ENCODINGS:
        raise IngestError(
            f"{name} contains a part in a text encoding Word never writes; it may have been tampered with. "
            "Open it in Word, save it again as .docx and upload the new copy."
        )
    if MARKUP_DECLARATION.search(scan):
        raise _doctype(name)
    if part == "[Content_Types].xml" and b"macroEnabled" in scan:
        raise _macros(name)


def _doctype(name: str) -> IngestError:
    """The error for XML that declares a DOCTYPE or entities (never produced by Word)."""
    return IngestError(
        f"{name} contains XML declarations (DOCTYPE/ENTITY) that Word never writes; it may have been "
        "tampered with. Open it in Word, save it again as .docx and upload the new copy."
    )


def _style_name(paragraph: Paragraph) -> str:
    """The paragraph's style name, or "" when the style is missing or broken."""
    try:
        return paragraph.style.name or "" if paragraph.style is not None else ""
    except (KeyError, ValueError, AttributeError):
        return ""


def _paragraph_block(paragraph: Paragraph) -> Block | None:
    """A paragraph as markdown: headings as `#`, list items as `- `; None when it is empty or part of
    Word's table of contents."""
    text = " ".join(accepted_text(paragraph._p).split())
    style = _style_name(paragraph)
    if not text or is_contents_paragraph(style):
        return None
    if style == "Title":
        return Block(f"# {text}", is_title=True)
    match = HEADING_STYLE.match(style)
    if match:
        level = max(int(match.group(1)), 1)
        return Block(f"{'#' * min(level, 6)} {text}", heading_level=level)
    p_pr = paragraph._p.pPr
    if "List" in style or (p_pr is not None and p_pr.numPr is not None):
        return Block(f"- {text}", is_list=True)
    return Block(text)


def _table_block(table: Table) -> Block | None:
    """A table as a simple markdown table (merged cells once); None when it is empty."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue  # a merged cell appears once per grid column it spans
            seen.add(id(cell._tc))
            text = " ".join(accepted_text(p._p) for p in cell.paragraphs)
            cells.append(" ".join(text.split()).replace("|", "\\|"))
        rows.append(cells)
    if not any(any(cells) for cells in rows):
        return None
    width = max(len(cells) for cells in rows)
    rows = [cells + [""] * (width - len(cells)) for cells in rows]
    lines = [f"| {' | '.join(rows[0])} |", f"|{' --- |' * width}"]
    lines += [f"| {' | '.join(cells)} |" for cells in rows[1:]]
    return Block("\n".join(lines))


def _blocks(document: docx.document.Document) -> list[Block]:
    """The body's paragraphs and tables, in order (content controls' too)."""
    blocks: list[Block] = []
    for item in body_items(document.element.body, document._body):
        block = _paragraph_block(item) if isinstance(item, Paragraph) else _table_block(item)
        if block is not None:
            blocks.append(block)
    return blocks


def _sections(blocks: list[Block]) -> list[Section]:
    """The document split at its top-level headings (the Title paragraph is not a section)."""
    levels = [b.heading_level for b in blocks if b.heading_level]
    if not levels:
        return [Section(None, join_blocks([b for b in blocks if not b.is_title]))]
    top = min(levels)
    grouped: list[tuple[str | None, list[Block]]] = [(None, [])]
    for block in blocks:
        if block.heading_level == top:
            grouped.append((clean_title(block.text), []))
        elif not block.is_title:
            grouped[-1][1].append(block)
    return [Section(heading, join_blocks(members)) for heading, members in grouped]


def join_blocks(blocks: list[Block]) -> str:
    """Blocks as markdown: blank lines between them, single line breaks between list items."""
    parts: list[str] = []
    for previous, block in zip([None, *blocks], blocks, strict=False):
        if parts:
            parts.append("\n" if previous is not None and previous.is_list and block.is_list else "\n\n")
        parts.append(block.text)
    return "".join(parts)


def _transitional(data: bytes) -> bytes:
    """The package python-docx can open: a Strict Open XML one rewritten to Transitional, else as it is."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        if not is_strict(package.read("word/document.xml")):
            return data
        return transitional_package(package)


def parse_docx(filename: str, data: bytes, limits: Limits) -> ParsedFile:
    """A Word document as a report: one example, or one per top-level section when long."""
    check_package(filename, data, limits)
    name = display_name(filename)
    try:
        document = docx.Document(io.BytesIO(_transitional(data)))
        blocks = _blocks(document)
        core_title = clean_title(document.core_properties.title or "")
    except (KeyError, ValueError, TypeError, AttributeError, zipfile.BadZipFile, etree.LxmlError) as exc:
        raise IngestError(
            f"{name} is damaged or was saved in a form Lastmile cannot read. Open it in Word, save it "
            "again as .docx and upload it again."
        ) from exc
    text = join_blocks(blocks)
    if not text.strip():
        raise IngestError(
            f"{name} has no text in it (it may hold only pictures or text boxes). Check that you picked "
            "the right file, or paste its text into a new document and upload that."
        )
    check_line_chars(filename, text, limits.max_line_chars)
    styled = next((b.text for b in blocks if b.is_title or b.heading_level), "")
    title = core_title or clean_title(styled) or first_line_title(text, filename)
    return report_file(filename, data, "docx", title, text, limits, [], sections=_sections(blocks))
