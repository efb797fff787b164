"""PDF reports: pypdf text extraction with clear refusals for encrypted, damaged, scanned or huge PDFs."""

import io
import logging
import re

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from app.ingest.decoding import check_line_chars, describe_binary, display_name
from app.ingest.pdf_text import clean_pages, clean_text
from app.ingest.reports import Section, clean_title, first_line_title, report_file, report_fit
from app.ingest.types import IngestError, Limits, ParsedFile

log = logging.getLogger(__name__)

# What reading a malformed PDF can raise besides pypdf's own errors.
READ_ERRORS = (
    PyPdfError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    OSError,
    RecursionError,
)
# Office programs write these as the title of an exported PDF: they are file names, not titles.
NOT_A_TITLE = re.compile(r"(\.(docx?|pdf|pptx?|xlsx?|rtf|odt)\s*$|^\s*(untitled|microsoft word\b))", re.I)
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_LISTED_PAGES = 10


def _damaged(name: str) -> IngestError:
    """The error for a PDF that cannot be read."""
    return IngestError(
        f"{name} is damaged and cannot be read. Re-export it as PDF from the original program "
        "(or use 'Print to PDF') and upload the new file."
    )


def _open(filename: str, data: bytes) -> PdfReader:
    """A reader on the PDF, decrypted when it only has an owner password; refusals raise IngestError."""
    name = display_name(filename)
    if b"%PDF" not in data[:1024]:
        found = describe_binary(data)
        what = f" (it looks like {found[1]})" if found else ""
        raise IngestError(
            f"{name} is not a PDF file{what}, even though its name ends in .pdf. Open the original "
            "document and save or export it as PDF, then upload it again."
        )
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except READ_ERRORS as exc:
        raise _damaged(name) from exc
    if encrypted:
        # Many PDFs are encrypted with an empty user password just to restrict printing or copying: those
        # open (RC4 and AES alike; AES needs the cryptography package, a dependency of Lastmile).
        try:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except (DependencyError, NotImplementedError) as exc:
            log.warning("cannot decrypt %r: %s", filename, exc)
            raise IngestError(
                f"{name}: this PDF is encrypted in a way Lastmile cannot open. Save it without a password "
                "(or print it to a new PDF) and upload again."
            ) from exc
        except READ_ERRORS as exc:
            raise _damaged(name) from exc
        if not opened:
            raise IngestError(
                f"{name}: this PDF is password-protected: save it without a password and upload again."
            )
    return reader


def _title(reader: PdfReader) -> str:
    """The title in the PDF's metadata, unless it is missing or just a file name."""
    try:
        title = clean_title(str((reader.metadata or {}).get("/Title") or ""))
    except READ_ERRORS:
        return ""
    return "" if NOT_A_TITLE.search(title) else title


def _outline_sections(reader: PdfReader, pages: list[str]) -> list[Section] | None:
    """Sections from the PDF's top-level bookmarks (page ranges), or None when it has none usable."""
    try:
        starts: dict[int, str] = {}
        for item in reader.outline:
            if isinstance(item, list):
                continue  # nested bookmarks: only the top level splits the report
            page = reader.get_destination_page_number(item)
            title = clean_title(str(item.title or ""))
            if page is not None and 0 <= page < len(pages) and title:
                starts.setdefault(page, title)
    except READ_ERRORS:
        return None
    if len(starts) < 2:
        return None
    ordered = sorted(starts.items())
    sections = [Section(None, "\n\n".join(pages[: ordered[0][0]]))]
    for (start, title), following in zip(ordered, [*ordered[1:], None], strict=True):
        end = following[0] if following else len(pages)
        sections.append(Section(title, "\n\n".join(pages[start:end])))
    return sections


def _declared_pages(reader: PdfReader) -> int:
    """The page count the PDF declares (0 when unreadable); it may lie, so it is only used to refuse."""
    try:
        return int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except (*READ_ERRORS, OverflowError):
        return 0


def _too_many_pages(name: str, count: int, limits: Limits) -> IngestError:
    """The error for a PDF over the page limit."""
    return IngestError(
        f"{name} has {count:,} pages; Lastmile reads PDFs of up to {limits.max_pdf_pages:,} pages. "
        "Split it into smaller PDFs (for example one per chapter) and upload those."
    )


def parse_pdf(filename: str, data: bytes, limits: Limits) -> ParsedFile:
    """A PDF as a report: the text of its pages; split by top-level bookmarks when long."""
    name = display_name(filename)
    reader = _open(filename, data)
    # Walking a page tree of 100,000 pages takes pypdf half a minute: the declared count refuses it first.
    declared = _declared_pages(reader)
    if declared > limits.max_pdf_pages:
        raise _too_many_pages(name, declared, limits)
    try:
        count = len(reader.pages)
    except READ_ERRORS as exc:
        raise _damaged(name) from exc
    if count == 0:
        raise _damaged(name)
    if count > limits.max_pdf_pages:
        raise _too_many_pages(name, count, limits)
    pages: list[str] = []
    unreadable: list[int] = []
    for number in range(count):
        try:
            text = reader.pages[number].extract_text() or ""
        except READ_ERRORS:
            text, unreadable = "", [*unreadable, number + 1]
        pages.append(CONTROL.sub("", text).strip())
    if len(unreadable) == count:
        raise _damaged(name)
    # Running headers, page numbers and the table of contents go first: they are recognised by lines.
    # A PDF that is nothing but those (a contents page on its own) keeps them rather than come out empty.
    cleaned = clean_pages(pages)
    is_word = report_fit(limits).counter.is_word
    pages = [clean_text(page, is_word) for page in (cleaned if any(cleaned) else pages)]
    text = "\n\n".join(page for page in pages if page)
    if not text.strip():
        raise IngestError(
            f"{name} contains only images (is it a scan?); Lastmile can't read scanned documents yet. "
            "Upload the original document (Word or text), or a PDF exported from it."
        )
    check_line_chars(filename, text, limits.max_line_chars)
    warnings = []
    if unreadable:
        listed = ", ".join(map(str, unreadable[:MAX_LISTED_PAGES]))
        more = f" and {len(unreadable) - MAX_LISTED_PAGES} more" if len(unreadable) > MAX_LISTED_PAGES else ""
        warnings.append(
            f"Page(s) {listed}{more} could not be read and were left out; check the examples, or "
            "re-export the PDF from the original program."
        )
    title = _title(reader) or first_line_title(text, filename)
    return report_file(
        filename, data, "pdf", title, text, limits, warnings, sections=_outline_sections(reader, pages)
    )
