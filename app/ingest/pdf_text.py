"""PDF page text made fit to learn from: ligatures, hyphenation, contents pages, page furniture.

Typesetting leaves marks in extracted text that a person reading the page never sees: ligature glyphs
("ﬁ" for "fi"), words hyphenated at a line end, the table of contents with its dot leaders, and running
headers, footers and page numbers. These functions remove them, page by page, before a PDF becomes a
report.
"""

import re
from collections import Counter

# Latin ligatures (U+FB00–FB06) and what they stand for.
LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st", "Ꜳ": "AA", "ꜳ": "aa"}
)
SOFT_HYPHEN = "\u00ad"
# A line ending in a hyphen (or soft hyphen) before a lower-case letter: a word may be broken there.
HYPHEN_BREAK = re.compile(r"(?<=\w)([-\u00ad\u2010])[ \t]*\n[ \t]*(?=[a-zà-öø-ÿ])")
# The word parts around a break, looked for in a bounded window so a huge "word" costs nothing extra.
WORD_BEFORE = re.compile(r"\w+(?:-\w+)*$")
WORD_AFTER = re.compile(r"\w+")
WORD_WINDOW = 64
WORD = re.compile(r"\w+(?:-\w+)*")
# First parts of compounds written with a hyphen ("self-contained", "well-known"); kept at a line end
# unless the document itself writes the joined word. Prefixes that also start plain words ("re", "pre",
# "part") are left out: "re-\nsearch" is a broken word far more often than a compound.
COMPOUND_FIRST = frozenset({"self", "non", "well", "half", "cross", "all"})
# A table of contents: its heading, and entries that end in dot leaders and a page number.
CONTENTS_HEADING = re.compile(
    r"^\s*(table of contents|contents|inhaltsverzeichnis|inhalt|table des mati[eè]res|sommaire|"
    r"[ií]ndice|inhoud(sopgave)?|innehåll|indholdsfortegnelse|spis treści|sisällys(luettelo)?)\s*$",
    re.IGNORECASE,
)
DOT_LEADER_ENTRY = re.compile(r"\w.*?(?:[.·•…_][ \t]*){4,}(\d{1,4}|[ivx]{1,5})[ \t]*$", re.IGNORECASE)
ENDS_IN_PAGE_NUMBER = re.compile(r"\s(\d{1,4}|[ivx]{1,5})[ \t]*$", re.IGNORECASE)
PAGE_NUMBER_LINE = re.compile(
    r"[ \t]*(?:(?:page|seite|pagina|página|p\.)[ \t]*)?[-–—]?[ \t]*(\d{1,4}|[ivx]{1,5})[ \t]*"
    r"(?:(?:/|of|von|de|di)[ \t]*\d{1,4})?[ \t]*[-–—]?[ \t]*$",
    re.IGNORECASE,
)
# Lines longer than this are never page furniture or contents entries (and are not scanned for them).
MAX_FURNITURE_CHARS = 300
# A line that appears at the top or bottom of at least this share of pages is a running header/footer.
RUNNING_SHARE = 0.5
MIN_PAGES_FOR_RUNNING = 3
EDGE_LINES = 2  # lines at the top and at the bottom of a page where headers and footers sit


def clean_pages(pages: list[str]) -> list[str]:
    """The pages' text without running headers/footers, page numbers and table-of-contents entries."""
    lines = [page.split("\n") for page in pages]
    running = _running_lines(lines)
    cleaned = []
    for number, page in enumerate(lines):
        # The first page's top holds the title, which running headers often repeat: it stays.
        kept = _without_edges(page, running, top=number > 0)
        cleaned.append("\n".join(_without_contents(kept)).strip())
    return cleaned


def clean_text(text: str) -> str:
    """Ligatures spelled out and words hyphenated at line ends joined again."""
    return join_hyphenated(text.translate(LIGATURES))


def join_hyphenated(text: str) -> str:
    """Join words broken at a line end ("fi-\\nnancial" → "financial"), keeping real compounds' hyphens.

    A soft hyphen always joins. A hard hyphen joins unless the document writes the hyphenated
    compound elsewhere on one line and never the joined word, or its first part usually starts a
    compound ("well-", "self-", "non-") and the joined word appears nowhere else.
    """
    words = Counter(match.group(0).lower() for match in WORD.finditer(text))
    out: list[str] = []
    done = 0
    for match in HYPHEN_BREAK.finditer(text):
        before = WORD_BEFORE.search(text, max(0, match.start() - WORD_WINDOW), match.start())
        after = WORD_AFTER.match(text, match.end(), match.end() + WORD_WINDOW)
        if before is None or after is None:
            continue
        out.append(text[done : match.start()])
        out.append(_joined(before.group(0), match.group(1), after.group(0), words))
        done = match.end()
    out.append(text[done:])
    return "".join(out).replace(SOFT_HYPHEN, "")


