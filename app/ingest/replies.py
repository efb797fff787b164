"""Email replies: where the quoted message starts, whom it quotes, and which lines are the reply.

Replies come top-posted (the answer above "On … wrote:" or an Outlook "From: / Sent:" block),
bottom-posted or interleaved (answers below or between `>` quoted lines), in many languages.
"""

import email.utils
import re
from dataclasses import dataclass

VERBS = (
    r"wrote|writes|schrieb|a écrit|a ecrit|escribió|escribio|schreef|ha scritto|escreveu|skrev|kirjoitti|"
    r"napisał\(a\)|napisał|napisała|написал\(а\)|написал|написала|написав|пишет|írta|napsal\(a\)|napsal|"
    r"yazdı|έγραψε|scrise|je napisal|kirjutas|rašė|rakstīja"
)
# Verb last: "On Mon, 3 Mar 2025 at 10:00, Jane <jane@x.com> wrote:" and its translations.
VERB_LAST = re.compile(rf"^(?P<head>.{{1,300}}?)\s*(?:{VERBS})\s*:$", re.I)
# Some programs drop the colon or frame the line: "On … John <j@x.com> wrote", "---- On … wrote ----" (Zoho).
VERB_LAST_BARE = re.compile(rf"^(?P<head>.{{1,300}}?)\s*(?:{VERBS})\s*-*$", re.I)
# Verb first: "Am 3. März 2025 um 10:00 schrieb Jane <jane@x.com>:", "… skrev Jane <…>:", "… schreef …:".
VERB_FIRST = re.compile(
    r"^(?P<head>.{1,200}?)\b(?:schrieb|skrev|schreef|escribió)\s+(?P<name>.{1,150}?)\s*:$", re.I
)
# No verb at all: "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:" (Gmail in some languages).
ADDRESS_LAST = re.compile(r"^(?P<head>.{0,200}\d.{0,200}?)<[^<>\s]+@[^<>\s]+>\s*:$")
# How attributions start: a lead word ("On", "Am", "Le", "Il giorno"), a date or a weekday and a date.
LEAD = re.compile(
    r"^(?:-+\s*)?(?:(?:on|am|le|el|op|il|il giorno|in data|em|den|dne|w dniu|the)\b|\d{1,4}[./-]|"
    r"\w{2,4}[.,]?\s+\d)",
    re.I,
)
TIME = re.compile(r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[ap]\.?m\.?)?(?:\s*uhr)?", re.I)
TIMEZONE = re.compile(
    r"^[\s,]*(?:[+-]\d{2}:?\d{2}|\(?(?:gmt|utc|cet|cest|est|edt|pst|pdt)\b[^,)]*\)?|uhr\b)", re.I
)
DATE_WORDS = re.compile(r"\b(?:at|um|à|a las|alle|alle ore|om|kl\.?|klo|às|в|о|г\.|kello)\s*$", re.I)
ORIGINAL = re.compile(
    r"^[-=_*\s]*(?:original message|original|ursprüngliche nachricht|message d'origine|forwarded message|"
    r"mensaje original|oorspronkelijk bericht|doorgestuurd bericht|messaggio originale|"
    r"oprindelig (?:besked|meddelelse)|"
    r"ursprungligt meddelande|alkuperäinen viesti|wiadomość oryginalna|исходное сообщение|mensagem original|"
    r"nachricht weitergeleitet|message transféré)[-=_*\s]*$|"
    r"^(?:begin forwarded message|inizio messaggio inoltrato|début du message réexpédié|"
    r"anfang der weitergeleiteten nachricht|comienzo del mensaje reenviado|begin doorgestuurd bericht)\s*:$|"
    r"^-{5,}\s*\w.{0,40}?-{5,}$",
    re.I,
)
RULE = re.compile(r"^(?:_{10,}|-{10,}|={4,})$")  # the line mail programs put above a quoted header block
HEADER = re.compile(
    r"^\*?\s*(?P<key>from|von|de|van|fra|från|od|от|da|mittente|sent|gesendet|envoyé(?: le)?|enviado(?: el)?|"
    r"verzonden|date|datum|dato|data|wysłano|skickat|отправлено|message du|inviato|"
    r"to|an|à|a|aan|para|til|till|do|кому|per|cc|bcc|copie à|kopie|"
    r"subject|betreff|objet|asunto|onderwerp|emne|ämne|temat|тема|oggetto|assunto|sujet)"
    r"\s*\*?\s*:\s*\*?\s*(?P<value>.*)$",
    re.I,
)
HEADER_KEYS = {
    "from": {"from", "von", "de", "van", "fra", "från", "od", "от", "da", "mittente"},
    "date": {"sent", "gesendet", "envoyé", "envoyé le", "enviado", "enviado el", "verzonden", "date", "datum",
             "dato", "data", "wysłano", "skickat", "отправлено", "message du", "inviato"},
    "to": {"to", "an", "à", "a", "aan", "para", "til", "till", "do", "кому", "per", "cc", "bcc", "copie à",
           "kopie"},
    "subject": {"subject", "betreff", "objet", "asunto", "onderwerp", "emne", "ämne", "temat", "тема",
                "oggetto",
                "assunto", "sujet"},
}  # fmt: skip
FIELD = {key: field for field, keys in HEADER_KEYS.items() for key in keys}
MAX_ATTRIBUTION_LINES = 3
# A quoted line this long was probably wrapped by a mail program that lost the `>` of its next line.
WRAPPED_QUOTE_CHARS = 50
NOT_A_NAME = {"you", "vous", "du", "sie", "tú", "jij", "u"}
# "… 14:00 от Alexander L <…>:", "… 3:32 PM from j@x.com <…>:": the word for "from" before the name.
FROM_WORD = re.compile(r"^(?:from|od|от|fra|från)\s+|^(?:from|od|от|fra|från)$", re.I)


