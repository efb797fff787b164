"""The "Try with sample data" files: they parse like a real upload and carry the house style and flaws."""

import csv
import email
import email.policy
import io
import json
import mailbox
import re
from collections import Counter
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from app.curation.pii import find_pii
from app.ingest.registry import parse_file
from app.ingest.types import ExampleDraft, Limits, ParsedFile
from app.sample_data import DESCRIPTION, sample_files
from app.settings import Settings

SIGNATURE_PHONE = "+31 10 555 0"  # every staff signature's direct line starts like this
SIGNATURE_ADDRESS = "Havenkade 114, 3089 KL Rotterdam"
ETA = re.compile(r"ETA (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{1,2}) ([A-Z][a-z]{2}), \d\d:\d\d CES?T\b")
# The attribution line above the quote, as the brief's mail client writes it (" wrote:" is cut off).
ON_WROTE = re.compile(r"\nOn \w{3}, \d{1,2} \w{3} 20\d\d \d\d:\d\d, .+ <\S+@example\.(org|net)>$")
CATEGORIES = {"Delay", "Damage", "Billing", "Customs", "Booking"}
REPORT_HEADINGS = ["## Summary", "## Performance this month", "## Exceptions", "## Next steps"]


def _messages(data: bytes, tmp_path: Path) -> list[EmailMessage]:
    """The messages of an mbox, read by the stdlib (mailbox needs a file on disk)."""
    path = tmp_path / "sample.mbox"
    path.write_bytes(data)
    box = mailbox.mbox(path)
    try:
        return [email.message_from_bytes(raw.as_bytes(), policy=email.policy.default) for raw in box]
    finally:
        box.close()


def _split_reply(body: str) -> tuple[str, str, str]:
    """A reply body's own text, its "-- " signature block, and the quoted client message (unquoted)."""
    own, _, rest = body.partition("\n-- \n")
    signature, _, quoted = rest.partition(" wrote:\n")
    client = "\n".join(line.removeprefix(">").removeprefix(" ") for line in quoted.splitlines())
    return own, signature, client.strip()


def _files() -> dict[str, bytes]:
    """The sample files by name."""
    return dict(sample_files())


@pytest.fixture(scope="module")
def parsed() -> dict[str, list[ParsedFile]]:
    """Every sample file through the real parser registry, parsed once for the module."""
    limits = Limits.from_settings(Settings())
    return {name: parse_file(name, data, limits) for name, data in sample_files()}


def _examples(parsed: dict[str, list[ParsedFile]], name: str) -> list[ExampleDraft]:
    """The examples one sample file yielded."""
    return [example for result in parsed[name] for example in result.examples]


# --- The files themselves (stdlib only) -------------------------------------------------------------


def test_sample_files_lists_every_file_sorted() -> None:
    """sample_files returns the data files by relative path, sorted, and skips nothing else."""
    files = sample_files()
    names = [name for name, _ in files]
    assert names == sorted(names)
    assert len(names) == 16
    assert Counter(Path(name).suffix for name in names) == {
        ".eml": 5, ".md": 8, ".mbox": 1, ".csv": 1, ".jsonl": 1,
    }  # fmt: skip
    assert all(data and not name.startswith(".") and "__" not in name for name, data in files)
    assert "client-replies.mbox" in names and "announcements/2026-03-warehouse-move.eml" in names
    assert "\n" not in DESCRIPTION and "Brightwater" in DESCRIPTION


def test_mbox_messages_are_replies_with_quote_and_signature(tmp_path: Path) -> None:
    """Each mbox message is a threaded reply: Re: subject, headers, closing, signature, quoted client mail."""
    messages = _messages(_files()["client-replies.mbox"], tmp_path)
    assert len(messages) == 25
    for number, message in enumerate(messages, 1):
        assert message["Subject"].startswith("Re: "), number
        assert message["In-Reply-To"] and message["References"] == message["In-Reply-To"], number
        own, signature, client = _split_reply(message.get_content())
        first_name = message["From"].addresses[0].display_name.split()[0]
        assert own.rstrip().endswith(f"Kind regards,\n{first_name}\nBrightwater Client Care"), number
        assert SIGNATURE_PHONE in signature and SIGNATURE_ADDRESS in signature, number
        assert re.search(ON_WROTE, signature), number
        assert len(client.split()) > 10, number


