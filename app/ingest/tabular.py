"""Tables (.csv, .json, .jsonl): reading rows from each format; rows.py turns them into examples."""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from app.ingest.decoding import check_line_bytes, check_line_chars, decode_text, display_name, looks_like_html
from app.ingest.rows import Problems, rows_to_file
from app.ingest.types import IngestError, Limits, ParsedFile

JSON_LIST_KEYS = ("data", "examples", "rows", "records", "items")
NUL = b"\x00"
MAX_LISTED_LINES = 5
# Bytes of the file's start looked at to tell UTF-16 text (a NUL in every other byte) from stray NULs.
WIDE_SAMPLE_BYTES = 65536
MAX_JSON_DEPTH = 50
DELIMITERS = (",", ";", "\t")


def _is_wide(data: bytes) -> bool:
    """Whether NUL bytes belong to the text: a UTF-16/32 byte-order mark, or NULs on one side of most byte
    pairs (UTF-16 without a mark)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return True
    sample = data[:WIDE_SAMPLE_BYTES]
    half = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    return half > 1 and max(even, odd) > 0.3 * half and min(even, odd) < 0.05 * half


def _without_nuls(filename: str, data: bytes) -> tuple[bytes, list[str]]:
    """The table without NUL bytes (a damaged or padded export), with a note naming the lines they were on.

    Spreadsheets never write NULs into a CSV: they come from a crash while saving, a copy padded with empty
    bytes, or a database export. The rest of the file is usually fine, so it is read, and the user is told
    where to look.
    """
    if NUL not in data or _is_wide(data):
        return data, []
    lines = [number for number, line in enumerate(data.split(b"\n"), start=1) if NUL in line]
    count = data.count(NUL)
    data = data.replace(NUL, b"")
    if not data.strip():
        raise IngestError(
            f"{display_name(filename)} holds only empty (NUL) bytes, so the table was not saved completely. "
            "Export it again from your spreadsheet program as CSV and upload the new file."
        )
    listed = ", ".join(map(str, lines[:MAX_LISTED_LINES])) + (" …" if len(lines) > MAX_LISTED_LINES else "")
    note = (
        f"{count:,} empty (NUL) character{'s were' if count != 1 else ' was'} removed from line"
        f"{'s' if len(lines) != 1 else ''} {listed}. Such characters are a sign of a damaged or padded "
        "export: check those rows, or export the table again from your spreadsheet program as CSV."
    )
    return data, [note]


def _decoded_table(filename: str, data: bytes, limits: Limits, fmt: str) -> tuple[str, list[str]]:
    """The file's text and decoding notes; a web page saved under a table extension is refused."""
    if fmt != "json":  # minified JSON is one long line, and still a fine file
        check_line_bytes(filename, data, limits.max_line_chars)
    data, nul_notes = _without_nuls(filename, data)
    decoded = decode_text(filename, data)
    if looks_like_html(decoded.text):
        raise IngestError(
            f"{display_name(filename)} looks like a web page saved as .{fmt}, not a table. Open the data "
            f"in your spreadsheet program and save it as {'CSV' if fmt == 'csv' else 'JSON'}, then upload it."
        )
    if fmt != "json":
        check_line_chars(filename, decoded.text, limits.max_line_chars)
    return decoded.text, nul_notes + list(decoded.warnings)


def _unique_columns(header: list[str]) -> list[str]:
    """Header names made non-empty and unique ("Column 3", "Name (2)")."""
    # A dict keeps the order and tests membership in O(1); `tried` remembers each name's last suffix,
    # so a header of thousands of identical names is not quadratic.
    columns: dict[str, None] = {}
    tried: dict[str, int] = {}
    for index, raw in enumerate(header, start=1):
        name = " ".join(raw.split()) or f"Column {index}"
        candidate = name
        while candidate in columns:
            tried[name] = tried.get(name, 1) + 1
            candidate = f"{name} ({tried[name]})"
        columns[candidate] = None
    return list(columns)


def _check_width(filename: str, count: int, limits: Limits) -> None:
    """Refuse a table with more columns than `max_table_columns` (checked before any work per column)."""
    if count > limits.max_table_columns:
        raise IngestError(
            f"{display_name(filename)} has {count:,} columns; Lastmile reads tables of up to "
            f"{limits.max_table_columns:,} columns. Keep only the columns with the brief, the input and the "
            "answer (save a copy with the others deleted), then upload that."
        )