@dataclass
class Quoted:
    """A reply split from the message it quotes."""

    reply: str  # what the sender wrote (above, below and between the quoted lines)
    text: str  # the quoted message, unquoted, without its own older history
    sender: str = ""  # its writer's name ("" when only an address is known)
    subject: str = ""


@dataclass
class Marker:
    """Where quoted history starts: the marker's first line, the first quoted line, who and what it quotes."""

    line: int
    start: int
    sender: str = ""
    subject: str = ""
    quoting: bool = False  # the history is `>` quoted (so answers may sit below or between it)


def quote_depth(line: str) -> int:
    """How many `>` levels quote a line."""
    depth = 0
    for char in line.lstrip():
        if char == ">":
            depth += 1
        elif char != " ":
            break
    return depth


def _unquote(line: str) -> str:
    """A line with one level of `>` quoting removed."""
    stripped = line.lstrip()
    if stripped.startswith(">"):
        return stripped[2:] if stripped.startswith("> ") else stripped[1:]
    return line


def sender_name(value: str) -> str:
    """The display name in "Jane Doe <jane@x.com>", "Jane [mailto:jane@x.com]", '"Jane"'; "" without one."""
    # Outlook names a delegate after the writer: "Foo [mailto:foo@x.com] On Behalf Of baz@x.com".
    value = re.split(r"\bon behalf of\b", value, maxsplit=1, flags=re.I)[0]
    value = re.sub(r"\[mailto:[^\]]*\]|<mailto:[^>]*>|\(\s*[^()]*@[^()]*\)", " ", value).strip()
    if "<" in value:
        name = value.split("<", 1)[0] or email.utils.parseaddr(value)[0]
    elif "@" in value:
        name = email.utils.parseaddr(value)[0]
    else:
        name = value
    name = " ".join(name.replace('"', " ").split()).strip(" ,'")
    if not name or "@" in name or "<" in name or name.lower() in NOT_A_NAME:
        return ""
    return name


