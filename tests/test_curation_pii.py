"""Tests for personal data detection and redaction: true positives and the business numbers to leave alone."""

import pytest

from app.curation.pii import find_pii, iban_checksum_ok, redact


def found(text: str) -> list[tuple[str, str]]:
    """(kind, matched text) of every match in `text`."""
    return [(match.kind, match.text) for match in find_pii(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to jane.doe@example.co.uk today.", ("email", "jane.doe@example.co.uk")),
        ("cc: ops+billing@acme-corp.com,", ("email", "ops+billing@acme-corp.com")),
        ("Call me on +44 20 7946 0958 tomorrow.", ("phone", "+44 20 7946 0958")),
        ("Berlin office +49 (0)30 1234567.", ("phone", "+49 (0)30 1234567")),
        ("Ring 0044 20 7946 0958 please", ("phone", "0044 20 7946 0958")),
        ("Our London desk: 020 7946 0958", ("phone", "020 7946 0958")),
        ("Paris: 01 23 45 67 89", ("phone", "01 23 45 67 89")),
        ("Mobile 06-12345678", ("phone", "06-12345678")),
        ("Tel: 0612345678", ("phone", "0612345678")),
        ("US office (555) 123-4567.", ("phone", "(555) 123-4567")),
        ("Toll free 1-800-555-0199", ("phone", "1-800-555-0199")),
        ("Or 555.123.4567 after six", ("phone", "555.123.4567")),
        ("Pay to DE89 3704 0044 0532 0130 00 EUR", ("iban", "DE89 3704 0044 0532 0130 00")),
        ("IBAN: DE89370400440532013000.", ("iban", "DE89370400440532013000")),
        ("GB82 WEST 1234 5698 7654 32", ("iban", "GB82 WEST 1234 5698 7654 32")),
        ("NL91ABNA0417164300", ("iban", "NL91ABNA0417164300")),
    ],
)
def test_finds_personal_data(text: str, expected: tuple[str, str]) -> None:
    """Each common format is found, with exactly the right span."""
    assert found(text) == [expected]
    match = find_pii(text)[0]
    assert text[match.start : match.end] == match.text


@pytest.mark.parametrize(
    "text",
    [
        "The meeting is on 2024-11-03 at 10:30.",
        "Delivered 03.11.2024, invoiced 03/11/2024.",
        "Invoice INV-2024-0042 is due.",
        "Order 0612345678 has shipped.",
        "Order no. 123-456-7890 was cancelled.",
        "Total: EUR 12 500 000 or € 1.234.567,89 or 1,250,000 USD.",
        "We sold 1.234.567 units in 2019-2024.",
        "Customer number 4711 0815 3344",
        "Version 0.12345678 of the model.",
        "Room 1204, ext. 42, page 12-15.",
        "Ticket #20241103 is closed.",
        "A price of 1299.99 EUR per unit.",
        "Reference 2024-11-03 1234567.",
        "The user@localhost account is local.",
        "Account DE88 3704 0044 0532 0130 00 (bad check digits).",
        "XX89 3704 0044 0532 0130 00 is not a country.",
    ],
)
def test_leaves_business_numbers_alone(text: str) -> None:
    """Dates, amounts, invoice/order numbers and IBANs with a bad checksum are not personal data."""
    assert found(text) == []


def test_several_kinds_in_order_without_overlap() -> None:
    """Matches come in text order; the digits inside an IBAN are not also reported as a phone."""
    text = "Mail a@b.io, call +31 20 123 4567, pay NL91 ABNA 0417 1643 00."
    assert [kind for kind, _ in found(text)] == ["email", "phone", "iban"]


def test_iban_checksum() -> None:
    """The mod-97 check accepts the registry example and rejects a one-digit change."""
    assert iban_checksum_ok("GB82WEST12345698765432")
    assert not iban_checksum_ok("GB82WEST12345698765433")


def test_redact_replaces_each_match() -> None:
    """Placeholders replace the data, and the rest of the text is kept exactly."""
    text = "Dear Jane (jane@example.com, +44 20 7946 0958), IBAN GB82 WEST 1234 5698 7654 32. Thanks!"
    assert redact(text) == "Dear Jane ([EMAIL], [PHONE]), IBAN [IBAN]. Thanks!"
    assert redact("Nothing personal on 2024-11-03.") == "Nothing personal on 2024-11-03."


def test_long_unbroken_text_is_fast() -> None:
    """A very long token without spaces does not trigger catastrophic regex backtracking."""
    text = "a" * 200_000 + "@" + "1-" * 50_000
    assert find_pii(text) == []
