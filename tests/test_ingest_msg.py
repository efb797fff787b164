"""Outlook .msg files read like .eml (app.ingest.msg): real files from tests/corpus/msg, and broken ones.

The code-page, lying-HTML and non-email cases come from apache/poi's test files, which no package registry
ships: they live in the local corpus kept out of git (LASTMILE_FETCHED_CORPUS, /work/corpus-fetched by
default, see tests/corpus/msg/SOURCES.md) and those tests are skipped where it is absent.
"""

import os
from pathlib import Path

import pytest

from app.ingest.registry import parse_file
from app.ingest.types import ParsedFile
from tests.hostile_files import small_limits

CORPUS = Path(__file__).parent / "corpus" / "msg"
FETCHED = Path(os.environ.get("LASTMILE_FETCHED_CORPUS", "/work/corpus-fetched")) / "msg"
needs_fetched = pytest.mark.skipif(
    not FETCHED.is_dir(), reason="apache/poi's .msg files are kept out of git (no registry ships them)"
)


def one(name: str, data: bytes | None = None, folder: Path = CORPUS) -> ParsedFile:
    """The single ParsedFile a .msg gives (a corpus file, unless `data` is given)."""
    [parsed] = parse_file(name, (folder / name).read_bytes() if data is None else data, small_limits())
    return parsed


def fetched(name: str) -> ParsedFile:
    """The single ParsedFile a .msg of the local, uncommitted corpus gives."""
    return one(name, folder=FETCHED)


def test_an_outlook_message_becomes_an_email_example() -> None:
    """Subject and body come from the MAPI properties; the file keeps its format."""
    parsed = one("pypi-msg-parser-outer.msg")
    assert parsed.format == "msg" and parsed.error is None
    [example] = parsed.examples
    assert (example.instruction, example.output) == ("Write an email: outer subject", "Outer body")


@needs_fetched
@pytest.mark.parametrize(
    ("name", "instruction", "output"),
    [
        (
            "ASCII_CP1251_LCID1049.msg",
            "Write an email: Subject автоматически Subject",
            "Body автоматически Body",
        ),
        ("ASCII_UTF-8_CP1252_LCID1031.msg", "Write an email: Subject öäü Subject", "Body öäü Body"),
        ("HTMLBodyBinary_UTF-8.msg", "Write an email: Subject öäü Subject", "HTML öäü"),
    ],
)
def test_code_pages_are_honoured_and_second_guessed(name: str, instruction: str, output: str) -> None:
    """8-bit strings in the message's code page; a code page the bytes contradict is second-guessed."""
    [example] = fetched(name).examples
    assert (example.instruction, example.output) == (instruction, output)


@needs_fetched
def test_an_html_body_whose_meta_lies_is_detected() -> None:
    """Windows-1251 bytes under <meta charset=utf-8>: read as Cyrillic, not as replacement characters."""
    [example] = fetched("HTMLBodyBinary_CP1251.msg").examples
    assert example.output == "HTML автоматически"


@needs_fetched
def test_outlook_items_that_are_not_emails_are_refused_in_words() -> None:
    """A contact card or an appointment says what it is and what to upload instead."""
    assert fetched("msgClassContact.msg").error == (
        "msgClassContact.msg is a contact card saved from Outlook, not an email. Lastmile learns from "
        "emails: save the emails themselves (.msg or .eml) and upload those."
    )
    assert "is a calendar appointment saved from Outlook" in fetched("msgClassAppointment.msg").error


def test_a_bounce_saved_from_outlook_is_skipped() -> None:
    """A delivery failure notice goes the way an .eml one does: skipped as a bounce, not an example."""
    parsed = one("pypi-msg-parser-other.msg")
    assert parsed.examples == [] and parsed.skipped == ["bounce"] and parsed.error is None


def test_an_outlook_message_without_text_is_refused_in_words() -> None:
    """A message holding only blank lines and an attachment gives nothing to learn from, and says so."""
    parsed = one("npm-msgreader-test.msg")
    assert parsed.examples == [] and "has no text in its body" in (parsed.error or "")


@needs_fetched
def test_an_automatic_acknowledgement_is_skipped() -> None:
    """An auto-response from a no-reply address goes the way an .eml one does: skipped, not an example."""
    parsed = fetched("cyrillic_message.msg")
    assert parsed.examples == [] and parsed.skipped and parsed.error is None


def test_a_file_that_is_no_outlook_message_is_refused() -> None:
    """Text renamed .msg, or an OLE file cut short, gets advice rather than an internal error."""
    assert one("notes.msg", b"Just a note, renamed.\n").error.startswith(
        "notes.msg is not an Outlook message (.msg). In Outlook, open the email and choose File > Save As"
    )
    data = (CORPUS / "pypi-msg-parser-outer.msg").read_bytes()
    assert one("cut.msg", data[:2048]).error == (
        "cut.msg is a damaged Outlook message. Open it in Outlook and save it again (File > Save As), or "
        "save it as .eml, then upload it again."
    )
