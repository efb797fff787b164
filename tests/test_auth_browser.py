"""Accounts in Chromium on a fresh `lastmile run`: setup, sign out from the menu, a refused and a good
sign-in, and a password change, with no CSP violation or console error on the way."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_setup_sign_out_sign_in_and_change_password(tmp_path: Path):
    from tests.browser import chromium_page
    from tests.browser_auth import ADMIN_EMAIL, ADMIN_PASSWORD, sign_up_first_admin
    from tests.live_server import lastmile_run

    with lastmile_run(tmp_path / "data") as server, chromium_page() as browser:
        page = browser.page
        sign_up_first_admin(page, server.url, "/datasets")
        browser.screenshot("auth-signed-in")

        page.click(".user-menu summary")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{server.url}/login")
        page.goto(f"{server.url}/datasets")
        page.wait_for_url(f"{server.url}/login?next=/datasets")

        page.fill("#login-email", ADMIN_EMAIL)
        page.fill("#login-password", "not the password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Email or password is wrong").wait_for()
        browser.screenshot("auth-login-refused")
        page.fill("#login-password", ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/datasets")

        page.click(".user-menu summary")
        page.get_by_role("link", name="Account").click()
        page.wait_for_url(f"{server.url}/account")
        page.get_by_role("link", name="Change password").click()
        page.fill("#pw-current", ADMIN_PASSWORD)
        page.fill("#pw-new", "a new browser password")
        page.fill("#pw-confirm", "a new browser password")
        page.get_by_role("button", name="Change password").click()
        page.get_by_text("Your password is changed").wait_for()
        # Still signed in on this browser, with a fresh session whose CSRF token htmx now sends.
        page.goto(f"{server.url}/upload")
        with page.expect_response(lambda r: r.url.endswith("/upload/sample")) as answer:
            page.get_by_role("button", name="Try with sample data").click()
        assert answer.value.status == 200
        page.locator("#current-batch .batch").wait_for()
        assert page.locator(".user-menu summary").inner_text().strip() == "Ada Admin"
        # The refused sign-in answered 400 (Chromium logs any 4xx page load); nothing else went wrong.
        assert [e for e in browser.console_errors if "status of 400" not in e] == []
        assert len(browser.console_errors) == 1
        # (A favicon fetch cut short by the next navigation is not a failure of the page.)
        assert [r for r in browser.failed_requests if "favicon" not in r] == []
