"""Word and PDF reports: structure to markdown, titles, section splits, and hostile documents."""

import io
import zipfile

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from fpdf import FPDF
from fpdf.enums import EncryptionMethod

from app.ingest.registry import parse_file
from app.ingest.types import ParsedFile
from tests import hostile_files as hostile
from tests.hostile_files import small_limits

DOCTYPE_REFUSAL = (
    "contains XML declarations (DOCTYPE/ENTITY) that Word never writes; it may have been tampered with. "
    "Open it in Word, save it again as .docx and upload the new copy."
)


def one(filename: str, data: bytes, **limits: int) -> ParsedFile:
    """The single ParsedFile a document gives."""
    parsed = parse_file(filename, data, small_limits(**limits))
    assert len(parsed) == 1
    return parsed[0]


def save(document: docx.document.Document) -> bytes:
    """A python-docx document as .docx bytes."""
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def structured_docx(core_title: str = "") -> bytes:
    """A report with a title, headings, a list and a table."""
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_paragraph("Client Review", style="Title")
    document.add_paragraph("Prepared for the board.")
    document.add_heading("Findings", 1)
    document.add_paragraph("Costs fell.", style="List Bullet")
    document.add_paragraph("Sales rose.", style="List Bullet")
    document.add_heading("Detail", 2)
    table = document.add_table(rows=2, cols=2)
    for (row, col), text in {(0, 0): "Region", (0, 1): "Sales | net", (1, 0): "North", (1, 1): "12"}.items():
        table.cell(row, col).text = text
    return save(document)


def test_docx_structure_becomes_markdown() -> None:
    """.docx structure becomes markdown."""
    parsed = one("review.docx", structured_docx())
    assert parsed.error is None and parsed.format == "docx"
    [example] = parsed.examples
    assert example.kind == "draft"
    assert example.instruction == "Write the report: Client Review"
    assert example.output == (
        "# Client Review\n\nPrepared for the board.\n\n# Findings\n\n- Costs fell.\n- Sales rose.\n\n"
        "## Detail\n\n| Region | Sales \\| net |\n| --- | --- |\n| North | 12 |"
    )


def test_docx_core_title_comes_first() -> None:
    """.docx core title comes first."""
    [example] = one("review.docx", structured_docx(core_title="Q3 Client Review")).examples
    assert example.instruction == "Write the report: Q3 Client Review"


def test_long_docx_is_split_by_top_level_heading() -> None:
    """A .docx too long for the model is split by top-level heading."""
    document = docx.Document()
    document.add_paragraph("Field Guide", style="Title")
    for heading in ("Setup", "Operation"):
        document.add_heading(heading, 1)
        document.add_paragraph(f"{heading} step. " * 150)
        document.add_heading(f"{heading} notes", 2)
        document.add_paragraph("A note.")
    parsed = one("guide.docx", save(document), context_tokens=700)
    assert [e.source_ref for e in parsed.examples] == ["section: Setup", "section: Operation"]
    setup = parsed.examples[0]
    assert setup.instruction == "Write the section 'Setup' of the report: Field Guide"
    assert setup.output == ("Setup step. " * 150).strip() + "\n\n## Setup notes\n\nA note."


def test_docx_zip_bomb_is_refused_before_parsing() -> None:
    """.docx zip bomb is refused before parsing."""
    parsed = one(*hostile.docx_bomb())
    assert parsed.error == (
        "bomb.docx cannot be opened safely: 'word/document.xml' expands more than 100 times its packed size. "
        "This is how 'zip bombs' look. Unpack it on your computer, check its contents and upload the files "
        "you need instead."
    )


def test_docx_with_doctype_or_entities_is_refused() -> None:
    """.docx with doctype or entities is refused."""
    for filename, data in (hostile.docx_doctype(), hostile.docx_doctype_utf16()):
        assert one(filename, data).error == f"{filename} {DOCTYPE_REFUSAL}"


