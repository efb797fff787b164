"""Emails (.eml, .mbox): replies vs standalone emails, quoted history, signatures, charsets, hostile mail."""

from email.message import EmailMessage
from email.policy import SMTP

import pytest

from app.ingest.email import REPLY_INSTRUCTION
from app.ingest.registry import parse_file
from app.ingest.types import ParsedFile
from tests import hostile_files as hostile
from tests.hostile_files import small_limits

REPLY_BODY = """Hi Jane,

Yes, we will pay invoice 42 on Friday.

Best regards,
Bob Smith
Account Manager
Tel: +44 20 1234 5678
www.example.com

On Mon, 3 Mar 2025 at 10:00, Jane Doe <jane@client.com> wrote:
> Hello Bob,
>
> When will invoice 42 be paid?
>
> Thanks, Jane
>
> On Sun, 2 Mar 2025, Bob Smith <bob@example.com> wrote:
>> An older message that is not part of Jane's email.
"""


def one(filename: str, data: bytes) -> ParsedFile:
    """The single ParsedFile an email file gives."""
    parsed = parse_file(filename, data, small_limits())
    assert len(parsed) == 1
    return parsed[0]


def message(
    body: str, subject: str = "Invoice 42", reply_to: str | None = None, **headers: str
) -> EmailMessage:
    """An email with a plain-text body."""
    msg = EmailMessage()
    msg["From"] = "Bob Smith <bob@example.com>"
    msg["To"] = "Jane Doe <jane@client.com>"
    msg["Subject"] = subject
    if reply_to:
        msg["In-Reply-To"] = reply_to
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def test_a_reply_keeps_the_answer_and_puts_the_quoted_email_in_the_input() -> None:
    """A reply keeps the answer and puts the quoted email in the input."""
    parsed = one("reply.eml", message(REPLY_BODY, "Re: Invoice 42", "<abc@client.com>").as_bytes())
    assert parsed.error is None and parsed.format == "eml"
    [example] = parsed.examples
    assert example.kind == "draft"
    assert example.instruction == REPLY_INSTRUCTION == "Reply to this email"
    # Issue 13: the sign-off and the name under it go too, in the answer and in the incoming email.
    assert example.output == "Hi Jane,\n\nYes, we will pay invoice 42 on Friday."
    assert (
        example.input == "From: Jane Doe\nSubject: Invoice 42\n\nHello Bob,\n\nWhen will invoice 42 be paid?"
    )


def test_signature_block_phone_sign_off_and_confidentiality_notice_are_stripped() -> None:
    """The sign-off, signature block, phone tagline and confidentiality notice are stripped."""
    body = (
        "Dear team,\n\nThe report is attached.\n\nKind regards,\nAnna\n\n"
        "CONFIDENTIALITY NOTICE: This email and any attachments are confidential.\n"
        "If you have received this email in error, please delete it.\n"
        "-- \nAnna Example | Acme Ltd | +1 555 010 0000\n"
    )
    [example] = one("note.eml", message(body, "Monthly report").as_bytes()).examples
    assert example.instruction == "Write an email: Monthly report"
    assert example.output == "Dear team,\n\nThe report is attached."
    body = "Running late, start without me.\n\nSent from my iPhone\n"
    [example] = one("short.eml", message(body, "Late").as_bytes()).examples
    assert example.output == "Running late, start without me."


def test_an_outlook_reply_reads_the_quoted_header_block() -> None:
    """An Outlook reply reads the quoted header block."""
    body = (
        "Hello Sam,\n\nThe meeting moves to 3pm.\n\nThanks\nPriya\n\n"
        "-----Original Message-----\n"
        "From: Sam Lee <sam@client.com>\nSent: Tuesday, 4 March 2025 09:12\nTo: Priya <priya@example.com>\n"
        "Subject: Meeting time\n\nCan we meet later on Thursday?\n"
    )
    [example] = one("outlook.eml", message(body, "RE: Meeting time").as_bytes()).examples
    assert example.instruction == REPLY_INSTRUCTION
    assert example.output == "Hello Sam,\n\nThe meeting moves to 3pm."
    assert example.input == "From: Sam Lee\nSubject: Meeting time\n\nCan we meet later on Thursday?"