def test_mbox_holds_exactly_one_duplicated_reply(tmp_path: Path) -> None:
    """The deliberate flaw: one reply appears twice, every other reply once."""
    messages = _messages(_files()["client-replies.mbox"], tmp_path)
    counts = Counter(message.get_content() for message in messages)
    assert sorted(counts.values()) == [1] * 23 + [2]


def test_announcements_are_standalone_emails() -> None:
    """The .eml files have no reply headers and no quoting, and close in the house style."""
    names = [name for name in _files() if name.endswith(".eml")]
    for name in names:
        message = email.message_from_bytes(_files()[name], policy=email.policy.default)
        assert not message["In-Reply-To"] and not message["Subject"].lower().startswith("re:"), name
        own, _, _ = _split_reply(message.get_content())
        assert "\n>" not in own and own.rstrip().endswith("\nBrightwater Client Care"), name


def test_reports_have_title_and_fixed_headings() -> None:
    """Each report has a "# Monthly report: <client>, <month year>" title and the four headings in order."""
    reports = {name: data.decode() for name, data in _files().items() if name.startswith("reports/")}
    assert len(reports) == 8
    for name, text in reports.items():
        assert re.match(r"# Monthly report: .+, [A-Z][a-z]+ 20\d\d\n", text), name
        assert re.findall(r"^## .+$", text, re.MULTILINE) == REPORT_HEADINGS, name
        assert 250 <= len(text.split()) <= 450, name


def test_tickets_and_bookings_have_the_expected_shape() -> None:
    """14 tickets over five categories with one left empty; 6 bookings with JSON outputs."""
    rows = list(csv.DictReader(io.StringIO(_files()["support-tickets.csv"].decode())))
    assert len(rows) == 14 and all(row["text"] for row in rows)
    assert set(Counter(row["category"] for row in rows)) == CATEGORIES | {""}
    assert [row["category"] for row in rows].count("") == 1
    bookings = [json.loads(line) for line in _files()["booking-extraction.jsonl"].decode().splitlines()]
    assert len(bookings) == 6
    for booking in bookings:
        assert booking["instruction"] == "Extract the booking details as JSON" and booking["input"]
        fields = json.loads(booking["output"])
        assert list(fields) == ["origin", "destination", "pallets", "pickup_date", "temperature_controlled"]
        assert isinstance(fields["pallets"], int) and isinstance(fields["temperature_controlled"], bool)
        date.fromisoformat(fields["pickup_date"])


def test_house_style_in_brightwater_text(tmp_path: Path) -> None:
    """Brightwater's own words say consignment (never shipment) and every ETA names the right weekday."""
    files = _files()
    texts: list[tuple[str, str, datetime]] = []
    for number, message in enumerate(_messages(files["client-replies.mbox"], tmp_path), 1):
        own = _split_reply(message.get_content())[0]
        texts.append((f"message {number}", own, parsedate_to_datetime(message["Date"])))
    for name in (name for name in files if name.endswith(".eml")):
        message = email.message_from_bytes(files[name], policy=email.policy.default)
        texts.append((name, _split_reply(message.get_content())[0], parsedate_to_datetime(message["Date"])))
    assert len(texts) == 30
    etas = 0
    for where, text, sent in texts:
        assert not re.search(r"\bshipments?\b", text, re.IGNORECASE), where
        for weekday, day, month in ETA.findall(text):
            when = datetime.strptime(f"{day} {month} {sent.year}", "%d %b %Y").date()
            if (sent.date() - when).days > 60:  # an ETA in January, written in December
                when = date(when.year + 1, when.month, when.day)
            assert when.strftime("%a") == weekday, f"{where}: ETA {weekday} {day} {month}"
            etas += 1
    assert etas >= 15


