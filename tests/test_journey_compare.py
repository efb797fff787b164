"""Journey 3 in Chromium on a fresh `lastmile run`: the sample data and a short run of the tiny model (set
up through the JSON API: journeys 1 and 2 cover those pages), then what a newcomer does once the run is
done: open its comparison from the run page, read the base and adapted drafts beside the reference, cast
ten blind votes and see the win rate; then draft a new document with the adapter."""

import json
import time
from pathlib import Path

import pytest

from tests.test_journey_train import MODEL_NAME, _add_tiny_model

# Training, then both models answering every held-out example, on 2 CPU cores: minutes, not seconds.
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.timeout(1200)]
HELD_OUT = 12
# Short drafts keep the tiny model's part quick; the pages are the same at any length.
DRAFT_TOKENS = "96"
# Ten blind verdicts, in the A/B terms the reviewer sees (which model is A changes from pair to pair).
VOTES = ["A is better", "B is better", "A is better", "About the same", "A is better",
         "B is better", "Both are bad", "A is better", "B is better", "A is better"]  # fmt: skip


def _csrf(page) -> dict[str, str]:
    """The browser session's CSRF header, read from the page like htmx does."""
    return {"X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content")}


def _api(page, method: str, url: str, body: dict | None = None) -> dict | list:
    """A JSON API call with the browser's own session; fails on an error status."""
    response = page.request.fetch(url, method=method, data=body, headers=_csrf(page))
    assert response.ok, f"{method} {url}: {response.status} {response.text()}"
    return response.json()


def _wait_for(predicate, timeout: float, what: str):
    """Poll `predicate` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def _sample_data_and_a_run(page, url: str) -> int:
    """Load the sample data from the Upload page, hold out enough examples for ten pairs, make a dataset,
    and start a short run of the tiny model on it; the run's id."""
    page.goto(f"{url}/upload")
    page.get_by_role("button", name="Try with sample data").click()
    _wait_for(lambda: _latest_batch_state(page, url) == "done", 120, "loading the sample data")
    examples = _api(page, "GET", f"{url}/api/examples?page_size=500&included=true&kind=draft")["items"]
    split = {"action": "set_split", "value": "heldout", "ids": [e["id"] for e in examples[:HELD_OUT]]}
    _api(page, "POST", f"{url}/api/examples/bulk", split)
    sample = {"name": "Brightwater sample", "filter": {"included": True, "kind": "draft"}}
    dataset = _api(page, "POST", f"{url}/api/datasets", sample)
    model = next(m for m in _api(page, "GET", f"{url}/api/models") if m["name"] == MODEL_NAME)
    body = {"dataset_id": dataset["id"], "base_model_id": model["id"], "preset": "quick",
            "hyperparameters": {"epochs": 1, "max_length": 512}}  # fmt: skip
    return _api(page, "POST", f"{url}/api/runs", body)["id"]


def _latest_batch_state(page, url: str) -> str:
    """The state of the newest upload batch ('' before there is one)."""
    batches = _api(page, "GET", f"{url}/api/uploads")
    return batches[0]["state"] if batches else ""


def _live_is_polling(page) -> bool:
    """Whether the comparison's live part still polls (the worker is writing drafts)."""
    return page.locator("#compare-live").get_attribute("hx-trigger") is not None


