"""What closes an email and is not its message: sign-offs, names, contact blocks, taglines, legal footers."""

import re
from dataclasses import dataclass

# "Sent from my iPhone", "Get Outlook for iOS<https://aka.ms/…>", "Von meinem iPhone gesendet", …
MOBILE = re.compile(
    r"^(?:sent (?:from|with|via) (?:my |a |an )?[^,.;:!?]{1,40}|"
    r"via (?:mobile|phone|iphone|ipad|android|blackberry|my (?:phone|mobile|iphone|ipad|android))|"
    r"sent from (?:outlook|mail|yahoo mail)\b.{0,40}|"
    r"get outlook for .{1,40}|download outlook for .{1,40}|"
    r"(?:envoyé|envoye) (?:de|depuis|à partir de|a partir de) "
    r"(?:mon |ma |outlook|yahoo|l'application).{0,40}|"
    r"von meinem .{1,40} gesendet|gesendet von (?:meinem |outlook|mail|yahoo).{0,40}|"
    r"enviado (?:desde|de) (?:mi |meu |o |outlook|yahoo).{0,40}|"
    r"verzonden (?:vanaf|met|van) (?:mijn |outlook).{0,40}|"
    r"inviato da (?:il mio |iphone|ipad|outlook|yahoo|libero).{0,40}|skickat från (?:min |outlook).{0,40}|"
    r"sendt fra (?:min |outlook).{0,40}|lähetetty .{1,40}|wysłane z .{1,40}|отправлено (?:с|из) .{1,40})"
    r"(?:\s*<[^<>\s]+>)?$",  # "Sent from TypeApp<http://www.typeapp.com/…>"
    re.I,
)
# Confidentiality notices, disclaimers, mailing-list and notification footers: everything from here on goes.
FOOTER = re.compile(
    r"^\W*(?:confidential(?:ity)?\b|disclaimer\b|privileged\b|legal notice\b|"
    r"this (?:e-?mail|message|communication|transmission)\b.{0,160}\b(?:confidential|privileged|"
    r"intended (?:solely |only )?for)|if you (?:have )?received this (?:e-?mail|message|communication) "
    r"in error|the (?:information|contents?) (?:contained )?in this (?:e-?mail|message)\b|"
    r"please consider the environment before printing|you are receiving this because|"
    r"reply to this email directly|"
    r"le informazioni contenute in quest[oa] (?:messaggio|e-?mail|comunicazione)|"
    r"(?:nota|avviso|informativa) (?:di|sulla) riservatezza|diese e-?mail (?:enthält|kann) vertrauliche|"
    r"ce (?:message|courriel|e-?mail) (?:et|est|peut)\b.{0,80}(?:confidentiel|destinataire)|"
    r"este (?:mensaje|correo)\b.{0,80}confidencial|dit (?:e-?mail)?bericht is\b.{0,80}vertrouwelijk)",
    re.I,
)
LIST_FOOTER = re.compile(r"^\S+ mailing list$|^https?://\S+/(?:mailman/)?listinfo/\S*$", re.I)
# "CAUTION: This email originated from outside of the organization." stamped on top by a mail gateway.
BANNER = re.compile(
    r"^\W*(?:caution|warning|external(?: email| sender)?|attention)\b.{0,40}\b(?:outside|external)\b", re.I
)
CLOSINGS = (
    r"(?:best|kind|warm|warmest|many|with (?:best|kind|warm)?)?\s*(?:regards|wishes|thanks)|"
    r"thanks?(?: (?:again|so much|a lot|in advance))?|thank you(?: (?:again|so much|very much))?|tia|br|"
    r"cheers|sincerely|(?:yours )?(?:sincerely|truly|faithfully)|yours|all the best|best|talk soon|"
    r"mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|viele grüße|beste grüße|liebe grüße|"
    r"lg|mfg|gruß|grüße|cordialement|bien (?:à|a) vous|bien cordialement|salutations|merci|"
    r"met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|groeten|groet|saludos(?: cordiales)?|un saludo|"
    r"atentamente|cordiali saluti|distinti saluti|saluti|grazie|pozdrawiam|z poważaniem|atenciosamente|"
    r"(?:resto |rimango |restiamo |rimaniamo )?a (?:sua |vostra |tua )?(?:completa )?disposizione|"
    r"abraços|obrigad[oa]|med venlig hilsen|venlig hilsen|mvh|hilsen|med vänlig(?:a)? hälsning(?:ar)?|"
    r"vänliga hälsningar|hälsningar|med vennlig hilsen|ystävällisin terveisin|terveisin|"
    r"с уважением|спасибо|с наилучшими пожеланиями|祝好|此致|敬礼|顺祝商祺|谢谢|よろしくお願いします|以上"
)
# "Best regards,", "Thanks, Jane", "Cheers 🎉": a closing, maybe a name, maybe punctuation or an emoji.
CLOSING = re.compile(rf"^(?:{CLOSINGS})(?P<name>[ \t]*,[ \t]*[\w .'-]{{1,40}})?(?:[\s,.!]|[^\w\s])*$", re.I)
DASH_NAME = re.compile(r"^[-~–—/]\s?\w[\w.'-]*(?:\s+(?:[A-Z][\w.'-]*|de|van|von|der|den|da|di|la|le)){0,4}$")
NAME_WORD = re.compile(
    r"^(?:[A-Z\u00c0-\u024f\u0400-\u042f][\w.'’-]*|[A-Z]\.?|de|van|von|der|den|la|le|da|di|&)$"
)
CONTACT_TOKEN = re.compile(
    r"\+?\(?\d[\d ().-]{6,}\d|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:https?://|www\.)\S+", re.I
)
CONTACT_LABEL = re.compile(
    r"^(?:tel|phone|mobile|mob|cell|fax|direct|office|switchboard|email|e-mail|web|t|m|f|e|w|p|"
    r"my (?:phone |mobile |cell )?number(?: is)?)\s*[.:]",
    re.I,
)
ADDRESS = re.compile(
    r"^\d+[\w\s.,'-]*\b(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|square|sq|"
    r"place|pl|court|ct|straße|strasse|str)\b|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b|, [A-Z]{2} \d{5}\b",
)
SEPARATOR = re.compile(r"^[\s_\-=*~—–]+$")
SIGNATURE_MARK = re.compile(r"^(?:--|—-|-- ?|__)$")
MAX_NAME_CHARS = 50
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
MAX_CJK_NAME_CHARS = 12
# A signature block without a closing starts at a rule line, a "Name | Title | Company" line or a name,
# holds a phone number, email or labelled contact line, and is short.
RULE_LINE = re.compile(r"^(?:_{5,}|-{5,}|={5,}|—{3,})$")
MAX_BLOCK_LINES = 12
MAX_TITLE_CHARS = 60
# A closing is looked for among the message's last lines only: one early on is part of the text.
TAIL_LINES = 25
# Without a sign-off, at most this many name and contact lines are taken off the end.
MAX_TRAILING_LINES = 6


