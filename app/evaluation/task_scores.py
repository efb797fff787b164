"""Scores for the short-answer kinds: classify (is the label right?) and extract (is the JSON right?)."""

import json
import re
from dataclasses import dataclass
from typing import Any

from app.curation.duplicates import words_of

# A model often wraps JSON in a markdown code fence: ```json ... ```
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def normalise_label(text: str) -> str:
    """A label as compared: its first non-empty line, casefolded, punctuation and extra spaces removed."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    return " ".join(words_of(line))


def label_matches(draft: str, reference: str) -> bool:
    """Whether the draft gives the reference's label ("Billing." matches "billing")."""
    return bool(normalise_label(reference)) and normalise_label(draft) == normalise_label(reference)


def parse_json(text: str) -> tuple[bool, Any]:
    """(valid, value) of a draft that should be JSON; a surrounding code fence is allowed."""
    fenced = _FENCE.match(text)
    try:
        return True, json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return False, None


def _same_value(got: Any, want: Any) -> bool:
    """Whether an extracted value equals the reference's: text ignoring case and punctuation, else exactly."""
    if isinstance(want, str) and isinstance(got, str):
        return words_of(got) == words_of(want)
    if _is_number(got) and _is_number(want):
        return got == want  # 12 equals 12.0
    # Python counts True as 1: comparing the types too keeps true from matching 1.
    return type(got) is type(want) and got == want


def _is_number(value: Any) -> bool:
    """A JSON number (not a boolean, which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class ExtractScore:
    """One extraction against its reference: valid JSON or not, and fields right out of fields wanted."""

    valid_json: bool
    fields_right: int
    fields_total: int


def score_extraction(draft: str, reference: str) -> ExtractScore:
    """Field-level exact match of a JSON draft against a JSON-object reference.

    A reference that is not a JSON object counts as one field: the whole answer must match.
    """
    valid, got = parse_json(draft)
    ref_valid, want = parse_json(reference)
    if not (ref_valid and isinstance(want, dict)):
        same = _same_value(got if valid else draft, want if ref_valid else reference)
        return ExtractScore(valid, int(same), 1)
    fields = got if isinstance(got, dict) else {}
    right = sum(1 for key, value in want.items() if key in fields and _same_value(fields[key], value))
    return ExtractScore(valid, right, len(want))
