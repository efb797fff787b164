"""Reports (docx, pdf, md, txt) to examples: titles, markdown sections, long ones split to fit the model."""

import re
from dataclasses import dataclass
from pathlib import Path

from app.curation.fitting import Fit, numbered_parts
from app.curation.tokens import get_token_counter
from app.ingest.decoding import file_stem
from app.ingest.types import ExampleDraft, Limits, ParsedFile

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


def report_fit(limits: Limits) -> Fit:
    """How reports are fitted: the default model's context and tokenizer, and the character limit."""
    path = Path(limits.tokenizer_path) if limits.tokenizer_path else None
    return Fit(get_token_counter(path), limits.context_tokens, limits.max_example_chars)


def _report_sections(title: str, text: str, sections: list[Section] | None, setext: bool) -> list[Section]:
    """The report's non-empty sections (markdown ones by default); the whole text when it has none."""
    parts = [
        Section(s.heading, tidy(s.text))
        for s in (sections if sections is not None else markdown_sections(text, title, setext))
    ]
    parts = [s for s in parts if s.text and not (s.heading is None and clean_title(s.text) == title)]
    return parts if len(parts) > 1 else [Section(None, text)]


def report_examples(
    title: str, text: str, limits: Limits, sections: list[Section] | None = None, setext: bool = False
) -> list[ExampleDraft]:
    """One example for the report, or, when it does not fit the model, one per part that does.

    A long report is split at its top-level sections (`sections`, by default its markdown ones), and a
    section still too long at its sub-headings, then paragraphs, lines, sentences: every example fits the
    model's context with its instruction and chat template, and no text is left out.
    """
    text = tidy(text)
    fit = report_fit(limits)
    whole = f"Write the report: {title}"
    if fit.fits(whole, "", text):
        return [ExampleDraft(instruction=whole, output=text)]
    examples: list[ExampleDraft] = []
    parts = _report_sections(title, text, sections, setext)
    for section in parts:
        if section.heading is not None:
            instruction = f"Write the section '{section.heading}' of the report: {title}"
            ref = f"section: {section.heading}"
        elif len(parts) > 1:
            instruction, ref = f"Write the opening of the report: {title}", "section: (opening)"
        else:
            instruction, ref = whole, ""
        examples.extend(numbered_parts(fit, instruction, "", section.text, ref))
    return examples


def report_file(
    filename: str,
    data: bytes,
    fmt: str,
    title: str,
    text: str,
    limits: Limits,
    warnings: list[str],
    sections: list[Section] | None = None,
    setext: bool = False,
) -> ParsedFile:
    """The ParsedFile of a report: its examples (split to fit the model when needed) and `warnings`."""
    examples = report_examples(title, text, limits, sections, setext)
    parts = len(examples) if len(examples) > 1 else 0
    return ParsedFile(filename, data, fmt, examples=examples, warnings=warnings, report_parts=parts)
