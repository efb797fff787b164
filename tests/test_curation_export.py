"""Tests for JSONL and CSV export, including spreadsheet formula neutralisation."""

import csv
import io
import json

import pytest

from app.curation.export import neutralise_cell, to_csv, to_jsonl
from app.curation.records import ExampleRecord


def example(example_id: int = 1, **fields: object) -> ExampleRecord:
    """An example with sensible defaults, overridden by `fields`."""
    values: dict[str, object] = {
        "id": example_id,
        "kind": "draft",
        "instruction": "Write the report",
        "input": "Q3 figures",
        "output": "Revenue rose by 10 %.\nCosts fell — «nice».",
        "included": True,
        "split": "train",
        "prompt_tokens": None,
        "output_tokens": None,
        "tags": ("finance", "q3"),
    }
    values.update(fields)
    return ExampleRecord(**values)  # type: ignore[arg-type]


def test_jsonl_one_object_per_line() -> None:
    """Each line is one JSON object with the documented fields; newlines inside text stay escaped."""
    text = to_jsonl([example(1), example(2, split="heldout", tags=())])
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith("\n")
    first, second = (json.loads(line) for line in lines)
    assert first == {
        "instruction": "Write the report",
        "input": "Q3 figures",
        "output": "Revenue rose by 10 %.\nCosts fell — «nice».",
        "kind": "draft",
        "split": "train",
        "tags": ["finance", "q3"],
    }
    assert second["split"] == "heldout" and second["tags"] == []
    assert to_jsonl([]) == ""


@pytest.mark.parametrize(
    "dangerous", ['=HYPERLINK("http://x")', "+cmd|'/c calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]
)
def test_neutralise_formula_cells(dangerous: str) -> None:
    """Cells a spreadsheet would evaluate get a leading apostrophe."""
    assert neutralise_cell(dangerous) == "'" + dangerous


def test_csv_round_trip_and_neutralisation() -> None:
    """The CSV parses back to the same text, with dangerous cells prefixed and harmless ones untouched."""
    records = [example(1), example(2, instruction="=1+1", input="@admin", output="-5 items", tags=("a", "b"))]
    rows = list(csv.reader(io.StringIO(to_csv(records), newline="")))
    assert rows[0] == ["instruction", "input", "output", "kind", "split", "tags"]
    assert rows[1] == [
        "Write the report",
        "Q3 figures",
        "Revenue rose by 10 %.\nCosts fell — «nice».",
        "draft",
        "train",
        "finance, q3",
    ]
    assert rows[2][:3] == ["'=1+1", "'@admin", "'-5 items"]
    assert rows[2][5] == "a, b"
    assert len(rows) == 3


def test_csv_neutralises_tags_too() -> None:
    """A tag starting with = is neutralised like any other cell."""
    rows = list(csv.reader(io.StringIO(to_csv([example(tags=("=evil",))]), newline="")))
    assert rows[1][5] == "'=evil"
