"""The visual pass in Chromium on a fresh `lastmile run`: every page a signed-in admin can reach (empty, then
with the sample data, a finished run, its comparison and drafts) and the signed-out pages, each at 1280×800
and at phone width (390×844). Each page is checked for horizontal overflow, overlapping controls, button text
cut off, fields without a label, controls the keyboard cannot reach, console errors and failed requests, and
saved as test-artifacts/screenshots/visual-<page>-<width>.png for a person to look at."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_journey_compare import _api, _latest_batch_state, _wait_for

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.timeout(900)]

WIDTHS = {1280: 800, 390: 844}
# Swagger UI is a vendored third-party page: its own try-it-out fields are out of this pass's reach.
THIRD_PARTY = {"docs"}

# What can be clicked, typed into or tabbed to.
INTERACTIVE = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]"

# Layout checks, in the page: overflow, overlaps, cut-off text, labels, tabindex=-1. Returns problems.
LAYOUT_CHECKS = """(selector) => {
  const problems = [];
  const describe = (el) => {
    const text = (el.getAttribute('aria-label') || el.innerText || el.value || '').trim().slice(0, 40);
    const name = el.name ? ' name=' + el.name : '';
    return `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${name}> "${text}"`;
  };
  const shown = (el) => {
    if (!el.checkVisibility({visibilityProperty: true})) return false;
    const r = el.getBoundingClientRect();
    return r.width > 2 && r.height > 2;  // sr-only controls (1×1) are reachable, but take no room
  };
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    const wide = [...document.querySelectorAll('body *')].filter(
      (el) => shown(el) && el.getBoundingClientRect().right > window.innerWidth + 1
        && !el.closest('.table-wrap, pre'));
    problems.push(`page scrolls sideways: ${doc.scrollWidth}px > ${window.innerWidth}px; widest: `
      + wide.slice(0, 3).map(describe).join(', '));
  }
  const controls = [...document.querySelectorAll(selector)].filter(shown);
  const rects = controls.map((el) => el.getBoundingClientRect());
  for (let i = 0; i < controls.length; i++) {
    for (let j = i + 1; j < controls.length; j++) {
      const a = controls[i], b = controls[j];
      if (a.contains(b) || b.contains(a)) continue;
      const w = Math.min(rects[i].right, rects[j].right) - Math.max(rects[i].left, rects[j].left);
      const h = Math.min(rects[i].bottom, rects[j].bottom) - Math.max(rects[i].top, rects[j].top);
      if (w > 1 && h > 1) problems.push(`overlap: ${describe(a)} and ${describe(b)} (${w | 0}×${h | 0}px)`);
    }
  }
  for (const el of document.querySelectorAll('button, .btn, summary, .badge, .nav a')) {
    if (shown(el) && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`text cut off: ${describe(el)} (${el.scrollWidth}px in ${el.clientWidth}px)`);
    }
  }
  const fields = 'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea';
  // A field hidden from everyone (aria-hidden, out of the tab order) is for password managers only.
  const forMachines = (el) => el.closest('[aria-hidden="true"]') && el.tabIndex < 0;
  for (const el of [...document.querySelectorAll(fields)].filter((el) => !forMachines(el))) {
    const labelledBy = (el.getAttribute('aria-labelledby') || '').split(' ');
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || labelledBy.some((id) => id && document.getElementById(id));
    if (!named) problems.push(`no label: ${describe(el)}`);
  }
  for (const el of controls) {
    if (el.tabIndex < 0 && !el.disabled && !el.closest('[inert]') && !forMachines(el)) {
      problems.push(`not in the tab order (tabindex=${el.getAttribute('tabindex')}): ${describe(el)}`);
    }
  }
  return problems;
}"""

# Marks every visible, enabled control with a key (one per radio group: Tab enters a group once) and
# starts noting which keys receive focus. Returns {key: description}.
MARK_TAB_TARGETS = """(selector) => {
  const targets = {};
  let n = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (el.disabled || el.tabIndex < 0 || el.closest('[inert]')) continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    const key = el.type === 'radio' && el.name ? `radio:${el.name}` : `c${n++}`;
    el.dataset.visualKey = key;
    targets[key] = `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}> `
      + (el.getAttribute('aria-label') || el.innerText || el.name || '').trim().slice(0, 40);
  }
  window.__visualFocused = new Set();
  document.addEventListener('focusin', (e) => {
    const key = e.target.dataset && e.target.dataset.visualKey;
    if (key) window.__visualFocused.add(key);
  }, true);
  document.activeElement && document.activeElement.blur();
  return targets;
}"""


@dataclass
class Visit:
    """One page to check: its screenshot name and path."""

    name: str
    path: str


def _check_page(browser, url: str, visit: Visit, width: int) -> list[str]:
    """Open the page, check it, screenshot it and walk it with Tab; the problems found, each prefixed."""
    page = browser.page
    page.goto(f"{url}{visit.path}")
    page.wait_for_load_state("networkidle")
    problems = [] if visit.name in THIRD_PARTY else page.evaluate(LAYOUT_CHECKS, INTERACTIVE)
    browser.screenshot(f"visual-{visit.name}-{width}")
    if visit.name not in THIRD_PARTY:
        problems += _unreachable_by_tab(page)
    problems += browser.console_errors + browser.failed_requests
    browser.console_errors.clear()
    browser.failed_requests.clear()
    return [f"{visit.name} @{width}: {p}" for p in problems]


def _unreachable_by_tab(page) -> list[str]:
    """Press Tab through the page; every visible control (every radio group) must receive focus."""
    targets = page.evaluate(MARK_TAB_TARGETS, INTERACTIVE)
    # Room for focusable things the marking leaves out (scrollable regions, the document itself); checked
    # every 20 presses, not after each, to keep long pages quick.
    for presses in range(1, len(targets) + 11):
        page.keyboard.press("Tab")
        if presses % 20 == 0 and len(targets) == page.evaluate("window.__visualFocused.size"):
            return []
    focused = set(page.evaluate("[...window.__visualFocused]"))
    return [f"Tab never reaches {what}" for key, what in targets.items() if key not in focused]


def _check_all(browser, url: str, visits: list[Visit]) -> list[str]:
    """Every page at every width."""
    problems = []
    for width, height in WIDTHS.items():
        browser.page.set_viewport_size({"width": width, "height": height})
        for visit in visits:
            problems += _check_page(browser, url, visit, width)
    return problems


def _load_sample_data(page, url: str) -> tuple[int, int]:
    """Load the sample data with the Upload page's button, freeze a dataset of it; (batch, dataset) ids."""
    page.goto(f"{url}/upload")
    page.get_by_role("button", name="Try with sample data").click()
    _wait_for(lambda: _latest_batch_state(page, url) == "done", 120, "loading the sample data")
    batch = _api(page, "GET", f"{url}/api/uploads")[0]
    dataset = _api(page, "POST", f"{url}/api/datasets", {"name": "Brightwater sample", "filter": {}})
    _api(page, "POST", f"{url}/api/datasets/{dataset['id']}/snapshots")
    return batch["id"], dataset["id"]


