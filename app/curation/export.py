"""Export examples as JSONL or CSV (CSV cells neutralised against spreadsheet formula injection)."""

import csv
import io
import json
from collections.abc import Iterable

from app.curation.records import ExampleRecord

COLUMNS = ("instruction", "input", "output", "kind", "split", "tags")
# A spreadsheet treats a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|...); some
# skip leading line breaks and tabs first, and some read the full-width forms (＝, ＋, －, ＠) as the same.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _row(record: ExampleRecord) -> dict[str, object]:
    """The exported fields of one example."""
    return {
        "instruction": record.instruction,
        "input": record.input,
        "output": record.output,
        "kind": record.kind,
        "split": record.split,
        "tags": list(record.tags),
    }


def to_jsonl(records: Iterable[ExampleRecord]) -> str:
    """One JSON object per line: instruction, input, output, kind, split, tags."""
    return "".join(json.dumps(_row(record), ensure_ascii=False) + "\n" for record in records)


def neutralise_cell(value: str) -> str:
    """`value` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def to_csv(records: Iterable[ExampleRecord]) -> str:
    """CSV with a header row; cells a spreadsheet would read as a formula get a leading apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        row = _row(record)
        # Tags as one cell, separated by commas, the way people type them into the app.
        row["tags"] = ", ".join(record.tags)
        writer.writerow([neutralise_cell(str(row[column])) for column in COLUMNS])
    return buffer.getvalue()
