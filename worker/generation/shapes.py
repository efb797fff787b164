"""The shape an answer takes, from its task kind and the company's own answers: one line, one JSON value, or
free text; and how many new tokens a draft may take, from the references' lengths.

A class label or a subject line is one line: the draft ends at its first line break. An extraction is one
JSON object: the draft ends when the object closes, and a key written a second time in the same object
means the model is looping over its fields (the draft is cut before the repeat). Free text ends at the end
of the model's turn. No torch here: the decoding loop feeds these watchers each new token's text.
"""

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

FREE, LINE, JSON = "free", "line", "json"
SHAPES = (FREE, LINE, JSON)
# A reference of at most this many words on one line reads as a label or a subject line.
LINE_WORDS = 40
# The length budget: the longest reference of the kind x BUDGET_FACTOR, at least MIN_BUDGET new tokens.
BUDGET_FACTOR = 1.5
MIN_BUDGET = 16
# The watchers' verdicts.
COMPLETE, REPEATED = "complete", "repeated"


def _is_json(text: str) -> bool:
    """Whether `text` is a JSON object or array."""
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


def shape_for(kind: str, references: Sequence[str]) -> str:
    """The answer shape of a task kind, from what the company wrote for it.

    Extractions whose references are JSON are one JSON value; a classification, or any kind whose references
    are all one short line (subject lines), is one line; everything else is free text.
    """
    answers = [text.strip() for text in references if text.strip()]
    if kind == "extract" and answers and all(_is_json(text) for text in answers):
        return JSON
    one_line = answers and all("\n" not in text and len(text.split()) <= LINE_WORDS for text in answers)
    return LINE if kind == "classify" or one_line else FREE


def length_budget(reference_tokens: Sequence[int], bound: int) -> int:
    """New tokens a draft may take: the longest reference x 1.5 (within [MIN_BUDGET, bound]); `bound` when
    there is no reference to go by."""
    if not reference_tokens:
        return bound
    return max(1, min(bound, max(MIN_BUDGET, math.ceil(BUDGET_FACTOR * max(reference_tokens)))))


class LineWatch:
    """One line: complete at the first line break after some text."""

    def __init__(self) -> None:
        """Nothing written yet."""
        self.text = False

    def feed(self, piece: str) -> str | None:
        """The next token's text; COMPLETE once a line with text has ended."""
        for char in piece:
            if char == "\n" and self.text:
                return COMPLETE
            self.text = self.text or not char.isspace()
        return None


@dataclass
class _Container:
    """An open JSON object or array while scanning."""

    closer: str
    keys: set[str] = field(default_factory=set)
    expect_key: bool = False  # in an object, the next string is a key
    separator: int = -1  # offset of the latest comma in this container


class JsonWatch:
    """One JSON value (object or array): complete when it closes; REPEATED when an object gets a key it
    already has. Text before the first brace (a code fence, a lead-in) is passed over."""

    def __init__(self) -> None:
        """Nothing written yet."""
        self.stack: list[_Container] = []
        self.in_string = self.escaped = False
        self.key: list[str] | None = None  # the key being read
        self.offset = 0  # characters scanned so far
        self.cut: int | None = None  # on REPEATED: the offset of the comma before the repeated key

    def feed(self, piece: str) -> str | None:
        """The next token's text; COMPLETE or REPEATED once that is known."""
        for char in piece:
            verdict = self._char(char)
            self.offset += 1
            if verdict:
                return verdict
        return None

    def _char(self, char: str) -> str | None:
        """Scan one character."""
        if self.in_string:
            return self._string_char(char)
        top = self.stack[-1] if self.stack else None
        if char in "{[":
            self.stack.append(_Container("}" if char == "{" else "]", expect_key=char == "{"))
        elif top is None:
            return None  # before the value starts
        elif char == '"':
            self.in_string = True
            self.key = [] if top.expect_key else None
        elif char == top.closer:
            self.stack.pop()
            return None if self.stack else COMPLETE
        elif char == ",":
            top.separator = self.offset
            top.expect_key = top.closer == "}"
        return None

    def _string_char(self, char: str) -> str | None:
        """Scan one character inside a string; a key's closing quote checks it against its object's keys."""
        if self.escaped:
            self.escaped = False
        elif char == "\\":
            self.escaped = True
        elif char == '"':
            self.in_string = False
            if self.key is not None:
                top, key = self.stack[-1], "".join(self.key)
                top.expect_key, self.key = False, None
                if key in top.keys:
                    self.cut = top.separator if top.separator >= 0 else None
                    return REPEATED
                top.keys.add(key)
            return None
        if self.key is not None:
            self.key.append(char)
        return None


def watch(shape: str) -> LineWatch | JsonWatch | None:
    """A fresh watcher for a draft of `shape` (None for free text)."""
    return LineWatch() if shape == LINE else JsonWatch() if shape == JSON else None


def finish(text: str, shape: str) -> str:
    """A draft's text in its shape: its first line, or the JSON value up to where it closed or began to repeat
    (an unclosed code fence before it dropped); free text as written."""
    if shape == LINE:
        return next((line.strip() for line in text.splitlines() if line.strip()), "")
    if shape != JSON:
        return text
    scanner = JsonWatch()
    verdict = scanner.feed(text)
    end = scanner.offset if verdict == COMPLETE else scanner.cut if verdict == REPEATED else None
    kept = text[:end]
    opening = min((kept.find(c) for c in "{[" if c in kept), default=0)
    if kept[:opening].strip().startswith("```"):
        kept = kept[opening:]  # the closing fence came after the value, so it is not kept
    return kept.strip()


@dataclass(frozen=True)
class AnswerPlan:
    """How drafts of one task kind are written: their shape and their limit of new tokens."""

    shape: str
    max_new_tokens: int


def plan_answers(
    references: Sequence[tuple[str, str]], count_tokens: Callable[[str], int], bound: int
) -> dict[str, AnswerPlan]:
    """Per task kind, the shape and length budget of its drafts, from its (kind, reference) pairs."""
    by_kind: dict[str, list[str]] = {}
    for kind, reference in references:
        by_kind.setdefault(kind, []).append(reference)
    return {
        kind: AnswerPlan(shape_for(kind, texts), length_budget([count_tokens(t) for t in texts], bound))
        for kind, texts in by_kind.items()
    }
