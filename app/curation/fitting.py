"""Fitting long texts into a model's context: split at headings, then paragraphs, lines, sentences, words.

Used when a report is read (app.ingest.reports) and by the examples page's Split action: both cut a text
into consecutive parts whose examples, rendered with the model's chat template, fit its context.
"""

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from app.curation.tokens import TokenCounter, prompt_text
from app.ingest.types import ExampleDraft

# Tokens kept free besides the counted ones: text tokenised in pieces can come out a token or two
# longer once joined, and the chat template is measured with empty messages.
FIT_MARGIN = 16
# Pieces of a text, coarsest first: markdown headings by level, paragraphs, lines, sentences, words.
HEADING_LEVELS = 6
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)")
SPACE = re.compile(r"\s+(?=\S)")
PART_SUFFIX = " (part {} of {})"


@dataclass(frozen=True)
class Fit:
    """A model's context and how to count its tokens: decides what fits and how long an answer may be."""

    counter: TokenCounter
    context_tokens: int
    max_chars: int  # the per-example character limit, a hard safety limit beside the tokens

    def tokens(self, instruction: str, input: str, output: str) -> int:
        """The example's tokens as training renders it (chat template included)."""
        return self.counter.rendered([(instruction, input, output)])[0]

    def fits(self, instruction: str, input: str, output: str) -> bool:
        """Whether the example fits the context (with the margin) and the character limit."""
        if len(output) > self.max_chars:
            return False
        # Byte-level tokenizers never make more tokens than bytes: a short text fits without counting.
        size = len(prompt_text(instruction, input).encode()) + len(output.encode())
        if size + self.counter.template_tokens + FIT_MARGIN <= self.context_tokens:
            return True
        return self.tokens(instruction, input, output) + FIT_MARGIN <= self.context_tokens

    def answer_budget(self, instruction: str, input: str = "") -> int:
        """Tokens left for the answer once the prompt, the chat template and the margin are counted."""
        prompt = self.counter.count([prompt_text(instruction, input)])[0]
        return self.context_tokens - prompt - self.counter.template_tokens - FIT_MARGIN

    def split(self, text: str, budget: int) -> list[str]:
        """`text` cut into consecutive parts of at most `budget` tokens and `max_chars` characters each."""
        return split_text(text, budget, self.counter, self.max_chars)


def numbered_parts(fit: Fit, instruction: str, input: str, output: str, ref: str) -> list[ExampleDraft]:
    """`output` split into parts that fit with `instruction` and `input`: "(part 2 of 3)" added to the
    instruction and ", part 2 of 3" to the source reference `ref` when there are several."""
    budget = fit.answer_budget(instruction + PART_SUFFIX.format(999, 999), input)
    pieces = fit.split(output, budget)
    if len(pieces) < 2:
        return [ExampleDraft(instruction=instruction, input=input, output=output, source_ref=ref or None)]
    return [
        ExampleDraft(
            instruction=instruction + PART_SUFFIX.format(number, len(pieces)),
            input=input,
            output=piece,
            source_ref=(f"{ref}, " if ref else "") + f"part {number} of {len(pieces)}",
        )
        for number, piece in enumerate(pieces, start=1)
    ]


def _heading_splitter(level: int) -> Callable[[str], list[str]]:
    """Splits a markdown text before each heading of exactly `level` (outside fenced code)."""
    heading = re.compile(rf"#{{{level}}}[ \t]")

    def pieces(text: str) -> list[str]:
        lines = text.split("\n")
        starts, fenced = [0], False
        for index, line in enumerate(lines):
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif index and not fenced and heading.match(line):
                starts.append(index)
        bounds = [*starts, len(lines)]
        # Each piece but the last keeps its line break, so the pieces joined are the text.
        return [
            "\n".join(lines[a:b]) + ("\n" if b < len(lines) else "") for a, b in itertools.pairwise(bounds)
        ]

    return pieces


def _pattern_splitter(pattern: re.Pattern[str]) -> Callable[[str], list[str]]:
    """Splits a text after each match of `pattern`, keeping the matched separator with the piece before."""

    def pieces(text: str) -> list[str]:
        cuts = [match.end() for match in pattern.finditer(text)]
        bounds = [0, *cuts, len(text)]
        return [text[a:b] for a, b in itertools.pairwise(bounds) if a < b]

    return pieces


