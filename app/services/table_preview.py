"""What the column-mapping form shows: a table's columns, a guessed mapping and its first rows."""

import csv
import io
import json
import logging
from typing import Any

from app.ingest.decoding import decode_text
from app.ingest.rows import auto_mapping
from app.ingest.store import read_original
from app.ingest.tabular import sniff_delimiter
from app.ingest.types import IngestError
from app.models import Document
from app.settings import Settings

log = logging.getLogger(__name__)

PREVIEW_BYTES = 64 * 1024  # the first rows are all a preview needs
MAX_JSON_PREVIEW_BYTES = 5 * 1024 * 1024  # a JSON document can only be read whole
MAX_CELL_CHARS = 300


def cell_text(value: Any) -> str:
    """A JSON value as the preview shows it: text as is, anything else as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cells(values: list[str], width: int) -> list[str]:
    """A row cut or padded to `width` cells, each cut to MAX_CELL_CHARS."""
    values = (values + [""] * width)[:width]
    return [value[:MAX_CELL_CHARS] for value in values]


def csv_rows(text: str, width: int, rows: int) -> list[list[str]]:
    """The first `rows` data rows of CSV text (after its header)."""
    found: list[list[str]] = []
    header_seen = False
    try:
        for record in csv.reader(io.StringIO(text), delimiter=sniff_delimiter(text)):
            if not any(cell.strip() for cell in record):
                continue
            if not header_seen:
                header_seen = True
                continue
            found.append(_cells(record, width))
            if len(found) >= rows:
                break
    except csv.Error:
        pass  # the cut at PREVIEW_BYTES may end inside a quoted cell: show what was read
    return found


def object_rows(objects: list[Any], columns: list[str], rows: int) -> list[list[str]]:
    """The first `rows` JSON objects as cells in `columns` order."""
    dicts = [obj for obj in objects if isinstance(obj, dict)][:rows]
    return [_cells([cell_text(obj.get(col)) for col in columns], len(columns)) for obj in dicts]


def jsonl_objects(text: str, rows: int) -> list[Any]:
    """The first `rows` lines of JSON Lines text that parse as objects."""
    found: list[Any] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            found.append(value)
        if len(found) >= rows:
            break
    return found


def json_objects(text: str) -> list[Any]:
    """The objects of a JSON document: a list, or the list under "data", "examples", ... ."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return []
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, list)), [value])
    return value if isinstance(value, list) else []


def table_preview(settings: Settings, document: Document, rows: int = 2) -> list[list[str]]:
    """The document's first `rows` data rows, cell by cell in the order of its columns."""
    columns = list(document.columns or [])
    fmt = document.format
    if not columns or fmt not in ("csv", "jsonl", "json"):
        return []
    try:
        data = read_original(settings.originals_dir, document.sha256)
        if fmt == "json" and len(data) > MAX_JSON_PREVIEW_BYTES:
            return []
        head = data if fmt == "json" else data[:PREVIEW_BYTES]
        text = decode_text(document.filename, head).text
    except (OSError, ValueError, IngestError):
        # The form still works without a preview; the parser reports real problems when it runs.
        log.warning("no preview for document %s", document.id, exc_info=True)
        return []
    if fmt == "csv":
        return csv_rows(text, len(columns), rows)
    objects = jsonl_objects(text, rows) if fmt == "jsonl" else json_objects(text)
    return object_rows(objects, columns, rows)


def mapping_form(settings: Settings, document: Document) -> dict[str, Any]:
    """The mapping form's data: the document, its columns, a guessed mapping and a preview."""
    columns = list(document.columns or [])
    guess = dict(document.column_mapping or {}) or auto_mapping(columns)
    return {
        "document": document,
        "columns": columns,
        "guess": guess,
        "preview": table_preview(settings, document),
    }
