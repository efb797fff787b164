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
    "newsletter": Kind("newsletter", "newsletters", "a newsletter or bulk mailing"),
    "mailing-list": Kind("mailing-list message", "mailing-list messages", "a mailing-list message or digest"),
    "notification": Kind("automatic notification", "automatic notifications", "an automatic notification"),
}

DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mail\.?delivery\.?subsystem)$", re.I)
NO_REPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|noreply[-.\w]*|bounces?(?:[-+.].*)?)$", re.I)
BOUNCE_SUBJECT = re.compile(
    r"undeliver(?:able|ed)|non-?deliver|delivery (?:status notification|failure|has failed|failed|problem|"
    r"report|notification)|mail delivery (?:failed|failure|system)|returned mail|failure notice|"
    r"could not be delivered|unzustellbar|nicht zustellbar|non remis|no se puede entregar|onbestelbaar|"
    r"delivery status|warning: message .* delayed|message (?:delayed|not delivered|rejected)",
    re.I,
)
# Auto-replies put these before the original subject ("Automatic reply: Invoice 42").
OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\W*(?:out of (?:the )?office|ooo\b|automatic reply|auto(?:matic)?[- ]?(?:reply|response|respon[sd]er)|"
    r"autoreply|auto:|abwesenheit|automatische antwort|réponse automatique|absence|absent|"
    r"respuesta automática|fuera de la oficina|afwezig|automatisch antwoord|risposta automatica|"
    r"fuori (?:sede|ufficio)|on vacation|away from (?:the )?office)",
    re.I,
)
# A body that opens by saying its writer is away, and when they are back or whom to ask instead.
AWAY = re.compile(
    r"\b(?:i am|i'm|i will be|i'll be)\s+(?:currently\s+|now\s+)?(?:out of (?:the )?office|on (?:annual |"
    r"parental |maternity |sick )?leave|on (?:vacation|holiday)|away from (?:the )?office|away|travelling|"
    r"traveling)|\bich bin (?:bis|vom|derzeit|zurzeit|momentan)\b|\bje suis (?:absent|absente)\b|"
    r"\bestoy fuera\b|\bik ben (?:afwezig|niet aanwezig)\b|\bsono (?:assente|fuori)\b",
    re.I,
)
BACK = re.compile(
    r"\b(?:return(?:ing)?|back (?:on|in|at)|limited access|until|respond|reply|get back|zurück|retour|"
    r"regreso|terug|rientro|urgent)",
    re.I,
)
AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply", "x-vacation")
MAX_AWAY_BODY_CHARS = 1500


def _sender_local_part(message: email.message.Message) -> str:
    """The local part of the From (or Sender/Return-Path) address, lower-case."""
    for name in ("From", "Sender", "Return-Path"):
        address = email.utils.parseaddr(str(message.get(name, "")))[1]
        if "@" in address:
            return address.split("@", 1)[0].lower()
        if address and name == "From":
            return address.lower()
    return ""


def _report_type(message: email.message.Message) -> str:
    """ "bounce" or "notification" when the message (or a part of it) is a machine-readable report."""
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "multipart/report":
            kind = str(part.get_param("report-type", "") or "").lower()
            return "bounce" if kind in ("delivery-status", "") else "notification"
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            return "bounce"
        if ctype in ("message/feedback-report", "message/disposition-notification"):
            return "notification"
    return ""


def _header(message: email.message.Message, name: str) -> str:
    """A header's raw value, lower-case and on one line ("" when missing)."""
    return " ".join(str(message.get(name, "")).split()).lower()


def _looks_away(subject: str, body: str) -> bool:
    """Whether the subject or a short body says the writer is away (an out-of-office reply)."""
    if OUT_OF_OFFICE_SUBJECT.search(subject):
        return True
    opening = body.strip()[:MAX_AWAY_BODY_CHARS]
    return len(body.strip()) <= MAX_AWAY_BODY_CHARS and bool(AWAY.search(opening) and BACK.search(opening))


def automated_kind(message: email.message.Message, subject: str, body: str) -> str | None:
    """The kind of non-human mail this is (a key of KINDS), or None when a person wrote it."""
    report = _report_type(message)
    if report:
        return report
    local = _sender_local_part(message)
    if DAEMON.match(local) or (BOUNCE_SUBJECT.search(subject) and NO_REPLY.match(local)):
        return "bounce"
    auto_submitted = _header(message, "Auto-Submitted")
    precedence = _header(message, "Precedence")
    auto_reply = (
        auto_submitted.startswith("auto-replied")
        or any(message.get(h) for h in AUTO_REPLY_HEADERS)
        or precedence == "auto_reply"
        # Exchange marks its own auto-replies so; ordinary Outlook mail may carry the first header alone.
        or (
            "all" in _header(message, "X-Auto-Response-Suppress")
            and bool(message.get("X-MS-Exchange-Inbox-Rules-Loop"))
        )
    )
    if auto_reply:
        return "out-of-office" if _looks_away(subject, body) else "auto-reply"
    if auto_submitted and auto_submitted != "no":
        return "bounce" if BOUNCE_SUBJECT.search(subject) else "notification"
    if BOUNCE_SUBJECT.search(subject) and not body.strip():
        return "bounce"
    if message.get("List-Id") or precedence == "list" or message.get_content_type() == "multipart/digest":
        return "mailing-list"
    if message.get("List-Unsubscribe") or precedence in ("bulk", "junk"):
        return "newsletter"
    if NO_REPLY.match(local):
        return "notification"
    if _looks_away(subject, body):
        return "out-of-office"
    return None