def _name_from_head(head: str) -> str:
    """The writer's name at the end of an attribution's first part ("On Mon, 3 Mar, 10:00, Jane Doe <…>")."""
    head = re.sub(r"\([^()]*@[^()]*\)?|<[^<>]*>?|<?[\w.+-]+@[\w.-]+>?", " ", head)
    # A name in quotes is the name, whatever words stand around it ('… keltezéssel, "Eszter" írta:').
    quoted = re.findall(r'"([^"\d]{1,80})"', head)
    if quoted:
        return sender_name(quoted[-1])
    head = re.sub(r"[<>]", " ", head).strip(" ,(")
    times = list(TIME.finditer(head))
    # "… 2012 at 6:26 PM, Megan One" → "Megan One"; "… at 3:45 PM, O'Brien, Patrick" keeps its comma;
    # without a time: "On Wed, Dec 9, Mister Example" → "Mister Example".
    after = TIMEZONE.sub("", head[times[-1].end() :]).strip(" ,") if times else ""
    name = after if times else head.rsplit(",", 1)[-1]
    if re.search(r"\d", name):  # the time came first: "11:00 AM, November 17, 2021, John"
        name = name.rsplit(",", 1)[-1]
    name = re.sub(r"^.*\b(?:пользователь|użytkownik|user)\s+", "", name.strip(), flags=re.I)
    name = FROM_WORD.sub("", name.strip())
    return sender_name(name) if not re.search(r"\d", name) else ""


def attribution(lines: list[str], index: int) -> tuple[str, int] | None:
    """(sender, lines it spans) when an "On … wrote:" line (wrapped over up to 3 lines) starts at `index`."""
    first = lines[index].strip()
    if not first or len(first) > 300:
        return None
    # Only a line that starts like an attribution (a date, "On", "Am") is read with the lines after it.
    spans = MAX_ATTRIBUTION_LINES if LEAD.match(first) else 1
    text = ""
    for span in range(1, spans + 1):
        if index + span > len(lines):
            return None
        raw = lines[index + span - 1]
        part = raw.strip()
        # Gmail wraps "<jane@x.com\n>:" and a quoting program then marks ">:" as a quoted line.
        if span > 1 and re.fullmatch(r">\s*:", part) and text.count("<") > text.count(">"):
            part = ">:"
        elif not part or (span > 1 and quote_depth(raw) != quote_depth(lines[index])):
            return None
        text = f"{text} {part}".strip() if span > 1 else part
        text = re.sub(r"<\s+", "<", re.sub(r"\s+>", ">", text))
        found = _match_attribution(text)
        if found is not None and _credible(text, lines, index + span):
            return found, span
        if text.endswith(":") or len(text) > 300:
            return None
    return None


def _match_attribution(text: str) -> str | None:
    """The sender named by an attribution line, "" when it names none, None when it is not one."""
    if match := VERB_FIRST.match(text):
        return sender_name(match.group("name"))
    if match := VERB_LAST.match(text):
        return _name_from_head(match.group("head"))
    # Without a colon only a line that starts like an attribution and holds a date and an address.
    match = VERB_LAST_BARE.match(text)
    if match and LEAD.match(text) and re.search(r"\d", text) and "@" in text:
        return _name_from_head(match.group("head"))
    if match := ADDRESS_LAST.match(text):
        return _name_from_head(match.group("head") + " <x@x>")
    return None


def _credible(text: str, lines: list[str], after: int) -> bool:
    """An attribution with a date, an address or a lead word ("On", "Am"), or one followed by `>` lines."""
    if re.search(r"\d|@", text) or LEAD.match(text):
        return True
    following = next((x.strip() for x in lines[after:] if x.strip()), "")
    return following.startswith(">")


