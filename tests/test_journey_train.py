"""Journey 2 in Chromium on a fresh `lastmile run`: the tiny model added with `lastmile add-model`, a dataset
made through the JSON API (journey 1 covers uploads), a short run started from the launch form; the run page's
status, progress and loss chart update while it trains, and its adapter is listed when it is done."""

import re
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.worker]
MODEL_NAME = "Tiny test model"
DATASET_NAME = "Client writing"
# One training step per pass over the 8 examples: a short run whose progress a person can see move.
PASSES = "8"
# The run page's live part, read in one go: what a person watching it sees.
OBSERVE = """() => {
  const status = document.querySelector('#run-status');
  const badge = status.querySelector('.run-head .badge');
  const bar = status.querySelector('progress.run-progress');
  return {
    badge: badge ? badge.textContent.trim() : '',
    step: bar ? Number(bar.getAttribute('value')) : 0,
    points: JSON.parse(document.querySelector('#run-chart-data').dataset.train || '[]').length,
    polling: status.hasAttribute('hx-trigger'),
  };
}"""


def _add_tiny_model(server) -> None:
    """`lastmile add-model` on the server's machine, as an administrator would run it."""
    from tests.live_server import LASTMILE
    from tests.tiny_model import tiny_model_dir

    command = [str(LASTMILE), "add-model", "--name", MODEL_NAME, "--folder", str(tiny_model_dir())]
    done = subprocess.run(command, env=server.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"Added {MODEL_NAME}" in done.stdout, done.stdout + done.stderr


def _create_dataset_through_the_api(page, url: str) -> None:
    """Examples (8 to train on, 2 held out) and a dataset of them, with the browser's own session."""
    from tests.run_helpers import REPLIES

    headers = {"X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content")}
    ids = []
    for i in range(10):
        instruction, output = REPLIES[i % len(REPLIES)]
        example = {
            "instruction": f"{instruction} ({i})",
            "output": output,
            "split": "train" if i < 8 else "heldout",
        }
        response = page.request.post(f"{url}/api/examples", data=example, headers=headers)
        assert response.status == 201, response.text()
        ids.append(response.json()["id"])
    dataset = {"name": DATASET_NAME, "example_ids": ids}
    response = page.request.post(f"{url}/api/datasets", data=dataset, headers=headers)
    assert response.status == 201, response.text()


def _watch_until_finished(browser, timeout: float = 180) -> list[dict]:
    """Observe the run page (never reloaded) until the run ends; a screenshot each time the chart grows."""
    seen: list[dict] = []
    shown = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(browser.page.evaluate(OBSERVE))
        now = seen[-1]
        if now["badge"].startswith("Running") and now["points"] > shown:
            shown = now["points"]
            browser.screenshot("journey2-running")  # the last one kept: the run well under way
        if not now["polling"]:
            return seen
        time.sleep(0.25)
    raise AssertionError(f"the run did not finish in {timeout}s: {seen[-5:]}")


def test_train_a_run_and_see_its_adapter(tmp_path: Path):
    from tests.browser import chromium_page
    from tests.browser_auth import sign_up_first_admin
    from tests.live_server import lastmile_run

    with lastmile_run(tmp_path / "data") as server, chromium_page() as browser:
        page = browser.page
        _add_tiny_model(server)
        sign_up_first_admin(page, server.url, "/datasets")
        _create_dataset_through_the_api(page, server.url)

        # No run yet: the empty state leads to the launch form.
        page.goto(f"{server.url}/runs")
        page.get_by_role("link", name="Start your first run").click()
        page.wait_for_url(f"{server.url}/runs/new")
        page.locator("label.choice", has_text=MODEL_NAME).locator("input").check()
        page.locator("label.choice", has_text="Quick").locator("input").check()
        estimate = page.locator("#estimate")
        estimate.get_by_text("About this run").wait_for()
        # Advanced: few passes are plenty for the tiny model; the estimate follows every change.
        page.get_by_text("Advanced settings").click()
        page.get_by_label("Passes over the data").fill(PASSES)
        estimate.locator("dd", has_text=re.compile(f"^{PASSES}$")).wait_for()  # Training steps: 8
        assert estimate.locator(".notice-err").count() == 0, estimate.inner_text()
        page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the full-page screenshot
        browser.screenshot("journey2-launch")
        estimate.get_by_role("button", name="Start training").click()

        # The run page: status, progress and chart update in place while it trains.
        page.wait_for_url(f"{server.url}/runs/*")
        run_url = page.url
        seen = _watch_until_finished(browser)
        final = seen[-1]
        assert final["badge"] == "Succeeded", seen[-5:]
        badges = [s["badge"].split(" ·")[0].split(",")[0] for s in seen]
        assert badges[0] in ("Queued", "Running") and "Running" in badges, sorted(set(badges))
        assert any(s["badge"].startswith("Running") and s["step"] < final["step"] for s in seen), (
            "no progress seen"
        )
        assert len({s["points"] for s in seen}) >= 2 and final["points"] > 0, "the chart never updated"
        # The chart is redrawn when the last swap settles, a moment after the polling stopped.
        page.locator("#run-chart canvas").first.wait_for(timeout=5000)
        assert page.url == run_url
        page.get_by_role("heading", name="The adapter").wait_for()
        assert page.get_by_role("link", name="Download the adapter").is_visible()
        browser.screenshot("journey2-finished")

        # The adapter is listed, and the runs list shows the run as done.
        run_name = page.get_by_role("heading", level=1).inner_text()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Adapters").click()
        entry = page.locator(".adapter-entry", has=page.get_by_role("heading", name=run_name))
        entry.wait_for()
        assert entry.get_by_text(DATASET_NAME).count() >= 1
        browser.screenshot("journey2-adapters")
        page.goto(f"{server.url}/runs")
        row = page.locator(".runs-table tbody tr", has_text=run_name)
        assert row.get_by_text("Succeeded").is_visible()
        browser.screenshot("journey2-runs")
        browser.assert_clean()
    print(f"\njourney 2: {len(seen)} observations, badges {list(dict.fromkeys(badges))}")
