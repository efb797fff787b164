"""Mail no person wrote (bounces, auto-replies, newsletters, list digests): told apart so it is skipped."""

import email.message
import email.utils
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A kind of non-human mail, in the words the upload page uses."""

    one: str  # "bounce", in counts: "1 bounce"
    many: str  # "bounces", in counts: "2 bounces"
    what: str  # "a delivery failure notice (a bounce)", in "x.eml is …"


KINDS = {
    "bounce": Kind("bounce", "bounces", "a delivery failure notice (a bounce)"),
    "out-of-office": Kind("out-of-office reply", "out-of-office replies", "an automatic out-of-office reply"),
    "auto-reply": Kind("automatic reply", "automatic replies", "an automatic reply"),
    "newsletter": Kind("newsletter", "newsletters", "a newsletter or other bulk mailing"),
    "mailing-list": Kind("mailing-list message", "mailing-list messages", "a mailing-list message or digest"),
    "receipt": Kind("read receipt", "read receipts", "an automatic read receipt"),
    "notification": Kind(
        "automatic notification", "automatic notifications", "an automatic notification or report"
    ),
}

DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mail\.?delivery\.?subsystem)$", re.I)
NO_REPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|noreply[-.\w]*|bounces?(?:[-+.].*)?)$", re.I)
BOUNCE_SUBJECT = re.compile(
    r"undeliver(?:able|ed)|non-?deliver|delivery (?:status notification|failure|has failed|failed|problem|"
    r"report|notification)|mail delivery (?:failed|failure|system)|returned mail|failure notice|"
    r"could not be delivered|unzustellbar|nicht zustellbar|non remis|no se puede entregar|onbestelbaar|"
    r"delivery status|warning: message .* delayed|message (?:delayed|not delivered|rejected)",
    re.I,
)
# What a delivery failure notice says at its top ("Your message could not be delivered to …").
BOUNCE_BODY = re.compile(
    r"\b(?:could|can)(?:\s?not|n't) be delivered|\bwas not delivered|\bundeliverable to\b|"
    r"\bdelivery to the following recipients? (?:has )?failed|n'a pas pu [eê]tre (?:d[eé]livr|remis)|"
    r"\bkonnte nicht zugestellt werden|\bno (?:se )?pudo (?:ser )?entregar",
    re.I,
)
BOUNCE_BODY_CHARS = 600
# Auto-replies put these before the original subject ("Automatic reply: Invoice 42").
AUTO_REPLY_SUBJECT = re.compile(
    r"^\W*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response|respons|respon[sd]er)|autoreply|auto:|"
    r"automatische antwort|réponse automatique|respuesta automática|automatisch antwoord|"
    r"risposta automatica)",
    re.I,
)
AWAY_SUBJECT = re.compile(
    r"^\W*(?:out of (?:the )?office|ooo\b|abwesenheit|absence|absent|away (?:until|from)|on vacation|"
    r"fuera de la oficina|afwezig|fuori (?:sede|ufficio)|vacation reply)",
    re.I,
)
# A body that says its writer is away ("I am out of the office until…", "Ich bin bis … nicht im Büro").
AWAY = re.compile(
    r"\b(?:i am|i'm|i will be|i'll be)\s+(?:currently\s+|now\s+)?(?:out of (?:the )?office|on (?:annual |"
    r"parental |maternity |sick )?leave|on (?:vacation|holiday)|away|travell?ing|out of town)|"
    r"\bich bin (?:bis|vom|derzeit|zurzeit|momentan)\b|\bje suis (?:absent|absente)\b|"
    r"\bestoy fuera\b|\bik ben (?:afwezig|niet aanwezig)\b|\bsono (?:assente|fuori)\b",
    re.I,
)
# …and says when they are back or whom to ask: without headers, both must be there.
BACK = re.compile(
    r"\b(?:return(?:ing)?|back (?:on|in|at)|limited access|until|respond|get back|zurück|retour|"
    r"regreso|terug|rientro|urgent)",
    re.I,
)
AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply", "x-vacation")
LIST_HEADERS = ("list-post", "list-archive", "list-help", "x-mailing-list")
MAX_AWAY_BODY_CHARS = 1500
QUOTE_START = re.compile(r"\n\s*>|\n[^\n]*\bwrote:\s*\n|\n-+\s*original message", re.I)


def _header(message: email.message.Message, name: str) -> str:
    """A header's raw value, lower-case and on one line ("" when missing)."""
    return " ".join(str(message.get(name, "")).split()).lower()