@pytest.fixture
def server_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """A fresh `lastmile run`, and a session on its database (the test process shares its settings)."""
    from tests.conftest import clear_caches
    from tests.live_server import lastmile_run

    with lastmile_run(tmp_path / "data") as server:
        for key, value in server.env.items():
            if key.startswith("LASTMILE_"):
                monkeypatch.setenv(key, value)
        clear_caches()
        from app.db import get_sessionmaker

        try:
            with get_sessionmaker()() as session:
                yield server, session
        finally:
            clear_caches()


@dataclass
class Written:
    """What _write_finished_work put in the database."""

    run_id: int
    comparison_id: int
    draft_id: int
    brief_id: int


def _write_finished_work(session, workspace_id: int, model_id: int) -> Written:
    """A finished run with a loss curve, its adapter's comparison, a draft and a brief, straight to the
    database: training and generation are the journeys' business, this pass looks at the pages."""
    from app.models import Adapter, Run
    from tests.adapter_helpers import make_generation
    from tests.compare_helpers import Pair, make_compared_run
    from tests.test_general_writing_pages import _guard

    pairs = [
        Pair(
            "Dear Maria, BW-2231 left Rotterdam this morning; the new ETA is Thu 14 Mar, 10:00 CET.",
            "Hello. The shipment is delayed. Regards.",
            "Dear Maria, BW-2231 left Rotterdam this morning. New ETA: Thu 14 Mar, 10:00 CET.",
        ),
        Pair(
            "Dear Jonas, the pallet was rewrapped in Oslo.", "The pallet is fine.", "Dear Jonas, rewrapped."
        ),
    ]
    comparison = make_compared_run(session, workspace_id, pairs, run_name="Client replies, March")
    adapter = session.get(Adapter, comparison.adapter_id)
    run = session.get(Run, adapter.run_id)
    losses = [[step, round(2.6 - step * 0.04, 3)] for step in range(1, 31)]
    run.base_model_id, run.preset, run.step, run.total_steps = model_id, "quick", 30, 30
    run.loss_history, run.heldout_history = losses, [[10, 2.3], [20, 1.9], [30, 1.7]]
    run.train_count, run.heldout_count, run.tokens_seen = 2, 2, 48_000
    run.status_text = "Finished"
    adapter.base_model_id = model_id
    # The regression guard's warning with its examples, on the run page and in the adapter library.
    adapter.metrics = {**adapter.metrics, "general_writing": _guard(0.38, True)}
    session.commit()
    brief = [{"role": "user", "content": "Tell Anna at Casa Serena her container arrives Friday."}]
    draft = make_generation(
        session, workspace_id, adapter, state="succeeded", messages=brief, stop_reason="eos",
        output="Dear Anna,\n\nYour container arrives on Friday.\n\nKind regards,\nBrightwater Client Care",
    )  # fmt: skip
    side_by_side = make_generation(
        session, workspace_id, adapter, state="succeeded", messages=brief, purpose="brief",
        with_base=True, output="Dear Anna, your container arrives Friday.", base_output="Container Friday.",
    )  # fmt: skip
    return Written(run.id, comparison.id, draft.id, side_by_side.id)