# --- Through the real parsers ---------------------------------------------------------------------------


def test_every_sample_file_parses(parsed: dict[str, list[ParsedFile]]) -> None:
    """No file is refused or needs a column mapping, and the totals and kinds are what the UI promises."""
    for name, results in parsed.items():
        assert len(results) == 1, name
        assert results[0].error is None, f"{name}: {results[0].error}"
        # A table whose columns the parser cannot map comes back with `columns` and no examples.
        assert results[0].examples, f"{name} yielded no examples (columns: {results[0].columns})"
    kinds = Counter(example.kind for results in parsed.values() for r in results for example in r.examples)
    assert set(kinds) == {"draft", "classify", "extract"}
    assert 55 <= sum(kinds.values()) <= 70
    assert kinds["draft"] == 25 + 5 + 8
    assert kinds["extract"] == 6


def test_reply_examples_keep_closing_and_drop_quote_and_signature(
    parsed: dict[str, list[ParsedFile]], tmp_path: Path
) -> None:
    """A reply becomes: the client's message as input; the reply, closing kept, quote and signature cut."""
    messages = _messages(_files()["client-replies.mbox"], tmp_path)
    examples = _examples(parsed, "client-replies.mbox")
    assert len(examples) == len(messages) == 25
    for number, (message, example) in enumerate(zip(messages, examples, strict=True), 1):
        _, _, client = _split_reply(message.get_content())
        longest_quoted_line = max(client.splitlines(), key=len)
        assert example.kind == "draft" and example.input.strip(), number
        assert "Kind regards" in example.output and "Brightwater Client Care" in example.output, number
        assert longest_quoted_line in example.input, number
        assert longest_quoted_line not in example.output and " wrote:" not in example.output, number
        assert SIGNATURE_PHONE not in example.output and SIGNATURE_ADDRESS not in example.output, number


def test_other_files_become_the_expected_examples(parsed: dict[str, list[ParsedFile]]) -> None:
    """Announcements and reports are drafts titled after the file; tickets classify; bookings extract."""
    for name in (name for name in parsed if name.endswith(".eml")):
        (example,) = _examples(parsed, name)
        assert example.kind == "draft" and "Kind regards" in example.output, name
        assert SIGNATURE_PHONE not in example.output, name
    for name in (name for name in parsed if name.startswith("reports/")):
        (example,) = _examples(parsed, name)
        assert example.kind == "draft" and "Monthly report: " in example.instruction, name
        assert all(heading.removeprefix("## ") in example.output for heading in REPORT_HEADINGS), name
    tickets = _examples(parsed, "support-tickets.csv")
    assert {example.kind for example in tickets} == {"classify"}
    assert {example.output for example in tickets} - {""} == CATEGORIES
    bookings = _examples(parsed, "booking-extraction.jsonl")
    assert len(bookings) == 6 and {example.kind for example in bookings} == {"extract"}


def test_the_three_flaws_are_there_to_be_found(parsed: dict[str, list[ParsedFile]]) -> None:
    """The health panel's material: a duplicated reply, a ticket without category, one report with PII."""
    replies = _examples(parsed, "client-replies.mbox")
    counts = Counter((example.instruction, example.input, example.output) for example in replies)
    assert sorted(counts.values()) == [1] * 23 + [2]

    # The parser either skips the empty-category row with a warning or keeps it with an empty output.
    tickets = parsed["support-tickets.csv"][0]
    empty = [example for example in tickets.examples if not example.output.strip()]
    assert (len(tickets.examples), len(empty)) == (14, 1) or (
        len(tickets.examples) == 13 and any("row" in warning.lower() for warning in tickets.warnings)
    )

    with_pii = sorted(
        name
        for name, results in parsed.items()
        for result in results
        for example in result.examples
        if find_pii(example.output)
    )
    assert with_pii == ["reports/2025-11-oakridge-toys.md"]
