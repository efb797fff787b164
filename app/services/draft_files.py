"""A finished draft as a file to download: plain text, Markdown, or a Word document."""

import io
import re
from dataclasses import dataclass

from docx import Document as WordDocument

from app.review_models import Generation
from app.services.workspaces import slugify

HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
BULLET = re.compile(r"^\s*[-*•]\s+(.*)$")
NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
# Markdown emphasis markers dropped from Word text (the words stay).
EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
# Characters XML (and so a .docx) cannot hold; a model can still write them.
NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class DraftFile:
    """One download: its bytes, media type and a safe file name."""

    content: bytes
    media_type: str
    filename: str


FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def word_document(text: str) -> bytes:
    """The draft as a .docx: Markdown headings and list items become Word headings and lists."""
    document = WordDocument()
    paragraph_lines: list[str] = []

    def flush() -> None:
        if paragraph_lines:
            document.add_paragraph(EMPHASIS.sub("", "\n".join(paragraph_lines)))
            paragraph_lines.clear()

    for line in NOT_XML.sub("", text).splitlines():
        heading, bullet, numbered = HEADING.match(line), BULLET.match(line), NUMBERED.match(line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            document.add_heading(EMPHASIS.sub("", heading.group(2)), level=min(len(heading.group(1)), 4))
        elif bullet or numbered:
            flush()
            item = (bullet or numbered).group(1)  # type: ignore[union-attr]
            document.add_paragraph(EMPHASIS.sub("", item), style="List Bullet" if bullet else "List Number")
        else:
            paragraph_lines.append(line)
    flush()
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def draft_file(generation: Generation, fmt: str) -> DraftFile:
    """The generation's output as a `fmt` file (txt, md or docx); ValueError for another format."""
    if fmt not in FORMATS:
        raise ValueError(f"Choose one of {', '.join(FORMATS)}.")
    text = (generation.output or "").strip() + "\n"
    brief = generation.messages[-1]["content"] if generation.messages else ""
    stem = slugify(f"draft {generation.id} {' '.join(brief.split()[:8])}")
    content = word_document(text) if fmt == "docx" else text.encode("utf-8")
    return DraftFile(content, FORMATS[fmt], f"{stem}.{fmt}")
