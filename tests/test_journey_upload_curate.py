"""Journey 1 in Chromium on a fresh `lastmile run`: upload a zip and a CSV, fix what the health
panel flags, edit an example, create a dataset and freeze it."""

import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.hostile_files import docx_bytes, pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.worker]

REPLY_BODY = (
    "Hi Maria,\n\nThank you for flagging the late consignment. It left Rotterdam this morning and the new "
    "ETA is Thu 14 Mar, 10:00 CET. We have credited the delivery under the Brightwater Promise.\n\n"
    "Kind regards,\nJoost\nBrightwater Client Care\n\n"
    "On Tue, 12 Mar 2026, Maria Lopez <maria@example.com> wrote:\n"
    "> Our consignment BW-2231 has not arrived. Where is it?\n"
)


def _reply(message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Joost <joost@example.org>"
    msg["To"] = "maria@example.com"
    msg["Subject"] = "Re: Late consignment BW-2231"
    msg["Message-ID"] = f"<{message_id}@example.org>"
    msg["In-Reply-To"] = "<orig-1@example.com>"
    msg.set_content(REPLY_BODY)
    return msg.as_bytes()


def _announcement() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Brightwater <news@example.org>"
    msg["To"] = "clients@example.com"
    msg["Subject"] = "Holiday schedule"
    msg.set_content(
        "Dear client,\n\nOur Rotterdam hub closes on 25 and 26 December. Consignments booked before "
        "20 December arrive before the break.\n\nKind regards,\nBrightwater Client Care"
    )
    return msg.as_bytes()


def _files(folder: Path) -> list[Path]:
    archive = folder / "client-mail-and-reports.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("mail/late-consignment.eml", _reply("a1"))
        z.writestr("mail/late-consignment-again.eml", _reply("a2"))  # the same reply: a duplicate example
        z.writestr("mail/holiday.eml", _announcement())
        z.writestr(
            "reports/nordlys.docx",
            docx_bytes(
                "Monthly report: Nordlys Kitchen, March 2026",
                "All 42 consignments arrived on time. Call Anna on +31 6 1234 5678 with questions.",
            ),
        )
        z.writestr(
            "reports/kestrel.pdf",
            pdf_bytes(["Quarterly review: Kestrel Outdoor\n98% of consignments on time, two claims closed."]),
        )
    table = folder / "tickets.csv"
    table.write_text(
        "text,category\n"
        "My pallet arrived with a torn wrap,Damage\n"
        "Why is the fuel surcharge higher this month?,Billing\n"
        "Customs in Oslo want our EORI number,Customs\n"
    )
    return [archive, table]


def test_upload_curate_and_create_a_dataset(tmp_path: Path):
    from tests.browser import chromium_page
    from tests.browser_auth import sign_up_first_admin
    from tests.live_server import lastmile_run

    files = _files(tmp_path)
    with lastmile_run(tmp_path / "data") as server, chromium_page() as browser:
        page = browser.page
        sign_up_first_admin(page, server.url, "/examples")
        page.get_by_text("Upload", exact=False).first.wait_for()
        page.goto(f"{server.url}/upload")
        page.set_input_files("#upload-files", [str(f) for f in files])
        batch = page.locator("#current-batch .batch")
        batch.get_by_text("Review the examples →").wait_for(timeout=60_000)
        for member in ("late-consignment.eml", "holiday.eml", "nordlys.docx", "kestrel.pdf"):
            assert batch.locator("tr", has_text=member).get_by_text("Added").count() == 1, member
        assert batch.get_by_text("3 examples from tickets.csv").is_visible()
        browser.screenshot("journey1-upload")

        page.goto(f"{server.url}/examples")
        health = page.locator("#health-panel")
        health.get_by_text("exact duplicate").wait_for()
        assert health.get_by_text("contains personal data").is_visible()
        browser.screenshot("journey1-health-panel")

        # One click per finding; the panel re-renders without them.
        health.get_by_role("button", name="Exclude the copies (keep the first)").click()
        health.get_by_text("exact duplicate").wait_for(state="detached")
        health.get_by_role("button", name="Replace personal data with placeholders").click()
        health.get_by_text("contains personal data").wait_for(state="detached")

        # Inline edit of the PDF's example: a better instruction.
        page.get_by_label("Search").fill("Kestrel")
        row = page.locator("#examples-results tr", has_text="Kestrel").first
        row.wait_for()
        page.locator("#examples-results tbody tr").nth(1).wait_for(state="detached")
        row.get_by_role("button", name="Edit").click()
        form = page.locator("form.edit-form")
        form.get_by_label("Instruction").fill("Write the quarterly review for Kestrel Outdoor")
        form.get_by_role("button", name="Save").click()
        page.get_by_text("Write the quarterly review for Kestrel Outdoor").wait_for()

        # The redacted report now holds a placeholder, not the phone number.
        page.goto(f"{server.url}/examples?q=Nordlys")
        assert page.get_by_text("[PHONE]").count() >= 1
        assert page.get_by_text("1234 5678").count() == 0

        page.goto(f"{server.url}/examples?included=yes")
        page.get_by_role("link", name="Create a dataset from these").click()
        page.get_by_label("Name").fill("Client mail and reports")
        page.get_by_role("button", name="Create a dataset from these").click()
        page.get_by_role("heading", name="Client mail and reports").wait_for()
        page.get_by_role("button", name="Freeze snapshot").click()
        page.locator("#snapshots").get_by_text("examples").first.wait_for()
        browser.screenshot("journey1-dataset")

        page.goto(f"{server.url}/examples")
        browser.screenshot("journey1-examples")
        browser.assert_clean()