def test_an_outlook_reply_under_a_rule_line_is_recognised() -> None:
    """An Outlook reply under a rule line is recognised."""
    body = (
        "Approved.\n\n________________________________\n"
        "From: Kim <kim@client.com>\nSent: 4 March 2025 09:12\nTo: Lee <lee@example.com>\nSubject: Budget\n\n"
        "Please approve the budget.\n"
    )
    [example] = one("rule.eml", message(body, "Budget", "<id@client.com>").as_bytes()).examples
    assert (example.output, example.input) == (
        "Approved.",
        "From: Kim\nSubject: Budget\n\nPlease approve the budget.",
    )


def test_a_bottom_posted_reply_is_split_too() -> None:
    """A bottom-posted reply is split too."""
    body = "Gmail user <g@client.com> wrote:\n> Is the office open on Friday?\n\nYes, from 9 to 5.\n"
    [example] = one("bottom.eml", message(body, "Re: Friday").as_bytes()).examples
    assert example.instruction == REPLY_INSTRUCTION
    assert (example.output, example.input) == (
        "Yes, from 9 to 5.",
        "From: Gmail user\nSubject: Friday\n\nIs the office open on Friday?",
    )


def test_a_reply_subject_without_quoted_text_is_a_standalone_email() -> None:
    """A reply subject without quoted text is a standalone email."""
    [example] = one("re.eml", message("Noted, thanks.\n", "Re: Holidays").as_bytes()).examples
    assert (example.instruction, example.output) == ("Write an email: Re: Holidays", "Noted, thanks.")


def test_encoded_headers_and_legacy_charsets_are_decoded() -> None:
    """Encoded headers and legacy charsets are decoded."""
    raw = (
        b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.com>\r\nTo: a@b.c\r\n"
        b"Subject: =?iso-8859-1?q?R=E9sum=E9?= =?utf-8?b?IOKAkyBRMw==?=\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Caf=E9 costs rose =80 5 =96 see =93the plan=94.\r\n"
    )
    parsed = one("legacy.eml", raw)
    [example] = parsed.examples
    assert example.instruction == "Write an email: Résumé – Q3"
    # Labelled Latin-1, written by Windows: the euro sign and curly quotes survive.
    assert example.output == "Café costs rose € 5 – see “the plan”."
    assert parsed.warnings == []


def test_base64_utf8_and_bad_bytes() -> None:
    """Base64 UTF-8 is decoded; bad bytes are replaced with a note."""
    msg = message("Grüße aus Zürich.\n", "Hallo")
    [example] = one("b64.eml", msg.as_bytes(policy=SMTP)).examples
    assert example.output == "Grüße aus Zürich."
    raw = "From: a@b.c\nSubject: Bytes\nContent-Type: text/plain; charset=utf-8\n\nGrüße, bad \xff byte.\n"
    parsed = one("bad.eml", raw.encode().replace(b"\xc3\xbf", b"\xff"))
    assert parsed.examples[0].output == "Grüße, bad \ufffd byte."
    assert parsed.warnings == ["This email: some characters were not valid utf-8 and show as �."]


def test_an_html_only_email_is_read_as_text_without_scripts() -> None:
    """An HTML-only email is read as text without scripts."""
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "news@example.com", "Newsletter"
    msg.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Hello <b>all</b>,</p>"
        "<script>steal()</script><p>Our news.</p></body></html>",
        subtype="html",
    )
    [example] = one("news.eml", msg.as_bytes()).examples
    assert example.output == "Hello all,\n\nOur news."


