"""PDF page text made fit to learn from: ligatures, hyphenation, contents pages, page furniture.

Typesetting leaves marks in extracted text that a person reading the page never sees: ligature glyphs
("ﬁ" for "fi"), words hyphenated at a line end, the table of contents with its dot leaders, and running
headers, footers and page numbers. These functions remove them, page by page, before a PDF becomes a
report.
"""

import re
from collections import Counter
from collections.abc import Callable

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
# A page number at the start or end of a running header or footer ("12 Annual Report", "Report 2024 | 12").
EDGE_PAGE_NUMBER = re.compile(
    r"^(\d{1,4}|[ivx]{1,5})\b\s*[|·•–—-]?\s*|\s*[|·•–—-]?\s*\b(\d{1,4}|[ivx]{1,5})$", re.I
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


def clean_text(text: str, is_word: Callable[[str], bool] = lambda word: False) -> str:
    """Ligatures spelled out and words hyphenated at line ends joined (`is_word`: see join_hyphenated)."""
    return join_hyphenated(text.translate(LIGATURES), is_word)


def join_hyphenated(text: str, is_word: Callable[[str], bool] = lambda word: False) -> str:
    """Join words broken at a line end ("fi-\\nnancial" → "financial"), keeping real compounds' hyphens.

    A soft hyphen always joins, and so does a hard one when the joined word is a word: written so
    elsewhere in the document, or known to `is_word` (a lower-case word list, e.g. the model's
    vocabulary). Otherwise the hyphen stays for what looks like a compound: one the document writes
    with its hyphen elsewhere, one of a few usual first parts ("well-", "self-", "non-"), a single
    letter or a number before the hyphen ("e-mail", "3-fold"), or two known words ("mixed-mode").
    Anything else is taken for a word broken by the typesetter, which is by far the common case.
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
        out.append(_joined(before.group(0), match.group(1), after.group(0), words, is_word))
        done = match.end()
    out.append(text[done:])
    return "".join(out).replace(SOFT_HYPHEN, "")


def _joined(first: str, hyphen: str, rest: str, words: Counter[str], is_word: Callable[[str], bool]) -> str:
    """What goes between `first` and `rest` broken at a line end: nothing (one word) or a hyphen."""
    joined = (first + rest).lower()
    if hyphen == SOFT_HYPHEN or words[joined] or is_word(joined):
        return ""
    last = first.rsplit("-", 1)[-1].lower()
    if "-" in first or words[f"{first}-{rest}".lower()] or last in COMPOUND_FIRST:
        return "-"
    if len(last) == 1 or last[-1].isdigit():
        return "-"
    known_parts = len(last) >= 3 and len(rest) >= 3 and is_word(last) and is_word(rest.lower())
    return "-" if known_parts else ""


def _normalised_edge(line: str) -> str:
    """A header/footer line compared across pages: a page number at its start or end left out."""
    return " ".join(EDGE_PAGE_NUMBER.sub("", line.strip()).split())


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines (normalised) at the top or bottom of at least half the pages: running headers and footers."""
    if len(pages) < MIN_PAGES_FOR_RUNNING:
        return set()
    seen: Counter[str] = Counter()
    for page in pages:
        edge = [line for line in page if line.strip() and not _page_number(line)]
        ends = edge[:1] + edge[-1:]  # only the outermost lines: body lines differ only in numbers too
        seen.update({_normalised_edge(line) for line in ends if len(line) <= MAX_FURNITURE_CHARS})
    return {
        line
        for line, count in seen.items()
        if line and count >= max(MIN_PAGES_FOR_RUNNING, RUNNING_SHARE * len(pages))
    }


def _without_edges(page: list[str], running: set[str], top: bool) -> list[str]:
    """A page's lines without page numbers and running headers/footers at its top (when `top`) and bottom."""
    start, end = 0, len(page)

    def furniture(line: str, running: set[str]) -> bool:
        if len(line) > MAX_FURNITURE_CHARS:
            return False
        return _page_number(line) or _normalised_edge(line) in running

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


def _page_number(line: str) -> bool:
    """A line that is only a page number ("7", "- 7 -", "Page 7 of 20", "iii")."""
    return len(line) <= MAX_FURNITURE_CHARS and bool(PAGE_NUMBER_LINE.match(line))


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