def test_docx_with_pictures_holding_markup_bytes_is_read() -> None:
    """.docx with pictures holding markup bytes is read."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<!DOCTYPE not-xml> <!ENTITY x>")
    picture = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 90, 200)).save(picture, format="PNG", pnginfo=info)
    document = docx.Document()
    document.add_paragraph("Site visit")
    document.add_picture(picture)
    document.add_paragraph("The roof is sound.")
    [example] = one("visit.docx", save(document)).examples
    assert example.output == "Site visit\n\nThe roof is sound."


def test_docx_with_macros_is_refused() -> None:
    """.docx with macros is refused."""
    message = (
        "macro.docx contains macros, which Lastmile does not accept. Save it in Word as a plain 'Word "
        "Document (.docx)' (without macros) and upload that."
    )
    assert one(*hostile.docx_macro()).error == message
    assert one("macro.docm", hostile.docx_bytes()).error.startswith(
        "macro.docm is a Word document with macros"
    )


def test_files_that_are_not_word_documents_are_refused() -> None:
    """Files that are not Word documents are refused."""
    assert one("old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)).error.startswith(
        "old.docx is an old-style Word file (.doc) or a password-protected document."
    )
    assert one("text.docx", b"Just text").error.startswith("text.docx is not a Word document, even though")
    assert one("report.docx", hostile.pdf_bytes(["x"])).error.startswith(
        "report.docx is not a Word document (it looks like a PDF document), even though its name ends "
    )
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("content.xml", "<x/>")
    assert one("odt.docx", other.getvalue()).error.startswith(
        "odt.docx is not a Word document (it is another kind of zip file renamed to .docx)."
    )
    truncated = hostile.docx_bytes()[:-200]
    assert one("cut.docx", truncated).error.startswith("cut.docx is damaged")


def test_pdf_text_and_metadata_title() -> None:
    """A PDF gives its text, titled from its metadata."""
    parsed = one(
        "memo.pdf", hostile.pdf_bytes(["Memo\n\nThe office moves in May.", "Page two."], title="Office Move")
    )
    assert parsed.error is None and parsed.format == "pdf"
    [example] = parsed.examples
    assert example.instruction == "Write the report: Office Move"
    assert example.output == "Memo\nThe office moves in May.\n\nPage two."


def test_pdf_without_metadata_title_uses_its_first_line() -> None:
    """PDF without metadata title uses its first line."""
    [example] = one("memo.pdf", hostile.pdf_bytes(["Memo on parking\n\nUse level 2."])).examples
    assert example.instruction == "Write the report: Memo on parking"
    # A title that is just the exported file's name is ignored.
    [example] = one(
        "memo.pdf", hostile.pdf_bytes(["Parking memo"], title="Microsoft Word - memo.docx")
    ).examples
    assert example.instruction == "Write the report: Parking memo"


def test_long_pdf_is_split_by_its_top_level_bookmarks() -> None:
    """A PDF too long for the model is split by its top-level bookmarks."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for chapter in ("Safety", "Maintenance"):
        pdf.add_page()
        pdf.start_section(chapter)
        pdf.multi_cell(0, 5, f"{chapter} rule. " * 200)
    parsed = one("manual.pdf", bytes(pdf.output()), context_tokens=1100)
    assert [e.source_ref for e in parsed.examples] == ["section: Safety", "section: Maintenance"]
    assert parsed.examples[1].instruction.startswith("Write the section 'Maintenance' of the report: ")
    assert "Maintenance rule." in parsed.examples[1].output and "Safety" not in parsed.examples[1].output


def test_pdf_with_a_broken_xref_is_recovered() -> None:
    """PDF with a broken xref is recovered."""
    parsed = one(*hostile.pdf_broken_xref())
    assert parsed.error is None
    assert parsed.examples[0].output == "Recovered report\nThe xref table of this file is broken."


def test_damaged_encrypted_scanned_and_long_pdfs_are_refused() -> None:
    """Damaged, encrypted, scanned and over-long PDFs are refused."""
    assert one(*hostile.pdf_damaged()).error == (
        "damaged.pdf is damaged and cannot be read. Re-export it as PDF from the original program (or use "
        "'Print to PDF') and upload the new file."
    )
    assert one(*hostile.pdf_encrypted()).error == (
        "locked.pdf: this PDF is password-protected: save it without a password and upload again."
    )
    assert one(*hostile.pdf_images_only()).error == (
        "scan.pdf contains only images (is it a scan?); Lastmile can't read scanned documents yet. Upload "
        "the original document (Word or text), or a PDF exported from it."
    )
    assert one(*hostile.pdf_many_pages()).error == (
        "long.pdf has 21 pages; Lastmile reads PDFs of up to 20 pages. Split it into smaller PDFs (for "
        "example one per chapter) and upload those."
    )
    assert one("fake.pdf", b"Hello, not a PDF").error.startswith("fake.pdf is not a PDF file, even though")
    assert one("photo.pdf", b"\x89PNG\r\n\x1a\n" + bytes(100)).error == (
        "photo.pdf is not a PDF file (it looks like a PNG image), even though its name ends in .pdf. Open "
        "the original document and save or export it as PDF, then upload it again."
    )


def test_a_pdf_with_only_an_owner_password_opens() -> None:
    """A PDF with only an owner password opens."""
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-only")
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Printable report")
    [example] = one("restricted.pdf", bytes(pdf.output())).examples
    assert example.output == "Printable report"


def tracked_changes_docx() -> bytes:
    """A report whose paragraph holds a tracked insertion, a tracked deletion and a hyperlink field code."""
    document = docx.Document()
    paragraph = document.add_paragraph("Lorem ipsum ")
    w = nsdecls("w")
    for xml in (
        f'<w:ins {w} w:id="1" w:author="Ann"><w:r><w:t xml:space="preserve">dolor </w:t></w:r></w:ins>',
        f'<w:del {w} w:id="2" w:author="Ann"><w:r><w:delText>sit amet </w:delText></w:r></w:del>',
        f'<w:r {w}><w:instrText xml:space="preserve"> HYPERLINK "https://example.com" </w:instrText></w:r>',
        f'<w:r {w}><w:t xml:space="preserve">consectetuer.</w:t></w:r>',
    ):
        paragraph._p.append(parse_xml(xml))
    document.add_paragraph("A paragraph that was never changed.")
    return save(document)