def test_an_html_reply_uses_its_blockquote_as_the_incoming_email() -> None:
    """An HTML reply uses its blockquote as the incoming email."""
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["References"] = "a@example.com", "Re: Quote", "<x@y>"
    msg.set_content(
        "<div>We can do it for 900.</div><div class='gmail_quote'>On Tue, 4 Mar 2025, Max &lt;max@c.com&gt; "
        "wrote:<blockquote><p>What is your price?</p></blockquote></div>",
        subtype="html",
    )
    [example] = one("html-reply.eml", msg.as_bytes()).examples
    assert (example.instruction, example.output) == (REPLY_INSTRUCTION, "We can do it for 900.")
    assert example.input == "From: Max\nSubject: Quote\n\nWhat is your price?"


def test_mbox_gives_one_example_per_message_and_skips_empty_ones() -> None:
    """An mbox gives one example per message and skips empty ones."""
    first = message("First body.\n>From the desk, with love.\n", "One")
    empty = message("\n\n", "Two")
    third = message(REPLY_BODY.replace("Hi Jane", "Hello again"), "Re: Three", "<id@x>")
    mbox = b"".join(
        b"From bob@example.com Mon Mar  3 10:00:00 2025\n" + m.as_bytes() + b"\n"
        for m in (first, empty, third)
    )
    parsed = one("inbox.mbox", mbox)
    assert parsed.format == "mbox"
    assert [(e.source_ref, e.instruction) for e in parsed.examples] == [
        ("message 1", "Write an email: One"),
        ("message 3", REPLY_INSTRUCTION),
    ]
    assert parsed.examples[0].output == "First body.\nFrom the desk, with love."  # mboxrd escaping undone
    assert parsed.examples[1].output.startswith("Hello again,")
    assert parsed.warnings == ["message 2 ('Two'): no text in its body — skipped"]


def test_a_mailbox_is_read_up_to_the_message_cap() -> None:
    """Messages past the per-mailbox cap (a setting) are not read, and the user is told."""
    mbox = b"".join(
        b"From x@example.com Mon Mar  3 10:00:00 2025\n" + message(f"Body {i}.", f"S{i}").as_bytes()
        for i in range(3)
    )
    [parsed] = parse_file("big.mbox", mbox, small_limits(max_mailbox_messages=2))
    assert [e.output for e in parsed.examples] == ["Body 0.", "Body 1."]
    assert parsed.warnings == [
        "Only the first 2 messages were read. Split the mailbox into smaller ones to import the rest."
    ]


def test_an_email_with_10k_parts_is_read_within_bounds() -> None:
    """An email with 10k parts is read within bounds."""
    parsed = one(*hostile.email_many_parts())
    [example] = parsed.examples
    assert example.output == "The first part holds the message."
    assert parsed.warnings == ["This email: it has more than 1,000 parts; only the first 1,000 were read."]


def test_an_email_with_too_many_parts_to_parse_is_refused() -> None:
    """An email with too many parts to parse is refused."""
    parsed = one("huge.eml", hostile.email_many_parts(30_000)[1])
    assert parsed.error == (
        "huge.eml could not be read as an email: it has more than 20,000 parts. Save the email again from "
        "your mail program and upload it."
    )


def test_deeply_nested_parts_are_refused() -> None:
    """Deeply nested parts are refused."""
    assert one(*hostile.email_deep_nesting()).error == (
        "deep.eml could not be read as an email: its parts are nested too deeply. Save the email again from "
        "your mail program and upload it."
    )


def test_text_that_is_not_an_email_is_refused() -> None:
    """Text that is not an email is refused."""
    parsed = one("notes.eml", b"Just some notes\nwithout any headers.\n")
    assert parsed.error == (
        "notes.eml does not look like an email: it has no From, To or Subject lines. Save the email from "
        "your mail program (drag it to a folder, or 'Save as' .eml) and upload that file."
    )


