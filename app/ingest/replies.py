"""Email text: where a reply's quoted history starts, whom it quotes, and stripping signatures/footers."""

import re
from dataclasses import dataclass

VERBS = r"(?:wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev|kirjoitti)"
# "On Mon, 3 Mar 2025 at 10:00, Jane Doe <jane@x.com> wrote:" and its translations.
ATTRIBUTION = re.compile(
    rf"^(?:(?:on|am|le|el|op|il|em|den|on)\b.{{3,300}}|.{{1,200}})\s{VERBS}\s*:\s*$", re.I
)
LEAD_WORD = re.compile(r"^(?:on|am|le|el|op|il|em|den)\s+", re.I)
TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?", re.I)
ORIGINAL = re.compile(
    r"^-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|forwarded message|"
    r"mensaje original|oorspronkelijk bericht)\s*-{2,}$",
    re.I,
)
RULE = re.compile(r"^_{10,}$")  # Outlook's line above a quoted header block
HEADER = re.compile(
    r"^\*?\s*(from|von|de|van|sent|gesendet|envoyé|enviado|verzonden|date|datum|to|an|à|aan|para|cc|bcc|"
    r"subject|betreff|objet|asunto|onderwerp)\s*\*?\s*:\s*(.*)$",
    re.I,
)
HEADER_KEYS = {
    "from": "from", "von": "from", "de": "from", "van": "from",
    "sent": "date", "gesendet": "date", "envoyé": "date", "enviado": "date", "verzonden": "date",
    "date": "date", "datum": "date",
    "to": "to", "an": "to", "à": "to", "aan": "to", "para": "to", "cc": "cc", "bcc": "cc",
    "subject": "subject", "betreff": "subject", "objet": "subject", "asunto": "subject",
    "onderwerp": "subject",
}  # fmt: skip
MOBILE = re.compile(
    r"^(?:sent from my .{1,40}|sent from (?:outlook|mail|yahoo mail)\b.{0,40}|get outlook for .{1,30}|"
    r"von meinem .{1,40} gesendet|envoyé de mon .{1,40})$",
    re.I,
)
FOOTER = re.compile(
    r"^\W*(?:confidential(?:ity)?\b|disclaimer\b|privileged\b|"
    r"this (?:e-?mail|message|communication|transmission)\b.{0,160}\b(?:confidential|privileged|"
    r"intended (?:solely |only )?for)|if you (?:have )?received this (?:e-?mail|message|communication) "
    r"in error|the (?:information|contents?) (?:contained )?in this (?:e-?mail|message)\b|"
    r"please consider the environment before printing)",
    re.I,
)
CLOSING = re.compile(
    r"^(?:(?:best|kind|warm|warmest|many|with)?\s*(?:regards|wishes|thanks)|thanks(?: again| so much)?|"
    r"thank you|cheers|sincerely|(?:yours )?(?:sincerely|truly|faithfully)|yours|all the best|best|"
    r"mit freundlichen grüßen|viele grüße|beste grüße|cordialement|bien à vous|met vriendelijke groet(?:en)?|"
    r"saludos|un saludo)(?P<name>[ \t]*,[ \t]*[\w .'-]{1,40})?[\s,.!]*$",
    re.I,
)
CONTACT_TOKEN = re.compile(r"\+?\d[\d ().-]{6,}\d|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:https?://|www\.)\S+", re.I)
CONTACT_LABEL = re.compile(
    r"^(?:tel|phone|mobile|mob|cell|fax|direct|office|switchboard|email|e-mail|web|t|m|f|e|w|p)\s*[.:]", re.I
)
ADDRESS = re.compile(
    r"^\d+[\w\s.,'-]*\b(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|square|sq|"
    r"place|pl|court|ct|straße|strasse|str)\b|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b|, [A-Z]{2} \d{5}\b",
)
SEPARATOR = re.compile(r"^[\s_\-=*~]+$")
MAX_SIGNATURE_LINES = 10


@dataclass
class Quoted:
    """A reply split from the message it quotes."""

    reply: str  # what the sender wrote
    text: str  # the quoted message, unquoted, without its own older history
    sender: str = ""
    subject: str = ""


def _attribution(lines: list[str], index: int) -> tuple[str, int] | None:
    """(sender, lines it spans) when an "On ... wrote:" line (maybe wrapped in two) starts at `index`."""
    line = lines[index].strip()
    # Mail programs wrap a long "On ... wrote:" line; only that form is looked for over two lines.
    wrapped = f"{line} {lines[index + 1].strip()}" if index + 1 < len(lines) and LEAD_WORD.match(line) else ""
    for span, text in ((1, line), (2, wrapped)):
        if not text or not ATTRIBUTION.match(text):
            continue
        following = next((x.strip() for x in lines[index + span :] if x.strip()), "")
        # A bare "Name wrote:" only counts when quoted lines follow it.
        if not LEAD_WORD.match(text) and not following.startswith(">"):
            return None
        head = re.split(rf"\s{VERBS}\s*:", text, maxsplit=1, flags=re.I)[0]
        head = LEAD_WORD.sub("", head)
        times = list(TIME.finditer(head))
        if times:
            head = head[times[-1].end() :]
        return head.rsplit(",", 1)[-1].strip(" ,"), span
    return None