def _sender_local_part(message: email.message.Message) -> str:
    """The local part of the From address (or of Sender / Return-Path without one), lower-case."""
    for name in ("From", "Sender", "Return-Path"):
        address = email.utils.parseaddr(str(message.get(name, "")))[1]
        if address:
            return address.split("@", 1)[0].lower()
    return ""


def _report(message: email.message.Message) -> str:
    """ "bounce", "receipt" or "notification" when the message or a part is a machine-readable report."""
    kinds = {
        "delivery-status": "bounce",
        "global-delivery-status": "bounce",
        "disposition-notification": "receipt",
        "feedback-report": "notification",
    }
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "multipart/report":
            return kinds.get(str(part.get_param("report-type", "") or "").lower(), "notification")
        if ctype.startswith("message/") and ctype[8:] in kinds:
            return kinds[ctype[8:]]
    return ""


def _away(subject: str, body: str, strict: bool) -> bool:
    """Whether subject or (short) body says the writer is away.

    `strict` (no header marks the mail automatic): the body must say so too, and when they are back.
    """
    # Only the message's own words count, not a message it quotes.
    text = QUOTE_START.split(body, maxsplit=1)[0].strip()
    said = len(text) <= MAX_AWAY_BODY_CHARS and bool(AWAY.search(text))
    if not strict:
        return said or bool(AWAY_SUBJECT.search(subject))
    return said and bool(AWAY_SUBJECT.search(subject) or BACK.search(text))


def _auto_reply(message: email.message.Message, subject: str) -> bool:
    """Whether headers or subject mark an automatic reply (RFC 3834, vendor headers, "Automatic reply:")."""
    if _header(message, "Auto-Submitted").startswith("auto-replied"):
        return True
    if _header(message, "Precedence") == "auto_reply":
        return True
    if any(message.get(h) for h in AUTO_REPLY_HEADERS) or AUTO_REPLY_SUBJECT.search(subject):
        return True
    # Exchange marks its own auto-replies so; ordinary Outlook mail may carry the first header alone.
    return "all" in _header(message, "X-Auto-Response-Suppress") and bool(
        message.get("X-MS-Exchange-Inbox-Rules-Loop")
    )


def _bulk(message: email.message.Message, subject: str) -> str | None:
    """ "mailing-list" or "newsletter" when list or bulk headers say the message went to many people."""
    precedence = _header(message, "Precedence")
    replying = bool(message.get("In-Reply-To") or re.match(r"^\s*(?:re|aw|sv|antw)\s*:", subject, re.I))
    digest = message.get_content_type() == "multipart/digest"
    if precedence == "list" or digest or any(message.get(h) for h in LIST_HEADERS):
        return "mailing-list"
    if message.get("List-Unsubscribe"):
        return "newsletter"
    if message.get("List-Id") or (precedence in ("bulk", "junk") and replying):
        return "mailing-list"  # a discussion list's copy of someone's message
    if precedence in ("bulk", "junk"):
        return "newsletter"
    return None


def automated_kind(message: email.message.Message, subject: str, body: str) -> str | None:
    """The kind of non-human mail this is (a key of KINDS), or None when a person wrote it."""
    report = _report(message)
    if report:
        return report
    local = _sender_local_part(message)
    if DAEMON.match(local) or (BOUNCE_SUBJECT.search(subject) and NO_REPLY.match(local)):
        return "bounce"
    # A gateway or a person's mail server sends notices under its own name: subject and text say it.
    if BOUNCE_SUBJECT.search(subject) and BOUNCE_BODY.search(body.lstrip(" *\n")[:BOUNCE_BODY_CHARS]):
        return "bounce"
    if _auto_reply(message, subject):
        return "out-of-office" if _away(subject, body, strict=False) else "auto-reply"
    auto_submitted = _header(message, "Auto-Submitted")
    if auto_submitted and auto_submitted != "no":
        return "bounce" if BOUNCE_SUBJECT.search(subject) else "notification"
    bulk = _bulk(message, subject)
    if bulk:
        return bulk
    if NO_REPLY.match(local):
        return "notification"
    if _away(subject, body, strict=True):
        return "out-of-office"
    return None