def test_an_email_with_only_an_attachment_is_refused() -> None:
    """An email with only an attachment is refused."""
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@example.com", "Files"
    msg.add_attachment(b"%PDF-1.4 data", maintype="application", subtype="pdf", filename="x.pdf")
    parsed = one("files.eml", msg.as_bytes())
    assert parsed.error == (
        "files.eml has no text in its body (it may hold only attachments). Upload an email with text, or "
        "upload its attachments themselves."
    )


# --- Issue 13: replies in the shapes real mail programs write them --------------------------------------


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 3 Mar 2025 at 10:00, Jane Doe <jane@client.com> wrote:",
        "On Mon, Mar 3, 2025 at 10:00 AM Jane Doe<jane@client.com>wrote:",  # Gmail, address glued on
        "On Mon, Mar 3, 2025 at 10:00 AM Jane Doe <\njane@client.com> wrote:",  # wrapped by Gmail
        "Am Mo., 3. März 2025 um 10:00 Uhr schrieb Jane Doe <jane@client.com>:",
        "Le lun. 3 mars 2025 à 10:00, Jane Doe <jane@client.com> a écrit :",
        "El lun, 3 mar 2025 a las 10:00, Jane Doe (<jane@client.com>) escribió:",
        "Op ma 3 mrt 2025 om 10:00 schreef Jane Doe <jane@client.com>:",
        "Il giorno lun 3 mar 2025 alle ore 10:00 Jane Doe <jane@client.com> ha scritto:",
        "Den 3. mar. 2025 kl. 10.00 skrev Jane Doe <jane@client.com>:",
        "пн, 3 мар. 2025 г. в 10:00, Jane Doe <jane@client.com>:",  # Gmail in Russian: no verb at all
        "--- On Mon, 3/3/25, Jane Doe <jane@client.com> wrote:",  # Yahoo
        # Found by the registry corpus (tests/corpus/emails): no colon, time first, quoted names, "от".
        "On Mon, 3 Mar 2025 10:00:00 -0200 Jane Doe <jane@client.com> wrote",
        '11:00 AM, March 3, 2025, "Jane Doe" <jane@client.com>:',
        '2025.03.03. 10:00 keltezéssel, "Jane Doe" írta:',  # Hungarian
        "Mon, 3 Mar 2025 10:00:00 +0400 от Jane Doe <jane@client.com>:",  # Mail.ru
        "On Mar 3, 2025, at 10:00, Jane Doe <jane@client.com<\nmailto:jane@client.com>> wrote:",
    ],
)
def test_attributions_in_many_languages_and_shapes_split_the_reply(attribution: str) -> None:
    """The reply above an attribution is the output; the quoted message, named by its sender, the input."""
    body = f"Yes, Friday works.\n\n{attribution}\n> Can we meet on Friday?\n"
    [example] = one("reply.eml", message(body, "Re: Meeting").as_bytes()).examples
    assert (example.instruction, example.output) == (REPLY_INSTRUCTION, "Yes, Friday works.")
    assert example.input == "From: Jane Doe\nSubject: Meeting\n\nCan we meet on Friday?"


def test_an_attribution_naming_only_an_address_or_a_delegate() -> None:
    """Zoho's framed line with only an address quotes a sender named by no one; Outlook's "On Behalf Of"
    delegate is not the writer's name."""
    body = "Yes.\n\n---- On Mon, 03 Mar 2025 10:00:00 +0530 jane@client.com wrote ----\n\nShall we?\n"
    [example] = one("zoho.eml", message(body, "Re: Plan").as_bytes()).examples
    assert (example.output, example.input) == ("Yes.", "Subject: Plan\n\nShall we?")
    body = (
        "Yes.\n\nFrom: Jane Doe [mailto:jane@client.com] On Behalf Of office@client.com\n"
        "Sent: Monday, 3 March 2025 10:00\nTo: Bob\nSubject: Plan\n\nShall we?\n"
    )
    [example] = one("behalf.eml", message(body, "RE: Plan").as_bytes()).examples
    assert example.input == "From: Jane Doe\nSubject: Plan\n\nShall we?"