def _header_block(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    """The "From: / Sent: / To: / Subject:" lines from `start`, and the index after them."""
    headers: dict[str, str] = {}
    index = start
    while index < len(lines) and (match := HEADER.match(lines[index].strip())):
        headers.setdefault(HEADER_KEYS[match.group(1).lower()], match.group(2).strip())
        index += 1
    return headers, index


def _is_header_block(headers: dict[str, str]) -> bool:
    """Whether headers look like a quoted message's (From and Sent/Date, and To or Subject)."""
    return "from" in headers and "date" in headers and ("to" in headers or "subject" in headers)


def _quote_start(lines: list[str]) -> tuple[int, int, str, str] | None:
    """Where quoted history starts: (marker line, first quoted line, sender, subject), or None."""
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        found = _attribution(lines, index)
        if found:
            return index, index + found[1], found[0], ""
        if ORIGINAL.match(line) or RULE.match(line) or HEADER.match(line):
            start = index if HEADER.match(line) else index + 1
            while start < len(lines) and not lines[start].strip():
                start += 1
            headers, end = _header_block(lines, start)
            if _is_header_block(headers) or (ORIGINAL.match(line) and "from" in headers):
                return index, end, headers.get("from", ""), headers.get("subject", "")
        if line.startswith(">"):
            return index, index, "", ""
    return None


def _unquote(line: str) -> str:
    """A line with one level of `>` quoting removed."""
    stripped = line.lstrip()
    if stripped.startswith(">"):
        return stripped[2:] if stripped.startswith("> ") else stripped[1:]
    return line


def split_quoted(body: str) -> Quoted | None:
    """Split an email body into the reply and the message it quotes; None when nothing is quoted."""
    lines = body.split("\n")
    found = _quote_start(lines)
    if found is None:
        return None
    marker, start, sender, subject = found
    reply_lines, quoted_lines = lines[:marker], lines[start:]
    if not any(x.strip() for x in reply_lines):
        # Written below the quote (bottom-posting): the unquoted lines after it are the reply.
        reply_lines = [x for x in quoted_lines if x.strip() and not x.lstrip().startswith(">")]
        quoted_lines = [x for x in quoted_lines if x.lstrip().startswith(">") or not x.strip()]
    incoming = [_unquote(x) for x in quoted_lines]
    # The quoted message may quote older ones in turn: keep only its own text.
    inner = _quote_start(incoming)
    if inner is not None and any(x.strip() for x in incoming[: inner[0]]):
        incoming = incoming[: inner[0]]
    return Quoted("\n".join(reply_lines), "\n".join(incoming), sender, subject)


def _is_contact(line: str) -> bool:
    """Whether a line is signature contact detail: phone, email, web address, postal address."""
    text = line.strip().strip("|•·–-").strip()
    if not text or len(text) > 100:
        return False
    if CONTACT_LABEL.match(text) or ADDRESS.search(text):
        return True
    # Nothing but phone numbers, addresses and separators once the contact tokens are gone.
    return bool(CONTACT_TOKEN.search(text)) and not re.sub(r"[\W_]+", "", CONTACT_TOKEN.sub("", text))


def _cut_first(lines: list[str], pattern: re.Pattern[str], first: int = 0) -> list[str]:
    """The lines before the first one from `first` on that matches `pattern`."""
    for index in range(first, len(lines)):
        if pattern.match(lines[index].strip()):
            return lines[:index]
    return lines


def _closing_index(lines: list[str]) -> int | None:
    """The last "Best regards," style closing line among the message's last lines."""
    candidates = [i for i, line in enumerate(lines) if line.strip()][-15:]
    return next((i for i in reversed(candidates) if CLOSING.match(lines[i].strip())), None)


def _strip_footers(lines: list[str]) -> list[str]:
    """Remove confidentiality notices and signature contact blocks; the closing and name stay."""
    closing = _closing_index(lines)
    # A notice starts a paragraph after the closing (or, without one, in the last part of the mail).
    first = closing + 1 if closing is not None else len(lines) * 3 // 5
    for index in range(first, len(lines)):
        paragraph_start = index == 0 or not lines[index - 1].strip() or index == first
        if paragraph_start and FOOTER.match(lines[index].strip()):
            lines = lines[:index]
            break
    if closing is not None and closing < len(lines):
        keep = closing
        match = CLOSING.match(lines[closing].strip())
        after = next((i for i in range(closing + 1, min(closing + 3, len(lines))) if lines[i].strip()), None)
        named = match is not None and bool(match.group("name"))
        if (
            not named
            and after is not None
            and len(lines[after].strip()) <= 60
            and not _is_contact(lines[after])
        ):
            keep = after  # the name under the closing
        tail = [x for x in lines[keep + 1 :] if x.strip()]
        if (
            tail
            and len(tail) <= MAX_SIGNATURE_LINES
            and all(len(x) <= 100 for x in tail)
            and any(_is_contact(x) for x in tail)
        ):
            lines = lines[: keep + 1]
    while lines and (not lines[-1].strip() or SEPARATOR.match(lines[-1]) or _is_contact(lines[-1])):
        lines = lines[:-1]
    return lines


def clean_body(text: str) -> str:
    """An email body without its signature block ("-- "), phone sign-offs, contact blocks and notices."""
    lines = [line.rstrip() for line in text.split("\n")]
    lines = _cut_first(lines, re.compile(r"^--$"))
    lines = _cut_first(lines, MOBILE)
    lines = _strip_footers(lines)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