@dataclass
class Cleaned:
    """An email's own text without what closes it, and whether anything was removed."""

    text: str
    removed: bool


def is_contact(line: str) -> bool:
    """Whether a line is signature contact detail: a phone number, an email or postal address."""
    text = line.strip().strip("|•·–-").strip()
    if not text or len(text) > 100:
        return False
    if CONTACT_LABEL.match(text) or ADDRESS.search(text):
        return True
    tokens = [t for t in CONTACT_TOKEN.findall(text) if not t.lower().startswith(("http", "www"))]
    # Nothing but phone numbers, addresses and separators once the contact tokens are gone.
    return bool(tokens) and not re.sub(r"[\W_]+", "", CONTACT_TOKEN.sub("", text))


def looks_like_name(line: str, after_closing: bool = True) -> bool:
    """Whether a line is a name ("Anders Andersen", "HAHA LOLO"); under a closing also "The Sync Team."."""
    text = line.strip()
    if after_closing:
        text = text.rstrip(".")
    if not text or len(text) > MAX_NAME_CHARS or text.endswith((",", ".", ":", ";", "?", "!")):
        return False
    if DASH_NAME.match(text):
        return True
    if CJK.search(text):
        return len(text) <= MAX_CJK_NAME_CHARS and not re.search(r"[。！？，、]", text)
    words = text.replace("|", " ").split()
    if not 0 < len(words) <= 6 or any(c.isdigit() for c in text) or not any(len(w) > 1 for w in words):
        return False
    return all(NAME_WORD.match(w) for w in words)


def _last_content(lines: list[str]) -> int | None:
    """The index of the last non-empty line."""
    return next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), None)