def test_a_forward_chain_and_stacked_italian_closings_leave_the_quoted_message() -> None:
    """Apple Mail's "Inizio messaggio inoltrato:" ends the quoted message; "Grazie / A disposizione /
    Alessandra" closes it; the writer's Italian confidentiality notice and contact block go."""
    body = (
        "Ciao, va bene?\n\nGERONAZZO Dott.ssa MARIACHIARA\nCommercialista\nTel. 0423/972429\n"
        "Nota di riservatezza - Le informazioni contenute in questa comunicazione sono riservate.\n\n"
        "Da: export@agade.info [mailto:export@agade.info]\nInviato: venerdì 9 giugno 2017 15:50\n"
        "A: Mariachiara\nOggetto: Ordine\n\nBuongiorno, mi confermi la dichiarazione?\nGrazie\n"
        "A disposizione\nAlessandra\n\nInizio messaggio inoltrato:\n\nDa: Anna <anna@example.com>\n"
        "Oggetto: Ordine\n\nServe la lettera.\n"
    )
    [example] = one("fwd.eml", message(body, "I: Ordine", "<o@agade.info>").as_bytes()).examples
    assert (example.output, example.input) == (
        "Ciao, va bene?",
        "Subject: Ordine\n\nBuongiorno, mi confermi la dichiarazione?",
    )


def test_an_outlook_block_in_another_language_with_a_wrapped_sender_is_the_quote() -> None:
    """A German Outlook block (no separator line, the From value wrapped) starts the quoted message."""
    body = (
        "Danke, das passt.\n\nVon: Max Mustermann \n<max@kunde.de>\nGesendet: Montag, 3. März 2025 10:00\n"
        "An: Erika <erika@example.com>\nBetreff: Lieferung\n\nKommt die Lieferung am Freitag?\n"
    )
    [example] = one("aw.eml", message(body, "AW: Lieferung").as_bytes()).examples
    assert (example.output, example.input) == (
        "Danke, das passt.",
        "From: Max Mustermann\nSubject: Lieferung\n\nKommt die Lieferung am Freitag?",
    )


def test_answers_below_and_between_the_quoted_lines_are_the_reply() -> None:
    """Bottom-posted and interleaved answers are the reply, the quoted lines the incoming message."""
    body = (
        "On Mon, 3 Mar 2025 at 10:00, Jane Doe <jane@client.com> wrote:\n> Is option A cheaper?\n\n"
        "Yes, by 10%.\n\n> And can it ship this week?\n\nIt ships on Thursday.\n"
    )
    [example] = one("inline.eml", message(body, "Re: Options").as_bytes()).examples
    assert example.output == "Yes, by 10%.\n\nIt ships on Thursday."
    assert (
        example.input
        == "From: Jane Doe\nSubject: Options\n\nIs option A cheaper?\nAnd can it ship this week?"
    )


def test_a_flowed_thunderbird_reply_below_its_quote_is_read() -> None:
    """format=flowed joins soft line breaks only within one quote depth: the answer under the quote stays."""
    raw = (
        b"From: Bob <bob@example.com>\nSubject: Re: Test\nContent-Type: text/plain; charset=us-ascii; "
        b"format=flowed\n\nOn 04/02/2012 06:26 PM, Megan One wrote:\n> Could you send the \n> price list? \n"
        b"Here it is, attached.\n"
    )
    [example] = one("thunderbird.eml", raw).examples
    assert (example.output, example.input) == (
        "Here it is, attached.",
        "From: Megan One\nSubject: Test\n\nCould you send the price list?",
    )