def test_compare_drafts_vote_blind_and_draft(tmp_path: Path):
    from tests.browser import SCREENSHOTS, chromium_page
    from tests.browser_auth import sign_up_first_admin
    from tests.live_server import lastmile_run

    settings = {"LASTMILE_COMPARISON_MAX_NEW_TOKENS": DRAFT_TOKENS}
    with lastmile_run(tmp_path / "data", settings) as server, chromium_page(1360, 900) as browser:
        page, url = browser.page, server.url
        _add_tiny_model(server)
        sign_up_first_admin(page, url, "/upload")
        run_id = _sample_data_and_a_run(page, url)

        # The run page: once training is done it offers the comparison.
        started = time.monotonic()
        page.goto(f"{url}/runs/{run_id}")
        link = page.get_by_role("link", name="Compare base and adapted drafts")
        link.wait_for(timeout=600_000)
        trained = time.monotonic()
        link.click()
        page.wait_for_url(f"{url}/compare/*")
        comparison_id = int(page.url.rsplit("/", 1)[1])
        if _live_is_polling(page):
            browser.screenshot("journey3-compare-writing")
        _wait_for(lambda: not _live_is_polling(page), 600, "the comparison")
        compared = time.monotonic()

        # Drafts side by side, beside the reference, and the metrics with their explanations.
        first = page.locator(".cmp-item").first
        columns = first.locator(".cmp-col")
        assert columns.count() == 3
        reference, base, adapted = (columns.nth(i).locator(".doc").inner_text() for i in range(3))
        assert reference.strip() and base.strip() and adapted.strip()
        assert "Being written" not in first.inner_text()
        metrics = page.locator(".metrics-table")
        for label in (
            "Held-out loss",
            "Perplexity",
            "Similarity to the reference (chrF)",
            "Length vs the reference",
        ):
            assert metrics.locator("th[scope=row]", has_text=label).count() == 1, label
        # The twelve held out here, and any the automatic split held out of the sample data before.
        assert page.locator(".cmp-item").count() >= HELD_OUT
        browser.screenshot("journey3-compare")
        first.screenshot(path=str(SCREENSHOTS / "journey3-compare-item.png"))

        # Blind review: ten votes, each pair shown as A and B without saying which model wrote which.
        page.get_by_role("link", name="Review blind").first.click()
        page.wait_for_url(f"{url}/review/{comparison_id}")
        for number, verdict in enumerate(VOTES, start=1):
            a = page.locator("#draft-a-title").locator("xpath=..").locator(".doc").inner_text()
            b = page.locator("#draft-b-title").locator("xpath=..").locator(".doc").inner_text()
            assert a.strip() and b.strip()
            if number == 1:
                page.get_by_label("Comment").fill("The adapted one signs off like we do.")
                browser.screenshot("journey3-review-pair")
            page.get_by_role("button", name=verdict).click()
            page.get_by_text(f"you have judged {number}").or_(
                page.get_by_text("You have judged all")
            ).first.wait_for()
        side = page.locator(".review-side")
        side.get_by_text("Adapted preferred in").wait_for()
        assert "of 9 judgements" in side.inner_text() and "1 marked both bad" in side.inner_text()
        browser.screenshot("journey3-review-done")
        api = _api(page, "GET", f"{url}/api/comparisons/{comparison_id}")
        assert api["win_rate"]["judged"] == 9 and api["win_rate"]["both_bad"] == 1
        assert [r["judgements"] for r in api["reviewers"]] == [10]
        page.goto(f"{url}/compare/{comparison_id}")
        assert "of 9 judgements" in page.locator(".cmp-panels").inner_text()

        # Draft a new document with the adapter.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Draft").click()
        page.wait_for_url(f"{url}/drafts")
        page.get_by_label("Write with").select_option(label=api["adapter_name"])
        page.get_by_label("What should it say?").fill(
            "Tell Anna at Casa Serena her container arrives Friday."
        )
        page.get_by_role("button", name="Write the draft").click()
        page.locator(".draft-output").wait_for(timeout=300_000)
        assert page.locator(".draft-output").inner_text().strip()
        browser.screenshot("journey3-draft")
        browser.assert_clean()
    metrics = {m["label"]: (m["base_text"], m["adapted_text"]) for m in api["metrics"]}
    print(f"\njourney 3 held-out metrics (base, adapted): {json.dumps(metrics)}")
    print(f"journey 3 win rate: {api['win_rate']['sentence']}")
    print(f"journey 3: trained in {trained - started:.0f}s, drafts written in {compared - trained:.0f}s")