def test_docx_tracked_changes_read_as_accepted() -> None:
    """Insertions are read, deletions and field codes are not: the text as it reads once accepted."""
    [example] = one("changes.docx", tracked_changes_docx()).examples
    assert example.output == "Lorem ipsum dolor consectetuer.\n\nA paragraph that was never changed."


def test_docx_content_controls_are_read_and_word_tables_of_contents_dropped() -> None:
    """Text in a content control counts; Word's table of contents (a TOC control or TOC styles) does not."""
    document = docx.Document()
    document.styles.add_style("TOC 1", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("Findings ..... 2", style="TOC 1")
    body = document.element.body
    w = nsdecls("w")
    body.insert(
        len(body) - 1,
        parse_xml(
            f'<w:sdt {w}><w:sdtPr><w:docPartObj><w:docPartGallery w:val="Table of Contents"/></w:docPartObj>'
            "</w:sdtPr><w:sdtContent><w:p><w:r><w:t>Contents</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        ),
    )
    body.insert(
        len(body) - 1,
        parse_xml(
            f"<w:sdt {w}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Client: Brightwater</w:t></w:r></w:p>"
            "</w:sdtContent></w:sdt>"
        ),
    )
    document.add_paragraph("Costs fell.")
    [example] = one("controls.docx", save(document)).examples
    assert example.output == "Client: Brightwater\n\nCosts fell."


def strict_ooxml(data: bytes) -> bytes:
    """A .docx rewritten the way Word saves 'Strict Open XML Document' (purl.oclc.org namespaces)."""
    transitional = b"http://schemas.openxmlformats.org/"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            for area in (b"wordprocessingml", b"officeDocument", b"drawingml"):
                content = content.replace(
                    transitional + area + b"/2006/", b"http://purl.oclc.org/ooxml/" + area + b"/"
                )
            target.writestr(info, content)
    return out.getvalue()


def test_strict_open_xml_is_read_instead_of_called_damaged() -> None:
    """A Strict Open XML document reads like any other, headings and lists included."""
    strict = strict_ooxml(structured_docx())
    with zipfile.ZipFile(io.BytesIO(strict)) as package:
        assert b"purl.oclc.org/ooxml/wordprocessingml/main" in package.read("word/document.xml")
    parsed = one("strict.docx", strict)
    assert parsed.error is None
    assert parsed.examples[0].output == one("review.docx", structured_docx()).examples[0].output


def encrypted_pdf(method: EncryptionMethod, user_password: str | None) -> bytes:
    """A one-page PDF encrypted with `method`, an owner password and `user_password` (None: empty)."""
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password=user_password, encryption_method=method)
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Quarterly report\nRevenue rose by ten percent.")
    return bytes(pdf.output())


def test_aes_encrypted_pdfs_without_a_user_password_are_read() -> None:
    """AES-128 and AES-256 PDFs that open without a password are read (they failed with an internal error)."""
    for method in (EncryptionMethod.AES_128, EncryptionMethod.AES_256, EncryptionMethod.RC4):
        parsed = one("restricted.pdf", encrypted_pdf(method, None))
        assert parsed.error is None, (method, parsed.error)
        assert parsed.examples[0].output == "Quarterly report\nRevenue rose by ten percent."


def test_pdfs_with_a_user_password_are_refused_with_advice() -> None:
    """A PDF that needs a password to open is refused with the file's name and what to do."""
    for method in (EncryptionMethod.AES_128, EncryptionMethod.AES_256, EncryptionMethod.RC4):
        assert one("locked.pdf", encrypted_pdf(method, "open-sesame")).error == (
            "locked.pdf: this PDF is password-protected: save it without a password and upload again."
        )


def test_pdf_hyphenation_ligature_free_text_and_page_furniture() -> None:
    """A report typeset with hyphenated line ends and page numbers reads as plain running text."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for number in (1, 2, 3):
        pdf.add_page()
        text = f"Brightwater Logistics - monthly report\nThe fi-\nnancial result of month {number}\n"
        pdf.multi_cell(0, 6, text + f"was a well-\nknown success in month {number}.\n{number}")
    [example] = one("monthly.pdf", bytes(pdf.output())).examples
    assert example.output.count("Brightwater Logistics - monthly report") == 1  # running header, kept once
    assert "The financial result of month 2" in example.output and "fi-" not in example.output
    assert "well-known success in month 2." in example.output
    assert "\n3\n" not in example.output and not example.output.endswith("3")  # page numbers dropped
