"""Text and markdown reports: titles, splitting long reports, encodings, disguised and hostile text files."""

from app.ingest.registry import parse_file
from app.ingest.types import ParsedFile
from tests import hostile_files as hostile
from tests.hostile_files import MB, REPORT_TEXT, small_limits


def one(filename: str, data: bytes, **limits: int) -> ParsedFile:
    """The single ParsedFile a non-archive file gives."""
    parsed = parse_file(filename, data, small_limits(**limits))
    assert len(parsed) == 1
    return parsed[0]


def test_txt_report_title_is_its_short_first_line() -> None:
    """.txt report title is its short first line."""
    parsed = one("q3.txt", b"\n\nQuarterly review\r\n\r\nSales rose.\r\nCosts fell.\r\n")
    assert parsed.error is None and parsed.format == "txt"
    [example] = parsed.examples
    assert example.kind == "draft"
    assert example.instruction == "Write the report: Quarterly review"
    assert example.output == "Quarterly review\n\nSales rose.\nCosts fell."
    assert example.input == ""


def test_txt_with_a_long_first_line_takes_the_file_name_as_title() -> None:
    """.txt with a long first line takes the file name as title."""
    first = "This opening sentence runs on for a long while " * 4
    parsed = one("reports/client-letter.txt", f"{first}\n\nMore.".encode())
    assert parsed.examples[0].instruction == "Write the report: client-letter"


def test_md_title_is_the_first_hash_heading() -> None:
    """The .md title is its first # heading."""
    text = "Draft for the board\n\n# Annual *Summary*\n\nRevenue grew.\n\n## Risks\n\nFew.\n"
    [example] = one("annual.md", text.encode()).examples
    assert example.instruction == "Write the report: Annual Summary"
    assert "## Risks\n\nFew." in example.output


def test_long_md_report_is_split_by_top_level_section() -> None:
    """A .md report too long for the model is split by top-level section; each section fits."""
    findings, actions = "Finding. " * 300, "Action. " * 300
    text = (
        f"# Handbook\n\nWhy this exists.\n\n## Findings\n\n{findings}\n\n### Detail\n\nSub.\n\n"
        f"## Actions\n\n{actions}\n"
    )
    parsed = one("handbook.md", text.encode(), context_tokens=1000)
    assert parsed.error is None
    by_ref = {e.source_ref: e for e in parsed.examples}
    assert set(by_ref) == {"section: (opening)", "section: Findings", "section: Actions"}
    assert by_ref["section: Findings"].instruction == "Write the section 'Findings' of the report: Handbook"
    assert by_ref["section: Findings"].output == f"{findings.strip()}\n\n### Detail\n\nSub."
    assert by_ref["section: Actions"].output == actions.strip()
    assert by_ref["section: (opening)"].instruction == "Write the opening of the report: Handbook"
    assert by_ref["section: (opening)"].output == "Why this exists."
    assert parsed.report_parts == 3


def test_a_short_report_stays_one_example() -> None:
    """A report that fits the model is one example, however many headings it has."""
    text = "# Handbook\n\n## Findings\n\nCosts fell.\n\n## Actions\n\nCut more.\n"
    parsed = one("handbook.md", text.encode(), context_tokens=1000)
    [example] = parsed.examples
    assert example.instruction == "Write the report: Handbook" and parsed.report_parts == 0