def _joined(first: str, hyphen: str, rest: str, words: Counter[str]) -> str:
    """What goes between `first` and `rest` broken at a line end: nothing (one word) or a hyphen."""
    if hyphen == SOFT_HYPHEN or words[(first + rest).lower()]:
        return ""
    last = first.rsplit("-", 1)[-1]
    if "-" in first or words[f"{first}-{rest}".lower()] or last.lower() in COMPOUND_FIRST:
        return "-"
    # "e-mail", "x-ray", "3-fold": a single letter or a number before the hyphen starts a compound.
    return "-" if len(last) == 1 or last[-1].isdigit() else ""


def _normalised_edge(line: str) -> str:
    """A header/footer line compared across pages: numbers (page numbers, dates) blanked, spaces folded."""
    return " ".join(re.sub(r"\d+|\b[ivx]{1,5}\b", "#", line.strip(), flags=re.IGNORECASE).split())


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines (normalised) at the top or bottom of at least half the pages: running headers and footers."""
    if len(pages) < MIN_PAGES_FOR_RUNNING:
        return set()
    seen: Counter[str] = Counter()
    for page in pages:
        edge = [line for line in page if line.strip()]
        ends = edge[:EDGE_LINES] + edge[-EDGE_LINES:]
        seen.update({_normalised_edge(line) for line in ends if len(line) <= MAX_FURNITURE_CHARS})
    return {
        line
        for line, count in seen.items()
        if line and line != "#" and count >= max(MIN_PAGES_FOR_RUNNING, RUNNING_SHARE * len(pages))
    }


def _without_edges(page: list[str], running: set[str], top: bool) -> list[str]:
    """A page's lines without page numbers and running headers/footers at its top (when `top`) and bottom."""
    start, end = 0, len(page)

    def furniture(line: str, running: set[str]) -> bool:
        if len(line) > MAX_FURNITURE_CHARS:
            return False
        return bool(PAGE_NUMBER_LINE.match(line)) or _normalised_edge(line) in running

    for _ in range(EDGE_LINES + 1):
        while start < end and not page[start].strip():
            start += 1
        if start < end and furniture(page[start], running if top else set()):
            start += 1
    for _ in range(EDGE_LINES + 1):
        while end > start and not page[end - 1].strip():
            end -= 1
        if end > start and furniture(page[end - 1], running):
            end -= 1
    return page[start:end]


def _contents_entry(line: str) -> bool:
    """A table-of-contents line with dot leaders and a page number."""
    return len(line) <= MAX_FURNITURE_CHARS and bool(DOT_LEADER_ENTRY.match(line.strip()))


def _ends_in_page_number(line: str) -> bool:
    """A short line ending in a number, as contents entries without dot leaders do."""
    return len(line) <= MAX_FURNITURE_CHARS and bool(ENDS_IN_PAGE_NUMBER.search(line))


def _without_contents(lines: list[str]) -> list[str]:
    """Lines without table-of-contents entries: dot-leader lines, and a "Contents" heading with the run
    of lines after it that end in page numbers."""
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if CONTENTS_HEADING.match(line):
            following = _contents_run(lines, index + 1)
            if following:
                index += 1 + following
                continue
        if not _contents_entry(line):
            kept.append(line)
        index += 1
    return kept


def _contents_run(lines: list[str], start: int) -> int:
    """How many lines from `start` are contents entries (each, or the next, ending in a page number);
    0 unless there are two, or one with dot leaders."""
    index, entries = start, 0
    while index < len(lines):
        line = lines[index]
        if _contents_entry(line) or _ends_in_page_number(line):
            # A dot-leader entry is sure to be one: it counts twice.
            entries += 2 if _contents_entry(line) else 1
            index += 1
        elif index + 1 < len(lines) and _ends_in_page_number(lines[index + 1]) and len(line) < 80:
            index += 1  # an entry wrapped onto the next line
        else:
            break
    return index - start if entries >= 2 else 0