def _one_time_links(session, workspace_id: int) -> tuple[str, str]:
    """Paths of a fresh invite and a fresh password reset link (as the signed-out visitor opens them)."""
    from app.auth.links import create_invite, create_reset, link_path
    from tests.auth_helpers import make_user

    invite, _ = create_invite(session, "new.reviewer@example.com", "Noor", workspace_id, "reviewer", None)
    reset = create_reset(session, make_user(session, "reviewer", workspace_id), None)
    session.commit()
    return link_path("invite", invite), link_path("reset", reset)


EMPTY = ["upload", "examples", "datasets", "runs", "review", "adapters", "drafts"]


def test_every_page_at_desktop_and_phone_width(server_session):
    """Empty, then full, then signed out: no page fails a check at either width."""
    from app.models import Workspace
    from tests.browser import chromium_page
    from tests.browser_auth import sign_up_first_admin

    server, session = server_session
    url = server.url
    problems: list[str] = []
    with chromium_page() as browser:
        page = browser.page
        problems += _check_all(browser, url, [Visit("setup", "/setup")])
        page.set_viewport_size({"width": 1280, "height": 800})
        sign_up_first_admin(page, url, "/upload")
        problems += _check_all(browser, url, [Visit(f"empty-{name}", f"/{name}") for name in EMPTY])

        batch_id, dataset_id = _load_sample_data(page, url)
        workspace_id = session.query(Workspace).order_by(Workspace.id).first().id
        model_id = _api(page, "GET", f"{url}/api/models")[0]["id"]
        work = _write_finished_work(session, workspace_id, model_id)
        signed_in = [
            Visit("upload", "/upload"),
            Visit("upload-batch", f"/upload/batches/{batch_id}"),
            Visit("examples", "/examples"),
            Visit("datasets", "/datasets"),
            Visit("dataset-new", "/datasets/new"),
            Visit("dataset", f"/datasets/{dataset_id}"),
            Visit("runs", "/runs"),
            Visit("run-new", "/runs/new"),
            Visit("run", f"/runs/{work.run_id}"),
            Visit("models", "/models"),
            Visit("adapters", "/adapters"),
            Visit("compare", f"/compare/{work.comparison_id}"),
            Visit("review", "/review"),
            Visit("review-pair", f"/review/{work.comparison_id}"),
            Visit("drafts", "/drafts"),
            Visit("draft", f"/drafts/{work.draft_id}"),
            Visit("brief", f"/briefs/{work.brief_id}"),
            Visit("account", "/account"),
            Visit("password", "/account/password"),
            Visit("workspaces", "/workspaces"),
            Visit("members", f"/workspaces/{workspace_id}/members"),
            Visit("audit", f"/workspaces/{workspace_id}/audit"),
            Visit("docs", "/docs"),
        ]
        problems += _check_all(browser, url, signed_in)

        invite, reset = _one_time_links(session, workspace_id)
        page.context.clear_cookies()
        signed_out = [Visit("login", "/login"), Visit("invite", invite), Visit("reset", reset)]
        problems += _check_all(browser, url, signed_out)
    assert not problems, "\n".join(problems)


BROKEN_PAGE = """<!doctype html><meta name="viewport" content="width=device-width">
<body style="margin:0">
  <button style="position:absolute; left:10px; top:10px; width:120px">First</button>
  <button style="position:absolute; left:60px; top:15px; width:120px">Second</button>
  <button style="position:absolute; left:10px; top:80px; width:60px; overflow:hidden; white-space:nowrap">
    A label far too long for its button</button>
  <input type="text" name="nameless" style="position:absolute; left:10px; top:140px">
  <a href="#skipped" tabindex="-1" style="position:absolute; left:10px; top:200px">Skipped by Tab</a>
  <div style="position:absolute; left:10px; top:260px; width:900px">A strip wider than a phone</div>
  <input aria-label="Trap" onkeydown="if (event.key === 'Tab') event.preventDefault()"
    style="position:absolute; left:10px; top:320px">
  <button style="position:absolute; left:10px; top:380px">Beyond the trap</button>
</body>"""


def test_the_checks_catch_a_broken_page():
    """Each check reports what it is there to find, on a page built to fail all of them."""
    from tests.browser import chromium_page

    with chromium_page(390, 844) as browser:
        browser.page.set_content(BROKEN_PAGE)
        problems = browser.page.evaluate(LAYOUT_CHECKS, INTERACTIVE)
        unreached = _unreachable_by_tab(browser.page)
    found = "\n".join(problems)
    assert "page scrolls sideways" in found, found
    assert 'overlap: <button> "First" and <button> "Second"' in found, found
    assert 'text cut off: <button> "A label far too long' in found, found
    assert "no label: <input name=nameless>" in found, found
    assert 'not in the tab order (tabindex=-1): <a> "Skipped by Tab"' in found, found
    # A keyboard trap keeps Tab from what follows (tabindex=-1 is left out of the walk: reported above).
    assert unreached == ["Tab never reaches <button> Beyond the trap"], unreached
