"""Issue 14's screenshots, made through the product: the comparison page on the sample data after a default
run, and the regression guard's warning on the page of a run trained too hard on a narrow set.

    .venv/bin/python -m bench.quality --datasets sample --keep /tmp/qk
    .venv/bin/python -m bench.guard_screenshots --data-dir /tmp/qk/sample

It builds on the folder `bench.quality --keep` left for the sample data (the default run and its comparison,
made by the services the buttons call), so the default preset is not trained twice. There it adds a dataset
of 12 client replies (+ 4 held out), trains it with 15 passes at 2e-3 (the overtrained arm of
bench/regression_guard.py) through the Train button's service and the training task's body (the guard runs
in it), prints both adapters' guard numbers and the comparison's verdict, then serves the folder (`lastmile
serve`), signs in with Chromium and writes docs/screenshots/compare-verdict.png and regression-guard.png.
Run again, it reuses the overtrained run it saved in the folder and only shoots.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.quality import ADMIN_EMAIL, ADMIN_PASSWORD, admin_actor, fresh_install

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"
OVERTRAINED = {"learning_rate": 2e-3, "epochs": 15, "batch_size": 4, "grad_accum": 1, "max_length": 1024}
STATE = "guard-screenshots.json"


def _train(dataset_id: int, **launch: Any) -> int:
    """Create a run on the dataset (the Train button's service) and run the training task's body."""
    from app.db import session_scope
    from app.services import runs
    from worker.run_task import execute

    with session_scope() as session:
        run_id = runs.create_run(session, admin_actor(session), dataset_id, **launch).id
    started = time.monotonic()
    outcome = execute(run_id)
    print(f"run {run_id}: {outcome} in {time.monotonic() - started:.0f} s", flush=True)
    return run_id


def _narrow_dataset() -> int:
    """A dataset of 12 client replies for training and 4 held out, from the sample data in the folder."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.models import Document, Example
    from app.services.datasets import create_dataset

    with session_scope() as session:
        actor = admin_actor(session)
        replies = session.scalars(
            select(Example)
            .join(Document, Document.id == Example.document_id)
            .where(Document.filename.like("%client-replies%"), Example.included.is_(True))
            .order_by(Example.id)
        ).all()
        ids = [e.id for e in replies if e.split == "train"][:12]
        ids += [e.id for e in replies if e.split == "heldout"][:4]
        ws = actor.workspace.id
        return create_dataset(session, ws, "12 client replies", example_ids=ids, actor=actor).id


def prepare_runs(state: Path) -> dict[str, int]:
    """The default run and its comparison (bench.quality's) and the overtrained run, trained once and saved
    in `state`."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.models import Run
    from app.services.comparisons import comparison_for_run

    ids: dict[str, int] = json.loads(state.read_text()) if state.is_file() else {}
    with session_scope() as session:
        default_run = session.scalars(select(Run).order_by(Run.id)).first()
        comparison = comparison_for_run(session, default_run.workspace_id, default_run.id)
        ids.update(default_run=default_run.id, comparison=comparison.id)
    if "overtrained_run" not in ids:
        name = "12 client replies, 15 passes at 2e-3"
        ids["overtrained_run"] = _train(_narrow_dataset(), hp=OVERTRAINED, name=name)
        state.write_text(json.dumps(ids))
    return ids


def report(ids: dict[str, int]) -> None:
    """Print each run's guard numbers and training time, and the comparison's verdict."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.models import Adapter, Run
    from app.review_models import Comparison
    from app.services.comparison_summary import summarise
    from app.services.comparisons import score_items

    with session_scope() as session:
        for key in [k for k in ("default_run", "overtrained_run") if k in ids]:
            run = session.get(Run, ids[key])
            metrics = session.scalar(select(Adapter.metrics).where(Adapter.run_id == run.id)) or {}
            guard = metrics.get("general_writing", {})
            print(
                f"{key}: {run.name}: {metrics.get('steps')} steps, train {metrics.get('train_seconds')} s, "
                f"guard {guard.get('seconds')} s; general loss {guard.get('base_loss')} → "
                f"{guard.get('adapted_loss')} ({100 * guard.get('change', 0):+.1f}%), "
                f"warns: {guard.get('worse')}"
            )
        if "comparison" in ids:
            comparison = session.get(Comparison, ids["comparison"])
            found = summarise(session, comparison, score_items(session, comparison.items)).verdict
            print(f"verdict: {found.kind}: {found.headline} (gain {found.gain})")


def shoot(data_dir: Path, ids: dict[str, int]) -> None:
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
        if "comparison" in ids:
            page.goto(f"{server.url}/compare/{ids['comparison']}")
            page.locator(".verdict").wait_for()
            # The top of the page: the verdict with its evidence, the metrics, the first example.
            top = page.locator(".cmp-item").first.bounding_box()
            height = int((top["y"] if top else 900) + 420)
            page.set_viewport_size({"width": 1280, "height": height})
            page.screenshot(path=str(SHOTS / "compare-verdict.png"), full_page=False)
            page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{server.url}/runs/{ids['overtrained_run']}")  # the first run trained
        page.locator("#general-writing").wait_for()
        box = page.locator("#general-writing").bounding_box()
        page.set_viewport_size({"width": 1280, "height": int(box["y"] + box["height"] + 40) if box else 1400})
        page.screenshot(path=str(SHOTS / "regression-guard.png"), full_page=False)
        browser.assert_clean()
    print(f"wrote {SHOTS / 'compare-verdict.png'} and {SHOTS / 'regression-guard.png'}")


def main() -> None:
    """Train the overtrained run (once), report, shoot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the sample data's folder kept by bench.quality --keep"
    )
    data_dir = parser.parse_args().data_dir.resolve()
    if not (data_dir / "lastmile.sqlite").is_file():
        parser.error(f"{data_dir} holds no Lastmile database: run bench.quality --keep first")
    with fresh_install(data_dir):
        ids = prepare_runs(data_dir / STATE)
        report(ids)
    shoot(data_dir, ids)


if __name__ == "__main__":
    main()
