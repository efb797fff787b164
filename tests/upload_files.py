"""Small real files for the upload and pipeline tests: reports, an email reply, tables and a zip."""

import io
import zipfile
from email.message import EmailMessage

REPORT_TXT = (
    b"Quarterly report for Acme\n\nRevenue rose 4% on last quarter, driven by the new Rotterdam lane.\n"
    b"Costs were flat. We recommend renewing the contract for another year.\n"
)
NOTES_MD = b"# Warehouse move\n\nThe warehouse moves to Hall 7 on 3 March. Deliveries continue as usual.\n"
TABLE_CSV = (
    b"instruction,output\n"
    b"Summarise the call with Acme,Acme wants weekly updates on the Rotterdam lane.\n"
    b"Write a thank-you line,Thank you for shipping with Brightwater.\n"
)
# Column names Lastmile cannot recognise: the user has to say which column holds what.
UNMAPPED_CSV = (
    b"Ticket text,Our verdict,Agent\n"
    b"My parcel arrived damaged,Refund,Anna\n"
    b"Where is my container?,Tracking,Tom\n"
    b"The invoice is wrong,Billing,Anna\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def reply_eml() -> bytes:
    """An email reply with the client's message quoted below it."""
    msg = EmailMessage()
    msg["From"] = "Anna Berg <anna@brightwater.example>"
    msg["To"] = "Tom Hale <tom@acme.example>"
    msg["Subject"] = "Re: Delivery delay"
    msg["In-Reply-To"] = "<q1@acme.example>"
    msg.set_content(
        "Dear Tom,\n\nYour container arrives on Friday; we will call you before delivery.\n\n"
        "Best regards,\nAnna\n\n"
        "On Mon, 3 Nov 2025 at 09:12, Tom Hale <tom@acme.example> wrote:\n"
        "> Where is my container? It was due on Monday.\n"
    )
    return bytes(msg)


def make_zip(members: dict[str, bytes]) -> bytes:
    """A zip archive holding `members`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def archive() -> bytes:
    """A zip of two good files, a refused image and a nested zip (refused before it is read)."""
    return make_zip(
        {
            "docs/notes.md": NOTES_MD,
            "mail/reply.eml": reply_eml(),
            "photo.png": PNG,
            "inner.zip": make_zip({"a.txt": b"hello"}),
        }
    )
