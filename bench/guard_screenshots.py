"""Issue 14's screenshots, made through the product: the comparison page on the sample data after a default
run, and the regression guard's card on that run's page.

    .venv/bin/python -m bench.quality --datasets sample --keep /tmp/qk
    .venv/bin/python -m bench.guard_screenshots --data-dir /tmp/qk/sample

It builds on the folder `bench.quality --keep` left for the sample data (the default run, its guard result and
its comparison, made by the services the buttons call), so nothing is trained twice. It prints the run's guard
numbers and the comparison's verdict, then serves the folder (`lastmile serve`), signs in with Chromium and
writes docs/screenshots/compare-verdict.png and regression-guard.png.
"""

import argparse
from pathlib import Path

from bench.quality import ADMIN_EMAIL, ADMIN_PASSWORD, fresh_install

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"


def report() -> tuple[int, int]:
    """Print the default run's guard numbers and the comparison's verdict; (run id, comparison id)."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.models import Adapter, Run
    from app.services.comparison_summary import summarise
    from app.services.comparisons import comparison_for_run, score_items

    with session_scope() as session:
        run = session.scalars(select(Run).order_by(Run.id)).first()
        metrics = session.scalar(select(Adapter.metrics).where(Adapter.run_id == run.id)) or {}
        guard = metrics.get("general_writing", {})
        print(
            f"{run.name}: {metrics.get('steps')} steps, train {metrics.get('train_seconds')} s, "
            f"guard {guard.get('seconds')} s; general loss {guard.get('base_loss')} → "
            f"{guard.get('adapted_loss')} ({100 * guard.get('change', 0):+.1f}%), warns: {guard.get('worse')}"
        )
        comparison = comparison_for_run(session, run.workspace_id, run.id)
        found = summarise(session, comparison, score_items(session, comparison.items)).verdict
        print(f"verdict: {found.kind}: {found.headline} (gain {found.gain})")
        return run.id, comparison.id


def shoot(data_dir: Path, run_id: int, comparison_id: int) -> None:
    """Serve the folder and take the two screenshots with Chromium."""
    from tests.browser import chromium_page
    from tests.live_server import lastmile_serve

    env = {"LASTMILE_DATA_DIR": str(data_dir), "LASTMILE_MODEL_CACHE_DIR": str(ROOT / "data" / "models")}
    SHOTS.mkdir(parents=True, exist_ok=True)
    with lastmile_serve(env, data_dir) as server, chromium_page(1280, 900) as browser:
        page = browser.page
        page.goto(f"{server.url}/login")
        page.fill("#login-email", ADMIN_EMAIL)
        page.fill("#login-password", ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.locator(".user-menu summary").wait_for()  # signed in: the account menu is there
        # The "training finished" notices are read once, as a user would: the screenshots show the pages.
        for button in page.get_by_role("button", name="Dismiss").all():
            button.click()
        page.goto(f"{server.url}/compare/{comparison_id}")
        page.locator(".verdict").wait_for()
        # The top of the page: the verdict with its evidence, the metrics, the first example.
        top = page.locator(".cmp-item").first.bounding_box()
        page.set_viewport_size({"width": 1280, "height": int((top["y"] if top else 900) + 420)})
        page.screenshot(path=str(SHOTS / "compare-verdict.png"), full_page=False)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{server.url}/runs/{run_id}")
        # The run page from its top (the training chart) down to the end of the guard's card.
        box = page.locator("#general-writing").bounding_box()
        page.set_viewport_size({"width": 1280, "height": int(box["y"] + box["height"] + 40) if box else 1400})
        page.screenshot(path=str(SHOTS / "regression-guard.png"), full_page=False)
        browser.assert_clean()
    print(f"wrote {SHOTS / 'compare-verdict.png'} and {SHOTS / 'regression-guard.png'}")


def main() -> None:
    """Report, then shoot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the sample data's folder kept by bench.quality --keep"
    )
    data_dir = parser.parse_args().data_dir.resolve()
    if not (data_dir / "lastmile.sqlite").is_file():
        parser.error(f"{data_dir} holds no Lastmile database: run bench.quality --keep first")
    with fresh_install(data_dir):
        run_id, comparison_id = report()
    shoot(data_dir, run_id, comparison_id)


if __name__ == "__main__":
    main()