def sniff_delimiter(text: str) -> str:
    """The delimiter (, ; or tab) that splits the first lines into the most, consistent columns."""
    sample = text[:65536].split("\n")[:20]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(sample, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not widths:
            continue
        consistent = sum(1 for w in widths if w == widths[0])
        score = (consistent if widths[0] > 1 else 0, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def parse_csv(filename: str, data: bytes, limits: Limits, mapping: dict[str, str] | None) -> ParsedFile:
    """A CSV file (delimiter sniffed, header row required) as examples, one per data row."""
    text, notes = _decoded_table(filename, data, limits, "csv")
    # A cell may hold a whole example; the csv module's default cap (128 KB) is smaller.
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_example_chars + 1))
    reader = csv.reader(io.StringIO(text), delimiter=sniff_delimiter(text))
    header: list[str] | None = None
    problems = Problems()

    def records() -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells) of each record; unreadable records become problems."""
        number = 0
        while True:
            number += 1
            try:
                yield number, next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                problems.add(f"row {number}", f"could not be read ({exc}) — check its quotes")

    all_records = records()
    for _, cells in all_records:
        if any(c.strip() for c in cells):
            header = cells
            break
    if header is None:
        raise IngestError(
            f"{display_name(filename)} is empty. Add a header row and data rows, then upload it."
        )
    _check_width(filename, len(header), limits)
    columns = _unique_columns(header)

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        """(ref, row as a dict) for each data row, within the row limit."""
        read = 0
        for number, cells in all_records:
            if not any(c.strip() for c in cells):
                continue
            if read >= limits.max_csv_rows:
                notes.append(_row_limit(limits))
                return
            read += 1
            if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
                problems.add(
                    f"row {number}",
                    f"{len(cells)} cells but the header has {len(columns)} — a cell probably holds an "
                    "unquoted delimiter; put it in quotes or remove the row",
                )
                continue
            yield f"row {number}", dict(zip(columns, cells, strict=False))

    return rows_to_file(filename, data, "csv", columns, rows(), mapping, problems, notes)


def _row_limit(limits: Limits) -> str:
    """The note for a table cut at the row limit."""
    return (
        f"Only the first {limits.max_csv_rows:,} rows were read (the limit per file). Split the file "
        "to import the rest."
    )


def _loads(text: str) -> Any:
    """json.loads that refuses nesting deeper than MAX_JSON_DEPTH (raised as RecursionError)."""
    value = json.loads(text)
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise RecursionError
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return value


def _columns_of(rows: list[Any]) -> list[str]:
    """The keys of the first objects, in order of first appearance."""
    columns: dict[str, None] = {}
    for row in rows[:1000]:
        if isinstance(row, dict):
            columns.update(dict.fromkeys(str(k) for k in row))
    return list(columns)


def _object_rows(items: list[Any], unit: str, limits: Limits, problems: Problems, notes: list[str]):
    """(ref, object) for each item that is a JSON object, within the row limit."""
    for number, item in enumerate(items, start=1):
        if number > limits.max_csv_rows:
            notes.append(_row_limit(limits))
            return
        if isinstance(item, dict):
            yield f"{unit} {number}", {str(k): v for k, v in item.items()}
        else:
            problems.add(
                f"{unit} {number}", "not an object with named fields — remove it or fix its brackets"
            )


def parse_json(filename: str, data: bytes, limits: Limits, mapping: dict[str, str] | None) -> ParsedFile:
    """A JSON file: a list of objects, or {"data": [...]} / {"examples": [...]}, one example per object."""
    name = display_name(filename)
    text, notes = _decoded_table(filename, data, limits, "json")
    try:
        value = _loads(text)
    except RecursionError as exc:
        raise IngestError(
            f"{name} is nested more than {MAX_JSON_DEPTH} levels deep, which example files never are. "
            "Export it again as a flat list of examples."
        ) from exc
    except ValueError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise IngestError(
            f"{name} is not valid JSON{where}. Fix it there (a JSON validator shows the exact spot) or "
            "export the file again."
        ) from exc
    if isinstance(value, dict):
        key = next((k for k in JSON_LIST_KEYS if isinstance(value.get(k), list)), None)
        value = value[key] if key else [value]
    if not isinstance(value, list) or not value:
        raise IngestError(
            f'{name} holds no examples: Lastmile expects a list of objects, or {{"data": [...]}}, '
            "with one object per example."
        )
    columns = _columns_of(value)
    _check_width(filename, len(columns), limits)
    problems = Problems()
    rows = _object_rows(value, "item", limits, problems, notes)
    return rows_to_file(filename, data, "json", columns, rows, mapping, problems, notes)


def parse_jsonl(filename: str, data: bytes, limits: Limits, mapping: dict[str, str] | None) -> ParsedFile:
    """A JSON Lines file: one JSON object per line, one example per object; bad lines are skipped."""
    text, notes = _decoded_table(filename, data, limits, "jsonl")
    problems = Problems()
    # (ref, value, problem) per non-blank line, kept in order so problems are listed by line.
    entries: list[tuple[str, Any, str | None]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if len(entries) >= limits.max_csv_rows:
            notes.append(_row_limit(limits))
            break
        try:
            entries.append((f"line {number}", _loads(line), None))
        except RecursionError:
            entries.append(
                (f"line {number}", None, f"nested more than {MAX_JSON_DEPTH} levels deep — remove it")
            )
        except ValueError as exc:
            entries.append((f"line {number}", None, f"not valid JSON ({exc}) — fix or remove the line"))
    if all(problem for _, _, problem in entries) and text.lstrip().startswith(("[", "{")):
        # A whole JSON document saved as .jsonl: read it as JSON rather than reject every line.
        parsed = parse_json(filename, data, limits, mapping)
        parsed.format = "jsonl"
        return parsed

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        """(ref, object) per line that holds an object; the other lines become problems."""
        for ref, value, problem in entries:
            if problem:
                problems.add(ref, problem)
            elif isinstance(value, dict):
                yield ref, {str(k): v for k, v in value.items()}
            else:
                problems.add(ref, "not an object with named fields — remove it or fix its brackets")

    columns = _columns_of([value for _, value, _ in entries])
    _check_width(filename, len(columns), limits)
    return rows_to_file(filename, data, "jsonl", columns, rows(), mapping, problems, notes)
