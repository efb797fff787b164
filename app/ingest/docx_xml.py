"""Word XML that python-docx does not read the way a person sees the document.

Tracked changes (the accepted text: insertions in, deletions out), content controls holding body
text, Word's own table of contents, and Strict Open XML packages (purl.oclc.org namespaces), which
python-docx cannot open, rewritten to the Transitional namespaces it knows.
"""

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

# Text of a run's children, by tag; everything not listed adds nothing.
RUN_TEXT = {qn("w:tab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n", qn("w:noBreakHyphen"): "-"}
# Rejected text (deletions, the source of a move), field codes, properties and the old-format copy of
# drawings (mc:Fallback repeats mc:Choice); text boxes are drawings, not the paragraph's own words.
SKIPPED = frozenset(
    {
        qn("w:del"),
        qn("w:moveFrom"),
        qn("w:instrText"),
        qn("w:delText"),
        qn("w:delInstrText"),
        qn("w:pPr"),
        qn("w:rPr"),
        qn("w:txbxContent"),
        "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback",
    }
)
# Word's table of contents: paragraphs in these styles, or a content control from this gallery.
CONTENTS_STYLE = re.compile(r"^toc(\s*\d+|\s+heading)?$", re.IGNORECASE)
CONTENTS_GALLERY = "Table of Contents"
# Strict Open XML namespaces are Transitional ones under another root, with these exceptions.
STRICT_NAMESPACE = re.compile(rb"http://purl\.oclc\.org/ooxml/(\w+)/(\w+)")
STRICT_RENAMED = {b"extendedProperties": b"extended-properties", b"customProperties": b"custom-properties"}
STRICT_MARK = b"http://purl.oclc.org/ooxml/wordprocessingml/main"


def accepted_text(paragraph: Any) -> str:
    """The text of a `w:p` element as it reads with every tracked change accepted."""
    return "".join(_text(paragraph))


def _text(element: Any) -> Iterator[str]:
    """The accepted text under `element`, in document order."""
    for child in element.iterchildren():
        tag = child.tag
        if not isinstance(tag, str) or tag in SKIPPED:
            continue
        if tag == qn("w:t"):
            yield child.text or ""
        elif tag in RUN_TEXT:
            yield RUN_TEXT[tag]
        else:
            # Runs, hyperlinks, insertions, moves, smart tags, inline content controls, simple fields.
            yield from _text(child)


def is_contents_paragraph(style_name: str) -> bool:
    """Whether a paragraph style is one of Word's table-of-contents styles ("TOC 1", "TOC Heading")."""
    return bool(CONTENTS_STYLE.match(style_name.strip()))


def body_items(container: Any, parent: Any) -> Iterator[Paragraph | Table]:
    """The paragraphs and tables of a body (`container` XML, `parent` python-docx object), in order,
    including those inside content controls, except a table-of-contents control."""
    for child in container.iterchildren():
        if child.tag == qn("w:p"):
            yield Paragraph(child, parent)
        elif child.tag == qn("w:tbl"):
            yield Table(child, parent)
        elif child.tag == qn("w:sdt") and not _is_contents_control(child):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                yield from body_items(content, parent)
        elif child.tag in (qn("w:customXml"), qn("w:ins"), qn("w:moveTo")):
            yield from body_items(child, parent)


def _is_contents_control(sdt: Any) -> bool:
    """Whether a block content control is Word's table of contents."""
    gallery = sdt.find(f"{qn('w:sdtPr')}/{qn('w:docPartObj')}/{qn('w:docPartGallery')}")
    return gallery is not None and gallery.get(qn("w:val")) == CONTENTS_GALLERY


def is_strict(document_xml: bytes) -> bool:
    """Whether the main document part is Strict Open XML."""
    return STRICT_MARK in document_xml


def _transitional_name(match: re.Match[bytes]) -> bytes:
    """A Strict namespace (or relationship type) as its Transitional twin."""
    area, name = match.group(1), match.group(2)
    return b"http://schemas.openxmlformats.org/%s/2006/%s" % (area, STRICT_RENAMED.get(name, name))


def transitional_package(package: zipfile.ZipFile) -> bytes:
    """A copy of a Strict Open XML package with Transitional namespaces and relationship types.

    The caller has already checked every part's size (app.ingest.archive), so parts are read whole.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in package.infolist():
            content = package.read(info)
            if info.filename.endswith((".xml", ".rels")):
                content = STRICT_NAMESPACE.sub(_transitional_name, content)
            copy.writestr(info.filename, content)
    return out.getvalue()
