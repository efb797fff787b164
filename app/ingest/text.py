"""Plain text (.txt) and markdown (.md) reports."""

from app.ingest.decoding import (
    check_line_bytes,
    check_line_chars,
    decode_text,
    display_name,
    html_to_text,
    looks_like_html,
)
from app.ingest.reports import first_line_title, markdown_title, report_file
from app.ingest.types import IngestError, Limits, ParsedFile


def parse_text(filename: str, data: bytes, limits: Limits, fmt: str) -> ParsedFile:
    """A .txt or .md file (`fmt`) as a report: one example, or parts that fit the model when long."""
    check_line_bytes(filename, data, limits.max_line_chars)
    decoded = decode_text(filename, data)
    text, warnings = decoded.text, list(decoded.warnings)
    if looks_like_html(text):
        # A saved web page still holds the report's words: keep them rather than refuse the file.
        text = html_to_text(text, markdown=True)
        warnings.append(
            f"This looks like a web page saved as .{fmt}; only its text was kept. Check the result, or "
            "save the page as plain text and upload that instead."
        )
    check_line_chars(filename, text, limits.max_line_chars)
    if not text.strip():
        raise IngestError(
            f"{display_name(filename)} has no text in it. Check that you picked the right file, "
            "or paste the text into a new file and upload that."
        )
    title = (
        markdown_title(text, filename, setext=fmt == "md")
        if fmt == "md"
        else first_line_title(text, filename)
    )
    return report_file(filename, data, fmt, title, text, limits, warnings, setext=fmt == "md")
