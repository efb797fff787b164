"""Tables (.csv, .json, .jsonl): column mapping, kinds, chat messages, bad rows and hostile JSON."""

import codecs
import csv
import io
import json

from app.ingest.registry import parse_file
from app.ingest.types import ParsedFile
from tests import hostile_files as hostile
from tests.hostile_files import small_limits


def one(filename: str, data: bytes, mapping: dict[str, str] | None = None, **limits: int) -> ParsedFile:
    """The single ParsedFile a table gives."""
    parsed = parse_file(filename, data, small_limits(**limits), mapping)
    assert len(parsed) == 1
    return parsed[0]


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    """A CSV file written by the csv module."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def test_csv_columns_are_mapped_by_their_names() -> None:
    """CSV columns are mapped by their names."""
    data = codecs.BOM_UTF8 + csv_bytes(
        [
            ["Prompt", "Source Text", "Response", "Tags"],
            ["Write the welcome note", "New client: Acme", "Welcome, Acme!", "onboarding; clients"],
            ["Thank the team", "", "Thank you all.\nSee you Monday.", ""],
        ],
        delimiter=";",
    )
    parsed = one("pairs.csv", data)
    assert parsed.error is None and parsed.format == "csv"
    assert parsed.columns == ["Prompt", "Source Text", "Response", "Tags"]
    first, second = parsed.examples
    assert (first.instruction, first.input, first.output) == (
        "Write the welcome note",
        "New client: Acme",
        "Welcome, Acme!",
    )
    assert first.tags == ["onboarding", "clients"] and first.kind == "draft" and first.source_ref == "row 2"
    assert second.output == "Thank you all.\nSee you Monday." and second.source_ref == "row 3"


def test_tab_separated_csv_is_sniffed() -> None:
    """Tab-separated CSV is sniffed."""
    parsed = one("tabs.csv", b"question\tanswer\nWhat time?\tNine, sharp.\n")
    [example] = parsed.examples
    assert (example.instruction, example.output) == ("What time?", "Nine, sharp.")


def test_label_with_a_text_column_is_classification() -> None:
    """Label with a text column is classification."""
    data = csv_bytes([["text", "label"], ["Love it", "positive"], ["Awful", "negative"], ["Fine", "neutral"]])
    examples = one("sentiment.csv", data).examples
    assert [e.kind for e in examples] == ["classify"] * 3
    assert examples[0].instruction == "Classify this text. Answer with one of: negative, neutral, positive."
    assert (examples[0].input, examples[0].output) == ("Love it", "positive")


def test_summary_column_is_summarisation() -> None:
    """Summary column is summarisation."""
    data = csv_bytes([["document", "summary"], ["A long memo about budgets.", "Budgets are fine."]])
    [example] = one("memos.csv", data).examples
    assert example.kind == "summarise"
    assert (example.instruction, example.input) == ("Summarise this text.", "A long memo about budgets.")


def test_json_object_output_is_extraction() -> None:
    """JSON object output is extraction."""
    data = csv_bytes(
        [["instruction", "input", "output"], ["Get the fields", "Bob, 42", '{"name": "Bob", "age": 42}']]
    )
    [example] = one("extract.csv", data).examples
    assert example.kind == "extract"


def test_kind_column_is_read_and_unknown_kinds_are_reported() -> None:
    """Kind column is read and unknown kinds are reported."""
    data = csv_bytes(
        [["instruction", "output", "type"], ["Sum it", "Short.", "Summary"], ["Do it", "Done.", "poetry"]]
    )
    parsed = one("kinds.csv", data)
    [example] = parsed.examples
    assert example.kind == "summarise"
    assert parsed.warnings == ["row 3: unknown kind 'poetry' — use draft, summarise, classify or extract"]


def test_unrecognised_columns_ask_for_a_mapping() -> None:
    """Unrecognised columns ask for a mapping."""
    data = csv_bytes([["Col A", "Col B"], ["Write a haiku", "Old pond, frog jumps"]])
    parsed = one("mystery.csv", data)
    assert parsed.error is None
    assert parsed.examples == []
    assert parsed.columns == ["Col A", "Col B"]


def test_an_explicit_mapping_is_used() -> None:
    """An explicit mapping is used."""
    data = csv_bytes([["Col A", "Col B", "Kind"], ["Write a haiku", "Old pond, frog jumps", "draft"]])
    mapping = {"instruction": "Col A", "output": "Col B", "kind": "Kind", "tags": ""}
    [example] = one("mystery.csv", data, mapping).examples
    assert (example.instruction, example.output, example.kind) == (
        "Write a haiku",
        "Old pond, frog jumps",
        "draft",
    )
    # A kind may also be chosen for the whole file; short rows are padded, not misread.
    data += b"Short row,Its answer\n"
    mapping = {"input": "Col A", "output": "Col B", "kind": "summarise"}
    parsed = one("mystery.csv", data, mapping)
    assert [(e.kind, e.instruction, e.output) for e in parsed.examples] == [
        ("summarise", "Summarise this text.", "Old pond, frog jumps"),
        ("summarise", "Summarise this text.", "Its answer"),
    ]
    assert parsed.warnings == []


def test_a_mapping_naming_a_missing_column_is_refused() -> None:
    """A mapping naming a missing column is refused."""
    data = csv_bytes([["Col A", "Col B"], ["x", "y"]])
    parsed = one("mystery.csv", data, {"instruction": "Col A", "output": "Col Z"})
    assert parsed.error == (
        "The column 'Col Z' chosen for output is not in mystery.csv; its columns are: Col A, Col B. "
        "Choose again."
    )
    parsed = one("mystery.csv", data, {"instruction": "Col A"})
    assert parsed.error.startswith("Choose the column of mystery.csv that holds the output")


def test_bad_rows_are_skipped_with_row_numbers_and_a_capped_list() -> None:
    """Bad rows are skipped with row numbers and a capped list."""
    rows = [["instruction", "output"], ["Good one", "Fine."]]
    rows += [[f"Missing {i}", ""] for i in range(30)]
    rows += [["", "No brief"], ["Extra", "cells", "here"]]
    parsed = one("messy.csv", csv_bytes(rows))
    assert [e.output for e in parsed.examples] == ["Fine."]
    assert parsed.warnings[0] == "row 3: empty output — fill it in or remove the row"
    assert len(parsed.warnings) == 21
    assert parsed.warnings[-1] == "… and 12 more rows with problems."


def test_rows_with_misplaced_delimiters_are_reported() -> None:
    """Rows with misplaced delimiters are reported."""
    parsed = one("shift.csv", b"instruction,output\nA,B\nC,D,E\n")
    assert [e.output for e in parsed.examples] == ["B"]
    assert parsed.warnings == [
        "row 3: 3 cells but the header has 2 — a cell probably holds an unquoted delimiter; put it in "
        "quotes or remove the row"
    ]


def test_a_table_without_usable_rows_is_refused() -> None:
    """A table without usable rows is refused."""
    parsed = one("empty-out.csv", csv_bytes([["prompt", "completion"], ["a", ""], ["b", ""]]))
    assert parsed.error == (
        "empty-out.csv has no usable rows (row 2: empty output — fill it in or remove the row; row 3: empty "
        "output — fill it in or remove the row). Fix the rows and upload it again."
    )


def test_rows_past_the_limit_are_not_read() -> None:
    """Rows past the limit are not read."""
    rows = [["prompt", "completion"]] + [[f"p{i}", f"c{i}"] for i in range(8)]
    parsed = one("big.csv", csv_bytes(rows), max_csv_rows=5)
    assert len(parsed.examples) == 5
    assert parsed.warnings == [
        "Only the first 5 rows were read (the limit per file). Split the file to import the rest."
    ]


def test_windows_1252_csv_is_decoded() -> None:
    """Windows-1252 CSV is decoded."""
    parsed = one("legacy.csv", csv_bytes([["prompt", "answer"], ["Café?", "Oui – 5 €"]], encoding="cp1252"))
    assert parsed.examples[0].output == "Oui – 5 €"
    assert "decoded as Windows-1252" in parsed.warnings[0]


def test_a_web_page_saved_as_csv_is_refused() -> None:
    """A web page saved as CSV is refused."""
    parsed = one("export.csv", hostile.html_as_txt()[1])
    assert parsed.error == (
        "export.csv looks like a web page saved as .csv, not a table. Open the data in your spreadsheet "
        "program and save it as CSV, then upload it."
    )


def test_json_lists_and_wrapped_lists() -> None:
    """JSON lists, and lists wrapped in {"data": ...} or {"examples": ...}, are read."""
    rows = [{"question": "Hi?", "answer": "Hello.", "tags": ["greeting", "Greeting", " short "]}]
    for payload in (rows, {"data": rows}, {"examples": rows}):
        [example] = one("rows.json", json.dumps(payload).encode()).examples
        assert (example.instruction, example.output, example.source_ref) == ("Hi?", "Hello.", "item 1")
        assert example.tags == ["greeting", "short"]


def test_json_object_values_become_extraction_output() -> None:
    """JSON object values become extraction output."""
    rows = [{"instruction": "Extract", "input": "Bob 42", "output": {"name": "Bob", "age": 42}}, "stray"]
    parsed = one("extract.json", json.dumps(rows).encode())
    [example] = parsed.examples
    assert example.kind == "extract" and json.loads(example.output) == {"name": "Bob", "age": 42}
    assert parsed.warnings == ["item 2: not an object with named fields — remove it or fix its brackets"]


def test_invalid_and_unexpected_json_is_refused() -> None:
    """Invalid and unexpected JSON is refused."""
    parsed = one("broken.json", b'[{"instruction": "a", "output": "b"},\n {"oops"}]')
    assert parsed.error == (
        "broken.json is not valid JSON at line 2, column 9. Fix it there (a JSON validator shows the exact "
        "spot) or export the file again."
    )
    assert one("text.json", b'"just a string"').error.startswith("text.json holds no examples")


def test_deeply_nested_json_is_refused() -> None:
    """Deeply nested JSON is refused."""
    message = (
        "is nested more than 50 levels deep, which example files never are. Export it again as a flat list"
    )
    for filename, data in (hostile.deep_json(), hostile.nested_json()):
        parsed = one(filename, data)
        assert parsed.error.startswith(f"{filename} {message}"), parsed.error
    assert one("ok.json", hostile.nested_json(depth=40)[1]).error is None


def test_jsonl_chat_messages() -> None:
    """JSONL chat messages become instruction, input and output."""
    lines = [
        {"messages": [
            {"role": "system", "content": "You write for Acme."},
            {"role": "user", "content": "Draft the apology."},
            {"role": "assistant", "content": "We are sorry."},
        ]},
        {"messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello, how can I help?"},
            {"role": "user", "content": [{"type": "text", "text": "Book a room"}]},
            {"role": "assistant", "content": "Booked."},
        ], "tags": "rooms"},
        {"messages": [{"role": "user", "content": "No answer"}]},
    ]  # fmt: skip
    data = "\n".join(json.dumps(line) for line in lines).encode() + b'\n\n{"broken\n'
    parsed = one("chat.jsonl", data)
    first, second = parsed.examples
    assert (first.instruction, first.input, first.output) == (
        "You write for Acme.",
        "Draft the apology.",
        "We are sorry.",
    )
    assert (second.instruction, second.output, second.tags) == ("Book a room", "Booked.", ["rooms"])
    assert second.input == "User: Hi\n\nAssistant: Hello, how can I help?"
    assert [first.source_ref, second.source_ref] == ["line 1", "line 2"]
    assert parsed.warnings == [
        "line 3: no assistant message with text — add the answer or remove the row",
        "line 5: not valid JSON (Unterminated string starting at: line 1 column 2 (char 1)) — fix or "
        "remove the line",
    ]


def test_jsonl_lines_too_deep_are_skipped() -> None:
    """JSONL lines too deep are skipped."""
    data = b'{"prompt": "a", "completion": "b"}\n' + b"[" * 5000 + b"]" * 5000 + b"\n"
    parsed = one("deep.jsonl", data)
    assert [e.output for e in parsed.examples] == ["b"]
    assert parsed.warnings == ["line 2: nested more than 50 levels deep — remove it"]


def test_a_json_array_saved_as_jsonl_is_read() -> None:
    """A JSON array saved as JSONL is read."""
    data = json.dumps([{"prompt": "a", "completion": "b"}], indent=2).encode()
    parsed = one("array.jsonl", data)
    assert parsed.format == "jsonl"
    assert [e.output for e in parsed.examples] == ["b"]


def test_nul_bytes_in_a_csv_are_removed_with_a_note_naming_the_lines() -> None:
    """A CSV with stray NUL bytes (a damaged or padded export) is read; the note says where to look."""
    data = csv_bytes([["instruction", "output"], ["Greet", "Hel\x00lo there"], ["Part", "Goodbye for now"]])
    parsed = one("export.csv", data + b"\x00" * 4096)
    assert [e.output for e in parsed.examples] == ["Hello there", "Goodbye for now"]
    assert parsed.warnings == [
        "4,097 empty (NUL) characters were removed from lines 2, 4. Such characters are a sign of a damaged "
        "or padded export: check those rows, or export the table again from your spreadsheet program as CSV."
    ]
    # Before, the padded file was refused as "not a text file" and told to be saved as .txt, Word or PDF.
    assert "not a text file" not in " ".join(parsed.warnings)


def test_utf16_csv_keeps_its_nul_bytes_and_an_all_nul_file_gets_csv_advice() -> None:
    """UTF-16 text is full of NUL bytes that belong to it; a file of only NULs is told to export again."""
    rows = [["instruction", "output"], ["Greet", "Hello there"]]
    for data in (csv_bytes(rows, encoding="utf-16"), csv_bytes(rows, encoding="utf-16-le")):
        parsed = one("wide.csv", data)
        assert [e.output for e in parsed.examples] == ["Hello there"] and parsed.warnings == []
    assert one("blank.csv", b"\x00" * 300).error == (
        "blank.csv holds only empty (NUL) bytes, so the table was not saved completely. Export it again "
        "from your spreadsheet program as CSV and upload the new file."
    )