def _cut_at(lines: list[str], pattern: re.Pattern[str], start: int = 0) -> list[str]:
    """The lines before the first one from `start` on that matches `pattern`."""
    for index in range(start, len(lines)):
        if pattern.match(lines[index].strip()):
            return lines[:index]
    return lines


def _drop_banner(lines: list[str]) -> list[str]:
    """Without a gateway's "CAUTION: this email came from outside" paragraph at the top."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not BANNER.match(lines[first].strip()):
        return lines
    end = next((i for i in range(first, len(lines)) if not lines[i].strip()), len(lines))
    return lines[end:]


def _cut_footers(lines: list[str]) -> list[str]:
    """Without legal notices and mailing-list footers (and anything after them) in the message's tail."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    first = content[len(content) // 3] if len(content) > 3 else 0
    for index in range(first, len(lines)):
        text = lines[index].strip()
        if FOOTER.match(text) or LIST_FOOTER.match(text):
            lines = lines[:index]
            break
    return lines


def _closing_index(lines: list[str]) -> int | None:
    """The last sign-off line ("Best regards,", "Mvh") followed by nothing but a signature block."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    for index in reversed(content[-TAIL_LINES:]):
        if not CLOSING.match(lines[index].strip()) or index == content[0]:
            continue
        following = next((lines[i] for i in range(index + 1, len(lines)) if lines[i].strip()), None)
        if (
            following is None
            or looks_like_name(following)
            or SEPARATOR.match(following)
            or is_contact(following)
        ):
            return index
    return None


def _block_start(lines: list[str]) -> int | None:
    """Where a signature block with contact details starts when no closing line precedes it."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    for index in content[-MAX_BLOCK_LINES - 1 :]:
        line = lines[index].strip()
        if index == content[0]:
            continue
        rule = bool(RULE_LINE.match(line))
        if not (rule or line.count("|") >= 2 or looks_like_name(line, after_closing=False)):
            continue
        block = [lines[i] for i in content if i > index]
        if (rule or block) and any(is_contact(x) for x in [line, *block]) and all(map(_in_block, block)):
            return index
    return None


def _in_block(line: str) -> bool:
    """Whether a line can belong to a signature block: contact detail, a link, or a short title line."""
    text = line.strip()
    if is_contact(text) or CONTACT_TOKEN.search(text):
        return True
    return len(text) <= MAX_TITLE_CHARS and not text.endswith(("?", ".", "!", ":"))


def strip_signature(text: str, sender: str = "") -> Cleaned:
    """The text without its signature ("-- "), sign-off, name and contact block, tagline and footers."""
    original = [line.rstrip() for line in text.split("\n")]
    lines = _drop_banner(original)
    lines = _cut_at(lines, SIGNATURE_MARK)
    lines = _cut_at(lines, MOBILE)
    lines = _cut_footers(lines)
    closing = _closing_index(lines)
    block = _block_start(lines) if closing is None else None
    if closing is not None:
        lines = lines[:closing]
        # Closings come stacked ("Grazie / A disposizione / Alessandra"): the one above goes too.
        while (last := _last_content(lines)) and CLOSING.match(lines[last].strip()):
            lines = lines[:last]
    elif block is not None:
        lines = lines[:block]
    else:
        # No sign-off: a name (or the sender's name) and contact lines at the very end still go.
        for _ in range(MAX_TRAILING_LINES):
            last = _last_content(lines)
            if last is None or last == 0:
                break
            line = lines[last]
            named = looks_like_name(line, after_closing=False) or _is_sender(line, sender)
            if not (named or is_contact(line) or SEPARATOR.match(line)):
                break
            lines = lines[:last]
    while lines and (not lines[-1].strip() or SEPARATOR.match(lines[-1])):
        lines = lines[:-1]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    if not cleaned.strip():
        # Nothing but a closing ("Thanks!"): that is the whole message, not its signature.
        cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(_cut_at(original, SIGNATURE_MARK))).strip("\n")
    return Cleaned(cleaned, "".join(cleaned.split()) != "".join(text.split()))


def _is_sender(line: str, sender: str) -> bool:
    """Whether a short line is the sender's name, or part of it ("Joe" for "Joe Doe")."""
    words = {w.lower() for w in re.findall(r"\w{2,}", sender)}
    found = [w.lower() for w in re.findall(r"\w{2,}", line)]
    return bool(words) and 0 < len(found) <= 4 and len(line.strip()) <= MAX_NAME_CHARS and found[0] in words
