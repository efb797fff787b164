"""Reports (docx, pdf, md, txt) to examples: titles, markdown sections, splitting long reports."""

import re
from dataclasses import dataclass

from app.ingest.decoding import file_stem
from app.ingest.types import ExampleDraft, Limits

ATX_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^(=+|-+)[ \t]*$")
FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
MAX_TITLE_CHARS = 120
# Headings end up in source_ref ("section: ...", at most 200 characters in the database).
MAX_HEADING_CHARS = 150


@dataclass
class Heading:
    """A markdown heading: its line index in the text, level (1 = `#`) and text."""

    line: int
    level: int
    text: str
    underlined: bool = False  # a setext heading takes two lines


@dataclass
class Section:
    """A part of a report; `heading` None is the opening text before the first section heading."""

    heading: str | None
    text: str


def clean_title(text: str) -> str:
    """A heading or line made fit for an instruction: no markdown marks, one line, bounded length."""
    text = " ".join(text.replace("#", " ").replace("*", " ").replace("_", " ").split())
    return text if len(text) <= MAX_HEADING_CHARS else text[: MAX_HEADING_CHARS - 1] + "…"


def find_headings(lines: list[str], setext: bool = False) -> list[Heading]:
    """The markdown headings in `lines` (ATX `#`, and setext underlines when `setext`), outside code."""
    headings: list[Heading] = []
    in_fence = False
    for index, line in enumerate(lines):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = ATX_HEADING.match(line)
        if match and clean_title(match.group(2)):
            headings.append(Heading(index, len(match.group(1)), clean_title(match.group(2))))
        elif (
            setext
            and index > 0
            and SETEXT_UNDERLINE.match(line)
            and lines[index - 1].strip()
            and not ATX_HEADING.match(lines[index - 1])
        ):
            level = 1 if line.startswith("=") else 2
            headings.append(Heading(index - 1, level, clean_title(lines[index - 1]), underlined=True))
    return headings


def first_line_title(text: str, filename: str) -> str:
    """The first non-empty line if short enough to be a title, else the file name without extension."""
    for line in text.split("\n", 50)[:50]:
        if line.strip():
            title = clean_title(line)
            if title and len(line.strip()) < MAX_TITLE_CHARS:
                return title
            break
    return clean_title(file_stem(filename)) or "Untitled"


def markdown_title(text: str, filename: str, setext: bool = False) -> str:
    """The first `#` heading (else the first heading of any level), else the first-line title."""
    headings = find_headings(text.split("\n"), setext)
    top = [h for h in headings if h.level == 1] or headings
    return top[0].text if top else first_line_title(text, filename)


def markdown_sections(text: str, title: str, setext: bool = False) -> list[Section]:
    """Split markdown text at its top-level headings; a leading title heading is not a section."""
    lines = text.split("\n")
    headings = find_headings(lines, setext)
    first_text_line = next((i for i, line in enumerate(lines) if line.strip()), 0)
    opening_start = 0
    # The report's own title heading at the top would otherwise make the whole report one section;
    # it is the instruction's title, so the opening starts after it.
    if headings and headings[0].line == first_text_line and headings[0].text == title:
        opening_start = headings[0].line + (2 if headings[0].underlined else 1)
        headings = headings[1:]
    if not headings:
        return [Section(None, text)]
    top = min(h.level for h in headings)
    starts = [h for h in headings if h.level == top]
    sections = [Section(None, "\n".join(lines[opening_start : starts[0].line]))]
    for current, following in zip(starts, [*starts[1:], None], strict=True):
        body_start = current.line + (2 if current.underlined else 1)
        body_end = following.line if following else len(lines)
        sections.append(Section(current.text, "\n".join(lines[body_start:body_end])))
    return sections


def tidy(text: str) -> str:
    """Trailing spaces and runs of blank lines removed; surrounding blank lines stripped."""
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def report_examples(
    title: str, text: str, limits: Limits, sections: list[Section] | None = None, setext: bool = False
) -> tuple[list[ExampleDraft], list[str]]:
    """One example for the report, or one per section when it is longer than `max_example_chars`.

    `sections` defaults to the text's markdown sections (setext underlines count when `setext`).
    A section that is still too long is kept whole with a warning: text is never silently truncated.
    """
    text = tidy(text)
    limit = limits.max_example_chars
    whole = ExampleDraft(instruction=f"Write the report: {title}", output=text)
    if len(text) <= limit:
        return [whole], []
    parts = [
        s for s in (sections if sections is not None else markdown_sections(text, title, setext)) if s.text
    ]
    parts = [Section(s.heading, tidy(s.text)) for s in parts]
    parts = [s for s in parts if s.text and not (s.heading is None and clean_title(s.text) == title)]
    if len(parts) < 2:
        return [whole], [
            f"The report is {len(text):,} characters long, more than the {limit:,} allowed for one example, "
            "and has no section headings to split it by. It was kept whole and will be flagged as too long: "
            "add headings (Heading 1 style) or split the document, then upload it again."
        ]
    examples: list[ExampleDraft] = []
    warnings = [
        f"The report is {len(text):,} characters long (the limit for one example is {limit:,}), so it "
        f"became {len(parts)} examples, one per section."
    ]
    for section in parts:
        if section.heading is None:
            instruction, ref = f"Write the opening of the report: {title}", "section: (opening)"
        else:
            instruction = f"Write the section '{section.heading}' of the report: {title}"
            ref = f"section: {section.heading}"
        if len(section.text) > limit:
            name = f"Section '{section.heading}'" if section.heading else "The opening of the report"
            warnings.append(
                f"{name} is {len(section.text):,} characters long, more than the {limit:,} allowed for one "
                "example. It was kept whole and will be flagged as too long: split it with sub-headings or "
                "shorten it."
            )
        examples.append(ExampleDraft(instruction=instruction, output=section.text, source_ref=ref))
    return examples, warnings
