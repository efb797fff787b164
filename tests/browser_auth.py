"""Browser helpers for accounts: a fresh install sends the first visitor to /setup to create the admin."""

from playwright.sync_api import Page

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "browser test admin password"


def sign_up_first_admin(page: Page, url: str, next_path: str = "/") -> None:
    """Open a fresh Lastmile at `url`, create the admin on the setup page, and land on `next_path`."""
    page.goto(f"{url}{next_path}")
    page.wait_for_url(f"{url}/setup")
    page.fill("#setup-name", "Ada Admin")
    page.fill("#setup-email", ADMIN_EMAIL)
    page.fill("#setup-password", ADMIN_PASSWORD)
    page.fill("#setup-password-confirm", ADMIN_PASSWORD)
    page.get_by_role("button", name="Create the admin account").click()
    # Signed in: the account menu shows the name.
    page.locator(".user-menu summary", has_text="Ada Admin").wait_for()
    if next_path != "/":
        page.goto(f"{url}{next_path}")
