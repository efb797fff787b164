"""The Upload page in Chromium on `lastmile run` (SQLite, embedded broker): pick, drop, map, paste."""

from pathlib import Path

import pytest

from tests.upload_files import REPORT_TXT, TABLE_CSV, UNMAPPED_CSV, reply_eml

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_upload_page_in_a_browser(tmp_path: Path):
    from tests.browser import chromium_page
    from tests.browser_auth import sign_up_first_admin
    from tests.live_server import lastmile_run

    picked = tmp_path / "picked"
    picked.mkdir()
    for name, data in {
        "report.txt": REPORT_TXT,
        "reply.eml": reply_eml(),
        "tickets.csv": UNMAPPED_CSV,
    }.items():
        (picked / name).write_bytes(data)

    with lastmile_run(tmp_path / "data") as server, chromium_page() as browser:
        page = browser.page
        missing: list[str] = []
        page.on("response", lambda r: r.status == 404 and missing.append(r.url))
        sign_up_first_admin(page, server.url, "/upload")
        # Choosing files in the picker uploads them at once (htmx), and the batch partial polls until done.
        page.set_input_files("#upload-files", [str(p) for p in sorted(picked.iterdir())])
        batch = page.locator("#current-batch .batch")
        batch.get_by_text("Review the examples →").wait_for(timeout=60_000)
        assert batch.locator("tr", has_text="report.txt").get_by_text("Added").is_visible()
        assert batch.locator("tr", has_text="tickets.csv").get_by_text("Choose columns").is_visible()
        assert batch.get_attribute("hx-trigger") is None  # polling stopped
        browser.screenshot("upload-batch-needs-mapping")

        # The inline mapping form: choose the columns, read the rows.
        form = batch.locator("form.mapping-form")
        assert form.get_by_text("My parcel arrived damaged").is_visible()  # the preview
        form.get_by_label("Input").select_option("Ticket text")
        form.get_by_label("Answer / output").select_option("Our verdict")
        form.get_by_role("button", name="Read the rows with these columns").click()
        page.locator("#current-batch .batch", has_text="Columns chosen").get_by_text(
            "3 examples from tickets.csv"
        ).wait_for(timeout=60_000)

        # A file dropped on the drop zone uploads too.
        page.evaluate(
            """(text) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([text], "dropped.csv", {type: "text/csv"}));
                const zone = document.getElementById("dropzone");
                const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
                zone.dispatchEvent(new DragEvent("drop", init));
            }""",
            TABLE_CSV.decode(),
        )
        page.locator("#current-batch .batch").get_by_text("2 examples from dropped.csv").wait_for(
            timeout=60_000
        )

        # Pasted text.
        page.get_by_label("Title").fill("Thank-you note")
        page.get_by_label("Text", exact=True).fill("Thank you for choosing Brightwater.")
        page.get_by_role("button", name="Add this text").click()
        page.locator("#current-batch .batch").get_by_text("1 example from Thank-you note.txt").wait_for(
            timeout=60_000
        )
        browser.screenshot("upload-page")
        assert missing == [], missing
        # Chromium's own /favicon.ico request 404s (no icon yet) and shows up as a console error.
        assert [e for e in browser.console_errors if "404" not in e] == []
        assert browser.failed_requests == []
