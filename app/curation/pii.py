"""Personal data detection (email addresses, phone numbers, IBANs) and redaction.

Precision matters as much as recall here: business documents are full of dates, amounts, invoice
and order numbers, and flagging those as phone numbers would teach users to ignore the panel. So
phone candidates are accepted only in shapes that real numbers take (international prefix, a
national trunk 0, or the US 3-3-4 layout) and rejected next to words like "invoice" or a currency.
"""

import re
from dataclasses import dataclass

PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "iban": "[IBAN]"}

_EMAIL = re.compile(
    # The lookbehind anchors the local part at the start of a word, which keeps the scan linear.
    r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b"
)
# Country code, check digits, then the account part, optionally in groups of four separated by spaces.
# Patterns here start with a plain character class, which lets the regex engine skip ahead quickly;
# word boundaries are checked by a lookbehind placed after that first character, or in Python.
_IBAN = re.compile(r"[A-Z][A-Z]\d\d(?: ?[A-Z0-9]){11,30}")
# IBAN length per country (SWIFT registry); a candidate from any other country is not reported.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
# A "+", "(" or digit not glued to a word, an email or another number, then at least six more
# digits, each after up to three separators. Digits and separators never overlap, so a run can be
# read only one way and the regex cannot backtrack badly; shorter numbers never reach Python.
_PHONE_CANDIDATE = re.compile(r"[+(\d](?<![\w+@./,-].)(?:[ ()./-]{0,3}\d){6,}\)?(?![\w@]|[.,/:-]\d)")
_US_PHONE = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
# A date with a 19xx/20xx year anywhere inside ("2024-11-03 123456" is a date and a number, not a phone).
_DATE_INSIDE = re.compile(r"(?:19|20)\d\d[-./]\d{1,2}[-./]\d{1,2}\b|\b\d{1,2}[-./]\d{1,2}[-./](?:19|20)\d\d")
# Thousands grouping ("1.234.567", "12 500 000", "1,250"): an amount or a count.
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:([., ])\d{3})(?:\1\d{3})*")
_DECIMAL = re.compile(r"0[.,]\d+")
_PHONE_WORDS = re.compile(
    r"(?:\b(?:tel|tél|phone|telephone|telefon|call|ring|mobile|mob|cell|fax|whatsapp|sms|text|reach|"
    r"contact|handy|tlf)\b|\b[tmf]\s*:)[^\d]{0,20}$",
    re.IGNORECASE,
)
_NUMBER_WORDS = re.compile(
    r"\b(?:order|invoice|inv|ref|reference|account|acct|customer|client|ticket|case|po|sku|item|article|"
    r"serial|id|no|nr|number|contract|policy|batch|lot|tracking|vat|tax|iban|bic)\b[^\d]{0,12}$|#\s*$",
    re.IGNORECASE,
)
_CURRENCY_CODES = r"(?:EUR|USD|GBP|CHF|SEK|NOK|DKK|PLN|CZK|JPY|kr)"
_CURRENCY_BEFORE = re.compile(rf"(?:[$€£¥₹]|\b{_CURRENCY_CODES})\s?$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(rf"^\s?(?:[$€£¥₹%]|{_CURRENCY_CODES}\b)", re.IGNORECASE)
_CONTEXT_CHARS = 30
_DROP_SEPARATORS = str.maketrans("", "", " ()./-+")


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data found in a text: its kind ('email'|'phone'|'iban') and position."""

    kind: str
    start: int
    end: int
    text: str


def find_pii(text: str) -> list[PiiMatch]:
    """Email addresses, phone numbers and valid IBANs in `text`, ordered by position, non-overlapping."""
    found: list[PiiMatch] = []
    # The cheap containment check spares the email regex the many texts without an "@".
    if "@" in text:
        found.extend(PiiMatch("email", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text))
    found.extend(_ibans(text))
    taken = [(match.start, match.end) for match in found]
    for match in _phones(text):
        # Digits inside an IBAN or an email address are not a phone number.
        if not any(start < match.end and match.start < end for start, end in taken):
            found.append(match)
    return sorted(found, key=lambda match: match.start)


def redact(text: str) -> str:
    """`text` with each piece of personal data replaced by [EMAIL], [PHONE] or [IBAN]."""
    parts: list[str] = []
    position = 0
    for match in find_pii(text):
        parts.extend((text[position : match.start], PLACEHOLDERS[match.kind]))
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def iban_checksum_ok(iban: str) -> bool:
    """True when the compact IBAN passes the ISO 13616 mod-97 check."""
    rearranged = iban[4:] + iban[:4]
    # int(char, 36) maps 0-9 to themselves and A-Z to 10-35, exactly the IBAN letter conversion.
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _ibans(text: str) -> list[PiiMatch]:
    """IBANs with a known country length and a valid checksum."""
    matches: list[PiiMatch] = []
    for candidate in _IBAN.finditer(text):
        length = _IBAN_LENGTHS.get(candidate.group()[:2])
        if length is None or (candidate.start() and text[candidate.start() - 1].isalnum()):
            continue
        # The greedy pattern may run into a following word ("... 00 EUR"): cut at the country's length.
        end, seen = candidate.start(), 0
        while end < candidate.end() and seen < length:
            seen += text[end] != " "
            end += 1
        if seen < length or (end < len(text) and text[end].isalnum()):
            continue
        compact = text[candidate.start() : end].replace(" ", "")
        if iban_checksum_ok(compact):
            matches.append(PiiMatch("iban", candidate.start(), end, text[candidate.start() : end]))
    return matches


def _phones(text: str) -> list[PiiMatch]:
    """Phone numbers: candidates that have a real phone shape and no amount or reference-number context."""
    matches: list[PiiMatch] = []
    for candidate in _PHONE_CANDIDATE.finditer(text):
        value = candidate.group()
        if value.count("(") != value.count(")"):
            # "(see 020 7946 0958)": keep the number, drop the unbalanced bracket.
            value = value.strip("()")
        start = candidate.start() + candidate.group().index(value)
        end = start + len(value)
        before = text[max(0, start - _CONTEXT_CHARS) : start]
        if _is_phone(value, before, text[end : end + 6]):
            matches.append(PiiMatch("phone", start, end, value))
    return matches


def _is_phone(value: str, before: str, after: str) -> bool:
    """Whether a digit-and-separator run is a phone number, judged by its shape and the words around it."""
    digits = len(value.translate(_DROP_SEPARATORS))
    if digits < 7 or _DATE.fullmatch(value) or _DECIMAL.fullmatch(value) or _THOUSANDS.fullmatch(value):
        return False
    if _DATE_INSIDE.search(value):
        return False
    if _CURRENCY_BEFORE.search(before) or _CURRENCY_AFTER.search(after):
        return False
    phone_context = bool(_PHONE_WORDS.search(before))
    if not phone_context and _NUMBER_WORDS.search(before):
        return False
    has_separator = digits < len(value)
    if value.startswith("+"):
        return 8 <= digits <= 15
    if value.startswith("00"):
        return 10 <= digits <= 17  # the 00 prefix stands for "+"
    if _US_PHONE.fullmatch(value):
        return True
    if value.lstrip("(").startswith("0"):
        # A national number with its trunk 0 ("020 7946 0958", "06-12345678"); a bare run of digits
        # could as well be a customer number, so it counts only when the text says it is a phone.
        return 9 <= digits <= 12 and (has_separator or phone_context)
    # Anything else ("2019-2024", "12 500 000", "4711 0815") is a phone only when labelled as one.
    return phone_context and digits <= 15
