"""Debian's Chromium driven by Playwright, recording console errors and failed requests."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page, Request, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]


@dataclass
class BrowserPage:
    """A page plus everything that went wrong in it."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot under test-artifacts/screenshots/."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        """No console errors and no failed or 5xx requests so far."""
        assert not self.console_errors, self.console_errors
        assert not self.failed_requests, self.failed_requests


# What htmx logs for a request that was aborted (the page navigated on, or hx-sync replaced it). A request
# that really failed also logs htmx:sendError, htmx:timeout or htmx:responseError, still recorded.
HTMX_ABORT_LOGS = ("htmx:afterRequest", "htmx:sendAbort")


def _record_console(wrapped: BrowserPage, message: ConsoleMessage) -> None:
    """Note a console error, except htmx's note of an aborted request (see _record_failure)."""
    if message.type == "error" and not message.text.startswith(HTMX_ABORT_LOGS):
        wrapped.console_errors.append(message.text)


def _record_failure(wrapped: BrowserPage, request: Request) -> None:
    """Note a failed request, except one the browser aborted itself because the page navigated on."""
    if request.failure != "net::ERR_ABORTED":
        wrapped.failed_requests.append(f"{request.method} {request.url} {request.failure}")


@contextmanager
def chromium_page(width: int = 1280, height: int = 800) -> Iterator[BrowserPage]:
    """A fresh headless Chromium page of the given size."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        wrapped = BrowserPage(page)
        page.on("console", lambda m: _record_console(wrapped, m))
        page.on("pageerror", lambda e: wrapped.console_errors.append(str(e)))
        page.on("requestfailed", lambda r: _record_failure(wrapped, r))
        page.on(
            "response", lambda r: r.status >= 500 and wrapped.failed_requests.append(f"{r.status} {r.url}")
        )
        try:
            yield wrapped
        finally:
            context.close()
            browser.close()