# Each splitter keeps every character: the pieces joined again are the text.
SPLITTERS: list[Callable[[str], list[str]]] = [
    *(_heading_splitter(level) for level in range(1, HEADING_LEVELS + 1)),
    _pattern_splitter(re.compile(r"\n[ \t]*\n\s*")),  # paragraphs
    _pattern_splitter(re.compile(r"\n")),  # lines
    _pattern_splitter(SENTENCE_END),
    _pattern_splitter(SPACE),  # words
]


def _hard_cut(text: str, budget: int, counter: TokenCounter, max_chars: int) -> list[str]:
    """A text with no place to split (one enormous word) cut by characters, in about-right sizes."""
    tokens = max(counter.count([text])[0], 1)
    size = max(1, min(max_chars, math.floor(len(text) * budget / tokens * 0.9)))
    return [text[start : start + size] for start in range(0, len(text), size)]


def split_text(text: str, budget: int, counter: TokenCounter, max_chars: int) -> list[str]:
    """`text` as consecutive parts of at most `budget` tokens and `max_chars` characters, cut at the
    coarsest boundary that works (headings, then paragraphs, lines, sentences, words); parts stripped."""
    budget = max(budget, 1)
    return [part.strip() for part in _split(text, budget, counter, max_chars, 0) if part.strip()]


def _split(text: str, budget: int, counter: TokenCounter, max_chars: int, level: int) -> list[str]:
    """Parts of `text` that fit, trying splitters from `level` on; the parts joined are the text."""
    if len(text) <= max_chars and counter.count([text])[0] <= budget:
        return [text]
    for index in range(level, len(SPLITTERS)):
        pieces = SPLITTERS[index](text)
        if len(pieces) > 1:
            break
    else:
        return _hard_cut(text, budget, counter, max_chars)
    counts = counter.count(pieces)
    fitted: list[tuple[str, int]] = []
    for piece, count in zip(pieces, counts, strict=True):
        if count <= budget and len(piece) <= max_chars:
            fitted.append((piece, count))
        else:
            fitted.extend((part, -1) for part in _split(piece, budget, counter, max_chars, index + 1))
    return _pack(fitted, budget, counter, max_chars)


def _pack(pieces: list[tuple[str, int]], budget: int, counter: TokenCounter, max_chars: int) -> list[str]:
    """Consecutive pieces joined greedily into parts of at most `budget` tokens (counts of -1 are counted)."""
    missing = [piece for piece, count in pieces if count < 0]
    counted = iter(counter.count(missing))
    sized = [(piece, count if count >= 0 else next(counted)) for piece, count in pieces]
    groups: list[list[str]] = []
    total, chars = 0, 0
    # Pieces counted apart add up to more tokens than they make joined (a sentence's trailing space is a
    # token of its own): the sums are scaled by the shrink measured on the parts made so far.
    shrink = 1.0
    for piece, count in sized:
        if groups and (total + count) * shrink <= budget and chars + len(piece) <= max_chars:
            groups[-1].append(piece)
            total, chars = total + count, chars + len(piece)
            continue
        if groups and total:
            shrink = min(1.0, max(0.5, counter.count(["".join(groups[-1])])[0] / total))
        groups.append([piece])
        total, chars = count, len(piece)
    # Pieces can tokenise a little longer once joined: a part over the budget gives its last piece away.
    index = 0
    while index < len(groups):
        group = groups[index]
        if len(group) > 1 and counter.count(["".join(group)])[0] > budget:
            groups.insert(index + 1, [group.pop()])
            if len(groups) > index + 2 and _joinable(groups, index + 1, budget, counter, max_chars):
                groups[index + 1].extend(groups.pop(index + 2))
            continue
        index += 1
    return ["".join(group) for group in groups]


def _joinable(
    groups: list[list[str]], index: int, budget: int, counter: TokenCounter, max_chars: int
) -> bool:
    """Whether group `index` and the next one fit together."""
    joined = "".join(groups[index] + groups[index + 1])
    return len(joined) <= max_chars and counter.count([joined])[0] <= budget