def test_a_section_still_too_long_is_split_into_numbered_parts() -> None:
    """A section too long for the model is cut at its paragraphs into numbered parts; nothing is lost."""
    paragraphs = [(f"Paragraph {n}. " + "Long words here. " * 40).strip() for n in range(10)]
    big = "\n\n".join(paragraphs)
    text = f"# Report\n\n## Small\n\nShort.\n\n## Big\n\n{big}\n"
    parsed = one("r.md", text.encode(), context_tokens=600)
    big_parts = [e for e in parsed.examples if e.source_ref.startswith("section: Big")]
    count = len(big_parts)
    assert count > 1 and parsed.report_parts == count + 1
    assert [e.instruction for e in big_parts] == [
        f"Write the section 'Big' of the report: Report (part {n} of {count})" for n in range(1, count + 1)
    ]
    assert [e.source_ref for e in big_parts][-1] == f"section: Big, part {count} of {count}"
    # Cut between paragraphs, never inside one, and every word kept in order.
    assert "\n\n".join(e.output for e in big_parts) == big
    assert all(len(e.output) // 4 + 60 <= 600 for e in big_parts)


def test_a_long_report_without_headings_is_split_at_paragraphs() -> None:
    """A long report without headings is split at paragraphs into parts that fit; all its text is kept."""
    body = "\n\n".join(("Plain prose without any headings. " * 12).strip() for _ in range(20))
    text = "Title line\n\n" + body
    parsed = one("plain.txt", text.encode(), context_tokens=800)
    assert len(parsed.examples) > 2 and parsed.report_parts == len(parsed.examples)
    count = len(parsed.examples)
    assert parsed.examples[0].instruction == f"Write the report: Title line (part 1 of {count})"
    assert "\n\n".join(e.output for e in parsed.examples) == text.strip()


def test_the_files_result_line_counts_the_parts() -> None:
    """The upload page's line for the file says the report was split to fit the model, and how often."""
    from app.ingest.batch_messages import parsed_result

    body = "\n\n".join(("Plain prose without any headings. " * 12).strip() for _ in range(20))
    parsed = one("plain.txt", f"Title line\n\n{body}".encode(), context_tokens=800)
    count = len(parsed.examples)
    assert parsed_result(parsed, count, "plain.txt") == (
        "parsed",
        f"{count} examples from plain.txt: report split into {count} parts to fit the model",
    )
    short = one("short.txt", b"Title line\n\nOne paragraph.", context_tokens=800)
    assert parsed_result(short, 1, "short.txt") == ("parsed", "1 example from short.txt")


def test_setext_headings_split_a_markdown_report() -> None:
    """Setext headings split a markdown report."""
    body = "Text. " * 400
    text = f"Guide\n=====\n\nPart one\n--------\n\n{body}\n\nPart two\n--------\n\n{body}\n"
    parsed = one("guide.md", text.encode(), context_tokens=1000)
    assert [e.source_ref for e in parsed.examples] == ["section: Part one", "section: Part two"]
    assert parsed.examples[0].instruction == "Write the section 'Part one' of the report: Guide"


def test_windows_1252_text_is_decoded_with_a_warning() -> None:
    """Windows-1252 text is decoded with a warning."""
    parsed = one(*hostile.cp1252_txt())
    assert REPORT_TEXT in parsed.examples[0].output
    assert parsed.warnings == [
        "The file is not UTF-8, so it was decoded as Windows-1252 (Western European); check that accented "
        "characters look right, or save the file as UTF-8 and upload it again."
    ]


def test_utf16_with_and_without_bom_is_decoded() -> None:
    """UTF-16 with and without BOM is decoded."""
    for filename, data in (hostile.utf16_bom_txt(), hostile.utf16_no_bom_txt()):
        parsed = one(filename, data)
        assert parsed.error is None, filename
        assert parsed.examples[0].output == f"Quarterly note\n\n{REPORT_TEXT}"
        assert parsed.warnings == []


def test_bad_utf8_bytes_are_replaced_with_a_warning() -> None:
    """Bad UTF-8 bytes are replaced with a warning."""
    parsed = one(*hostile.bad_utf8_txt())
    output = parsed.examples[0].output
    assert REPORT_TEXT in output  # the valid UTF-8 is kept, not re-read as Windows-1252
    assert "Broken �� bytes �( here." in output
    assert parsed.warnings == [
        "3 byte(s) were not valid UTF-8 and show as �; check the text around them after import."
    ]


def test_html_saved_as_txt_keeps_only_its_text() -> None:
    """HTML saved as .txt keeps only its text."""
    parsed = one(*hostile.html_as_txt())
    [example] = parsed.examples
    assert example.instruction == "Write the report: Annual Report"
    assert example.output == "# Annual Report\n\nRevenue grew by 4%.\n\n- Costs fell\n- Staff grew"
    assert "alert" not in example.output and "color" not in example.output and "Ignored" not in example.output
    assert parsed.warnings[0].startswith("This looks like a web page saved as .txt; only its text was kept.")


def test_executables_named_txt_are_refused() -> None:
    """Executables named .txt are refused."""
    parsed = one(*hostile.elf_as_txt())
    assert parsed.examples == []
    assert parsed.error == (
        "notes.txt is not a text file: it looks like a program (Linux executable). Upload the document "
        "itself, saved as text (.txt), Word (.docx), PDF, email (.eml) or a table (.csv)."
    )
    parsed = one(*hostile.exe_as_txt())
    assert parsed.error.startswith(
        "readme.txt is not a text file: it looks like a Windows program (.exe or .dll)."
    )


def test_a_pdf_named_txt_is_told_to_be_renamed() -> None:
    """A PDF named .txt is told to be renamed."""
    data = hostile.pdf_bytes(["Hello"])
    assert one("minutes.txt", data).error == (
        "minutes.txt is really a PDF document with the wrong extension. Rename it to minutes.pdf and "
        "upload it again."
    )


def test_a_sentence_starting_with_mz_is_still_text() -> None:
    """A sentence starting with MZ is still text."""
    parsed = one("mz.txt", b"MZ Holdings annual letter\n\nDear shareholders.")
    assert parsed.examples[0].instruction == "Write the report: MZ Holdings annual letter"


def test_binary_content_without_a_known_signature_is_refused() -> None:
    """Binary content without a known signature is refused."""
    parsed = one("data.md", bytes(range(256)) * 100)
    assert parsed.error == (
        "data.md is not a text file (it contains binary data). Open it in the program that made it and save "
        "it as text (.txt), Word (.docx) or PDF, then upload it again."
    )


def test_a_50_mb_single_line_is_refused() -> None:
    """A 50 MB single line is refused."""
    filename, data = hostile.long_line_txt()
    parsed = one(filename, data, max_file_bytes=60 * MB, max_line_chars=1_000_000)
    assert parsed.error == (
        "one-line.txt has a line longer than 1,000,000 characters, which a normal document never has (it may "
        "be a data dump or a damaged file). Open it, add line breaks or save it again as plain text, then "
        "upload it again."
    )


def test_a_line_just_over_the_limit_is_refused_too() -> None:
    """A line just over the limit is refused too."""
    parsed = one("wide.md", b"# Wide\n\n" + b"x" * 10_001 + b"\nend")
    assert parsed.error.startswith("wide.md has a line longer than 10,000 characters")
    assert one("ok.md", b"# Fine\n\n" + b"x" * 10_000).error is None


def test_empty_and_blank_files_are_refused() -> None:
    """Empty and blank files are refused."""
    assert one(*hostile.empty_txt()).error == (
        "empty.txt is empty. Check that you picked the right file, or save it again and upload it."
    )
    assert one("blank.md", b"  \n\n \t\n").error.startswith("blank.md is empty.")
    assert one("nul.txt", b"\x00\x00\n").error is not None