@pytest.mark.parametrize(
    ("ending", "removed"),
    [
        ("Mit freundlichen Grüßen\nErika Muster\nTel. +49 30 1234567", True),
        ("Cordiali saluti,\nMario Rossi\nResponsabile vendite", True),
        ("Met vriendelijke groet,\n\nJan de Vries", True),
        ("Cheers 🎉\nSam\n\n—————\nSam Lee | Acme\n📱 +1 555-0123", True),
        ("-Abhishek", True),
        ("Braxton", True),  # a name alone under the text
        ("My number is: +44 20 1234 5678\nGet Outlook for iOS<https://aka.ms/o0ukef>", True),
        ("Envoyé de mon iPhone", True),
        ("Sent from TypeApp<http://www.typeapp.com/r?b=2621>", True),  # a tagline with its link
        ("Sam Lee\nvia mobile", True),
        ("________________\nChris Wilson\nLead Developer, eServices\nTel: 0113 37 85294", True),  # no closing
        ("Mike Farman | Dir Product Management | Alfresco |\n+44 (0) 1628 876 500", True),
        ("祝好，\n发件人", True),
        ("Sent from my desk, which is easier than my phone.", False),
    ],
)
def test_sign_offs_names_contact_lines_and_taglines_leave_the_answer(ending: str, removed: bool) -> None:
    """Closings in several languages, the name and contact block under them and taglines are removed."""
    body = f"The goods left the warehouse today.\n\n{ending}\n"
    parsed = one("note.eml", message(body, "Shipment").as_bytes())
    expected = "The goods left the warehouse today." + ("" if removed else f"\n\n{ending}")
    assert parsed.examples[0].output == expected
    assert parsed.signatures_removed == int(removed)


def test_gateway_banners_legal_and_list_footers_leave_the_answer_but_a_lone_thanks_stays() -> None:
    """A CAUTION banner, a legal notice and a mailing-list footer go; a message of just "Thanks!" stays."""
    body = (
        "CAUTION: This email originated from outside of the organization. Do not click links.\n\n"
        "Hi team,\n\nThe file is still missing.\n\nThanks,\n____________\nHAHA LOLO\nDirect: (+00) 00-000\n\n"
        "This message is intended solely for the use of the intended recipient(s) and may be confidential.\n"
        "_______________________________________________\nriak-users mailing list\n"
    )
    [example] = one("banner.eml", message(body, "Missing file").as_bytes()).examples
    assert example.output == "Hi team,\n\nThe file is still missing."
    [example] = one("thanks.eml", message("Thanks!\n", "Done").as_bytes()).examples
    assert example.output == "Thanks!"


def test_a_forward_without_a_word_of_its_own_gives_no_example() -> None:
    """Forwarding a message without writing anything yields nothing to learn from."""
    body = (
        "---------- Forwarded message ---------\nFrom: Jane <jane@client.com>\nDate: Mon, 3 Mar\n\nHello.\n"
    )
    parsed = one("fwd.eml", message(body, "Fwd: Hello").as_bytes())
    assert parsed.examples == [] and "no text" in (parsed.error or "")


def test_a_long_email_written_on_its_own_is_split_into_parts_but_a_long_reply_stays_whole() -> None:
    """An email too long for the model becomes numbered parts cut at paragraphs, like a long report;
    a reply stays one example (its answer means nothing in parts: the Split button is there for it)."""
    paragraphs = [
        f"Item {n}: the {n}th line of our price list, with its terms, sizes and delivery times."
        for n in range(150)
    ]
    body = "\n\n".join(paragraphs)
    parsed = one("prices.eml", message(body, "Price list").as_bytes())
    count = len(parsed.examples)
    assert count >= 2 and parsed.report_parts == count
    assert [e.instruction for e in parsed.examples] == [
        f"Write an email: Price list (part {n} of {count})" for n in range(1, count + 1)
    ]
    assert " ".join(e.output for e in parsed.examples).split() == body.split()
    assert all(len(e.output) <= small_limits().max_example_chars for e in parsed.examples)
    reply = f"{body}\n\nOn Mon, 3 Mar 2025 at 10:00, Jane Doe <jane@client.com> wrote:\n> Send the prices?\n"
    [example] = one("reply.eml", message(reply, "Re: Prices", "<p@client.com>").as_bytes()).examples
    assert example.instruction == REPLY_INSTRUCTION
