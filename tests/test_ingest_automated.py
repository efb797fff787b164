"""Mail no person wrote (bounces, auto-replies, newsletters, list mail): skipped and counted, not learned."""

from email.message import EmailMessage

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ingest.batch_messages import parsed_result
from app.ingest.pipeline import run_batch
from app.ingest.registry import parse_file
from app.ingest.types import ParsedFile
from app.models import Example, ImportItem
from tests.hostile_files import small_limits
from tests.test_pipeline_run import upload


def mail(
    body: str, subject: str = "Invoice 42", sender: str = "Jane Doe <jane@client.com>", **headers: str
) -> bytes:
    """An email's bytes with extra headers (underscores in names become dashes)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "bob@example.com", subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def bounce() -> bytes:
    """A delivery status notification (multipart/report) as mail servers send it."""
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\nTo: bob@example.com\n"
        b"Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\n\n'
        b"--b1\nContent-Type: text/plain\n\nYour message could not be delivered to jane@client.com.\n"
        b"--b1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        b"Final-Recipient: rfc822; jane@client.com\nAction: failed\nStatus: 5.1.1\n--b1--\n"
    )


def one(filename: str, data: bytes) -> ParsedFile:
    """The single ParsedFile a file gives."""
    [parsed] = parse_file(filename, data, small_limits())
    return parsed


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (bounce(), "bounce"),
        (
            mail("Your message could not be delivered.", "Delivery Status Notification (Failure)",
                 "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"),
            "bounce",
        ),
        (
            mail("I am out of the office until 10 March.", "Out of Office: Invoice 42",
                 Auto_Submitted="auto-replied"),
            "out-of-office",
        ),
        (mail("I'm out of the office Friday.", "Automatic reply: Invoice 42"), "out-of-office"),
        (mail("Thank you, we received your message.", "Re: Invoice 42", X_Autoreply="yes"), "auto-reply"),
        (mail("Sale: 20% off!", "Sale", List_Unsubscribe="<https://shop.example/u>"), "newsletter"),
        (
            mail("Anyone tried the API?", "Re: API", List_Id="<dev.lists.example.org>", Precedence="list"),
            "mailing-list",
        ),
        (mail("Your password was changed.", "Alert", "Example <no-reply@example.com>"), "notification"),
        (mail("I am on annual leave and will respond when I return on Monday."), "out-of-office"),
        (  # a virus gateway's notice under its own name: subject and text say the mail did not arrive
            mail("Your message could not be delivered to the following recipients:\n\njane@client.com",
                 "Delivery failure notification", "AntiVirus_Gateway@client.com"),
            "bounce",
        ),
    ],
)  # fmt: skip
def test_non_human_mail_is_skipped_with_its_kind(data: bytes, kind: str) -> None:
    """Report parts, daemon and no-reply senders, RFC 3834, vendor and list headers and the text say so."""
    parsed = one("mail.eml", data)
    assert (parsed.error, parsed.examples, parsed.skipped) == (None, [], [kind])


def test_a_person_mentioning_an_absence_in_a_real_reply_is_not_skipped() -> None:
    """Words like "out of office" inside a quoted message or a long reply do not make the mail automatic."""
    body = (
        "Thanks, I will send the contract tomorrow morning.\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Jane Doe <jane@client.com> wrote:\n"
        "> I am out of the office until Monday, please reply by then.\n"
    )
    parsed = one("reply.eml", mail(body, "Re: Contract"))
    assert (
        parsed.skipped == []
        and parsed.examples[0].output == "Thanks, I will send the contract tomorrow morning."
    )


def test_a_skipped_file_says_why_in_its_result_line_and_is_not_an_error() -> None:
    """A skipped .eml is read, not refused: its result line names what it is."""
    parsed = one("away.eml", mail("I am out of the office until Monday.", "Automatic reply: Invoice 42"))
    status, message = parsed_result(parsed, 0, "away.eml")
    assert status == "skipped"
    assert message == (
        "Skipped: away.eml is an automatic out-of-office reply, not an email written by a person, so nothing "
        "was added"
    )


def test_a_mailbox_counts_examples_signatures_and_skipped_mail_by_kind() -> None:
    """ "2 examples from inbox.mbox: 1 signature removed, 3 skipped (2 newsletters, 1 bounce)"."""
    messages = [
        mail("Yes, we can deliver on Friday.\n\nBest regards,\nBob", "Delivery"),
        mail("Sale!", "Sale", List_Unsubscribe="<https://shop.example/u>"),
        bounce(),
        mail("The invoice is attached.", "Invoice"),
        mail("New arrivals!", "New", List_Unsubscribe="<https://shop.example/u>"),
    ]
    mbox = b"".join(b"From x@example.com Mon Mar  3 10:00:00 2025\n" + m + b"\n" for m in messages)
    parsed = one("inbox.mbox", mbox)
    assert [e.output for e in parsed.examples] == [
        "Yes, we can deliver on Friday.",
        "The invoice is attached.",
    ]
    assert parsed_result(parsed, 2, "inbox.mbox") == (
        "parsed",
        "2 examples from inbox.mbox: 1 signature removed, 3 skipped (2 newsletters, 1 bounce)",
    )


def test_an_upload_of_an_auto_reply_and_a_reply_records_both_results(
    session: Session, workspace_id: int
) -> None:
    """Through the import: the auto-reply's item is "skipped" with why, the reply's counts its signature."""
    reply = mail("Confirmed for Friday.\n\nKind regards,\nBob Smith\nTel: +44 20 1234 5678", "Re: Slot")
    away = mail("I am out of the office until Monday.", "Out of Office: Slot", Auto_Submitted="auto-replied")
    batch_id = upload(session, workspace_id, {"reply.eml": reply, "away.eml": away})
    run_batch(batch_id)
    session.expire_all()
    items = {
        i.filename: i for i in session.scalars(select(ImportItem).where(ImportItem.batch_id == batch_id))
    }
    assert (items["reply.eml"].status, items["reply.eml"].message) == (
        "parsed",
        "1 example from reply.eml: 1 signature removed",
    )
    assert items["away.eml"].status == "skipped" and "out-of-office" in items["away.eml"].message
    outputs = session.scalars(select(Example.output)).all()
    assert outputs == ["Confirmed for Friday."]
    assert session.scalar(select(func.count()).select_from(Example)) == 1
