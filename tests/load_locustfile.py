"""Locust users for tests/test_load.py: people browsing pages, watching a run train, uploading small files.

Run by the test as `locust --headless`; configured by environment variables: LOAD_EMAILS (comma-separated
accounts, password LOAD_PASSWORD), LOAD_RUN_ID (the training run to watch) and LOAD_RESULTS (a CSV file
that gets one line per request: category, name, milliseconds, error, when it finished). Request names start
with their category: `page` (a full page and the partials it loads), `poll` (what htmx polls), `upload`,
`signin`.
"""

import csv
import itertools
import os
import random
import re
import time
import uuid

from locust import HttpUser, between, events, task

RUN_ID = int(os.environ["LOAD_RUN_ID"])
EMAILS = os.environ["LOAD_EMAILS"].split(",")
PASSWORD = os.environ["LOAD_PASSWORD"]
# Each page with the htmx partials it loads on arrival.
PAGES = {
    "/examples": ["/examples/health"],
    "/datasets": [],
    "/runs": [],
    f"/runs/{RUN_ID}": [],
    "/runs/new": [],
    "/upload": [],
    "/models": [],
}
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE_CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')
BATCH_POLL = re.compile(r'hx-get="(/upload/batches/\d+)" hx-trigger="every 1s"')
_accounts = itertools.count()
_results = open(os.environ["LOAD_RESULTS"], "w", newline="")  # noqa: SIM115 - closed when locust quits
_writer = csv.writer(_results)


@events.request.add_listener
def _record(name: str, response_time: float, exception: Exception | None, **_kwargs) -> None:
    """One CSV line per request, for the test to compute percentiles by category and time."""
    error = repr(exception) if exception else ""
    _writer.writerow([name.split(" ", 1)[0], name, f"{response_time:.1f}", error, f"{time.time():.3f}"])


@events.quitting.add_listener
def _close(**_kwargs) -> None:
    """Flush the results before locust exits."""
    _results.close()


def page_name(path: str) -> str:
    """The request name of a page: its path with ids folded, so percentiles group by route."""
    return "page " + re.sub(r"/\d+", "/[id]", path)


class Member(HttpUser):
    """A signed-in editor: mostly watches the run's progress, browses pages, sometimes uploads a file."""

    wait_time = between(0.5, 2.5)

    def on_start(self) -> None:
        """Sign in through the login form, then keep the page's CSRF token as htmx does."""
        email = EMAILS[next(_accounts) % len(EMAILS)]
        form = self.client.get("/login", name="signin /login")
        token = FORM_CSRF.search(form.text).group(1)
        with self.client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/runs"},
            name="signin /login (post)",
            catch_response=True,
        ) as response:
            match = PAGE_CSRF.search(response.text)
            if response.url.endswith("/login") or match is None:
                response.failure(f"sign-in as {email} failed")
                return
        self.client.headers.update({"X-CSRF-Token": match.group(1)})

    @task(6)
    def watch_run(self) -> None:
        """The run page's live part, as htmx polls it every 2 s."""
        self.client.get(
            f"/runs/{RUN_ID}/status", headers={"HX-Request": "true"}, name="poll /runs/[id]/status"
        )

    @task(4)
    def browse(self) -> None:
        """Open a page, then the partials it loads (the run notices banner is on every page)."""
        path, partials = random.choice(list(PAGES.items()))
        self.client.get(path, name=page_name(path))
        for partial in [*partials, "/notices/runs"]:
            self.client.get(partial, headers={"HX-Request": "true"}, name=page_name(partial))

    @task(1)
    def upload(self) -> None:
        """Upload a small text file, then poll its batch until the worker has read it (at most 5 times)."""
        body = f"Dear client,\n\nyour order {uuid.uuid4().hex} ships on Monday.\n\nKind regards\n" * 20
        files = [("files", (f"note-{uuid.uuid4().hex[:8]}.txt", body.encode(), "text/plain"))]
        response = self.client.post(
            "/upload", files=files, headers={"HX-Request": "true"}, name="upload /upload"
        )
        for _ in range(5):
            polling = BATCH_POLL.search(response.text)
            if polling is None:
                return
            time.sleep(1)  # htmx polls a batch every second (locust patches sleep to yield)
            response = self.client.get(
                polling.group(1), headers={"HX-Request": "true"}, name="poll /upload/batches/[id]"
            )