def header_block(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    """The "From: / Sent: / To: / Subject:" lines from `start` (a wrapped value included), and the end."""
    headers: dict[str, str] = {}
    index = start
    while index < len(lines):
        match = HEADER.match(
            _unquote(lines[index]).strip() if quote_depth(lines[start]) else lines[index].strip()
        )
        if match:
            headers.setdefault(FIELD[match.group("key").lower()], match.group("value").strip(" *"))
            index += 1
            continue
        # Outlook wraps a long "From:" value onto the next line: one such line between headers is kept.
        nxt = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if headers and lines[index].strip() and HEADER.match(nxt) and len(lines[index]) < 120:
            last = list(headers)[-1]
            headers[last] = f"{headers[last]} {lines[index].strip()}"
            index += 1
            continue
        break
    return headers, index


def is_header_block(headers: dict[str, str]) -> bool:
    """Whether headers look like a quoted message's: From, and its date, recipient or subject."""
    return "from" in headers and len(headers) >= 2


def _skip_blank(lines: list[str], index: int) -> int:
    """The first non-empty line from `index`."""
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def find_marker(lines: list[str], quoted_too: bool = True) -> Marker | None:
    """Where quoted history starts, or None; `quoted_too`: a plain `>` line counts as a start."""
    skip_to = own_header_end(lines)
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line or index < skip_to:
            continue
        if quoted_too and line.startswith(">"):
            # Apple Mail and others quote the attribution too: the quoted message's heading reads it.
            return Marker(index, index, quoting=True)
        found = attribution(lines, index)
        if found:
            start = index + found[1]
            following = _skip_blank(lines, start)
            quoting = following < len(lines) and quote_depth(lines[following]) > quote_depth(raw)
            return Marker(index, start, found[0], quoting=quoting)
        if ORIGINAL.match(line) or RULE.match(line) or HEADER.match(line):
            start = index if HEADER.match(line) else _skip_blank(lines, index + 1)
            headers, end = header_block(lines, start)
            if is_header_block(headers) or (ORIGINAL.match(line) and not RULE.match(line)):
                return Marker(index, end, sender_name(headers.get("from", "")), headers.get("subject", ""))
    return None


def own_header_end(lines: list[str]) -> int:
    """Where the message's own "From: / Sent:" lines end when an export pasted them above its text, else 0."""
    start = _skip_blank(lines, 0)
    if start < len(lines) and HEADER.match(lines[start].strip()):
        headers, end = header_block(lines, start)
        if is_header_block(headers):
            return end
    return 0


def without_own_header(text: str) -> str:
    """The text without its own pasted header lines on top (see own_header_end)."""
    lines = text.split("\n")
    return "\n".join(lines[own_header_end(lines) :])


def _split_quoting(lines: list[str]) -> tuple[list[str], list[str]]:
    """Lines after a `>` quote's start: (answers between and below the quote, the quoted lines)."""
    answers: list[str] = []
    quoted: list[str] = []
    previous_quoted = ""
    for line in lines:
        if quote_depth(line):
            quoted.append(line)
            previous_quoted = line
        elif line.strip() and len(previous_quoted) >= WRAPPED_QUOTE_CHARS:
            quoted.append("> " + line)  # a wrapped quoted line that lost its `>`
        else:
            if line.strip() and quoted and answers and answers[-1].strip():
                answers.append("")
            answers.append(line)
            previous_quoted = ""
    return answers, quoted


def _quoted_heading(lines: list[str], marker: Marker) -> tuple[list[str], Marker]:
    """The quoted message without an attribution or header block on its first lines (read into `marker`)."""
    start = _skip_blank(lines, 0)
    if start >= len(lines):
        return lines, marker
    found = attribution(lines, start)
    if found:
        marker.sender = marker.sender or found[0]
        return lines[start + found[1] :], marker
    headers, end = header_block(lines, start)
    if is_header_block(headers) or ("subject" in headers and len(headers) >= 2):
        marker.sender = marker.sender or sender_name(headers.get("from", ""))
        marker.subject = marker.subject or headers.get("subject", "")
        return lines[end:], marker
    return lines, marker


def own_text(lines: list[str]) -> list[str]:
    """A quoted message's own text: above its own quote, and between and below its own `>` lines."""
    marker = find_marker(lines)
    if marker is None:
        return lines
    top = lines[: marker.line]
    if not marker.quoting:
        return top
    answers, _quoted = _split_quoting(lines[marker.start :])
    return top + ([""] if any(x.strip() for x in answers) else []) + answers


def split_quoted(body: str) -> Quoted | None:
    """Split an email body into the reply and the message it quotes; None when nothing is quoted."""
    lines = body.split("\n")
    marker = find_marker(lines)
    if marker is None:
        return None
    reply = lines[own_header_end(lines) : marker.line]
    if marker.quoting:
        answers, quoted = _split_quoting(lines[marker.start :])
        if any(x.strip() for x in answers):
            reply = [*reply, "", *answers]
        incoming = [_unquote(x) for x in quoted]
    else:
        incoming = lines[marker.start :]
    incoming, marker = _quoted_heading(incoming, marker)
    incoming = own_text(incoming)
    return Quoted("\n".join(reply), "\n".join(incoming), marker.sender, marker.subject)


def has_quoted_message(body: str) -> bool:
    """Whether a body quotes another message with an attribution or a header block (not just `>` lines)."""
    return find_marker(body.split("\n"), quoted_too=False) is not None
