"""Benchmark: does the default preset's adapter write visibly better than the base model? (issue 14)

    .venv/bin/python -m bench.quality [--datasets sample,aeslc,airline] [--preset balanced] [--json PATH]
        [--keep DIR | --again DIR]

Per dataset, in a fresh data folder and SQLite database, through the product's own services (the functions
the buttons call): the upload (the "Try with sample data" button, or the dataset's file) → the ingest task's
function → the health refresh that splits a fresh import (~10 % held out) → a dataset of every included
example → a run with the preset's settings as the launch check chose them (the Train button's service) →
the training task's body and then the comparison task's body, in this process, as a worker runs them.

Printed per dataset, base vs adapted: held-out loss; the main metric, chrF (the similarity the comparison
page shows; see below), its mean with the 95 % paired-bootstrap interval of the difference; the share of
held-out examples where the adapted draft is closer to the reference (by more than the page's 2-point
margin: what the page counts as "adapted closer"); looping drafts (read from the final text, see
bench/quality_metrics.py) and how many the generator's guard stopped; training, evaluation and comparison
time; and the machine's load. The last line is one JSON object with every number.

`--keep DIR` keeps each dataset's folder (database, adapter, drafts); `--again DIR` takes such folders, writes
each comparison's drafts again with this tree's decoding (its run and adapter unchanged: no training) and
measures again, so a change to decoding or metrics is scored on the same adapters.

Why chrF and not ROUGE-L: chrF (character 6-grams, precision and recall weighted alike, β = 1) is what the
comparison page already shows, so the benchmark measures what the user sees; it is stable on one-line answers
(a subject line of four words, a class label), where word-level ROUGE-L jumps in steps of 25 %; and it
rewards the right words in another inflection or order, which ROUGE-L's longest common word subsequence does
not. β = 1 and not sacrebleu's default 2: recall weighted twice rewarded base drafts that paste the whole
email over right subject lines (app/evaluation/similarity.py).

Datasets: `sample` (Brightwater Logistics, app/sample_data), `aeslc` (Enron emails → subject lines) and
`airline` (customer tweets → Delta's replies); sources and licences in shared/quality/SOURCES.md.
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.quality_metrics import PairedMeans, has_loop, paired_bootstrap

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "shared" / "quality"
MODELS_DIR = Path(os.environ.get("LASTMILE_BENCH_MODELS", ROOT / "data" / "models"))
DATASETS = {
    "sample": ("Brightwater sample data", None),
    "aeslc": ("AESLC: Enron email → subject line", DATA / "aeslc.jsonl"),
    "airline": ("Delta's replies to customer tweets", DATA / "airline-support.jsonl"),
}
SETTINGS_KEYS = (
    "LASTMILE_DATA_DIR",
    "LASTMILE_DATABASE_URL",
    "LASTMILE_BROKER_URL",
    "LASTMILE_MODEL_CACHE_DIR",
)


def require_dataset(key: str, needs_file: bool = True) -> None:
    """Stop with what to do when a dataset is unknown or its file was not prepared on this machine."""
    if key not in DATASETS:
        raise SystemExit(f"Unknown dataset {key!r}: choose from {', '.join(DATASETS)}.")
    path = DATASETS[key][1]
    if needs_file and path is not None and not path.is_file():
        # Fetched data is never committed: each machine prepares the public subsets once.
        raise SystemExit(f"{path} is missing: prepare it with `python -m bench.quality_data` (see its help).")


@contextmanager
def fresh_install(data_dir: Path) -> Iterator[None]:
    """Point Lastmile at a new data folder (SQLite, embedded broker, the bundled model) and migrate it."""
    from app.cli import migrate
    from app.db import get_engine, get_sessionmaker
    from app.settings import get_settings

    saved = {key: os.environ.get(key) for key in SETTINGS_KEYS}
    os.environ.update(LASTMILE_DATA_DIR=str(data_dir), LASTMILE_MODEL_CACHE_DIR=str(MODELS_DIR))
    os.environ.pop("LASTMILE_DATABASE_URL", None)
    os.environ.pop("LASTMILE_BROKER_URL", None)
    caches = (get_settings, get_engine, get_sessionmaker)
    for cached in caches:
        cached.cache_clear()
    try:
        migrate()
        yield
    finally:
        if get_engine.cache_info().currsize:
            get_engine().dispose()
        for cached in caches:
            cached.cache_clear()
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@contextmanager
def data_folder(key: str, keep: Path | None) -> Iterator[Path]:
    """A new, empty data folder for one dataset: under `keep` (kept), else a temporary one."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix=f"quality-{key}-") as folder:
            yield Path(folder)
        return
    folder = keep / key
    if folder.exists():
        raise SystemExit(f"{folder} exists already: choose another --keep folder, or remove it.")
    folder.mkdir(parents=True)
    yield folder


ADMIN_EMAIL, ADMIN_PASSWORD = "bench@example.com", "bench-password-1234"  # sign in to a --keep folder


def admin_actor(session: Any) -> Any:
    """The bench admin's actor in the first workspace; the admin is created first, as the setup page does."""
    from sqlalchemy import select

    from app.auth.deps import Actor
    from app.auth.first_run import create_first_admin, has_users
    from app.models import User, Workspace

    if not has_users(session):
        create_first_admin(session, ADMIN_EMAIL, "Bench", ADMIN_PASSWORD)
        session.commit()
    user = session.scalars(select(User).where(User.email == ADMIN_EMAIL)).one()
    workspace = session.scalars(select(Workspace).order_by(Workspace.id)).first()
    return Actor(user=user, workspace=workspace, role="admin", via_token=False)


def upload_and_train(key: str, preset: str) -> dict[str, Any]:
    """Upload → examples → split → dataset → run (training) → comparison, through the product's services."""
    from app.db import session_scope
    from app.ingest.pipeline import run_batch
    from app.services import comparisons, runs, uploads
    from app.services.datasets import create_dataset
    from app.services.example_query import ExampleFilter, matching_ids
    from app.services.health import refresh_health
    from app.settings import get_settings
    from worker.run_task import execute

    label, path = DATASETS[key]
    with session_scope() as session:
        actor = admin_actor(session)
        ws = actor.workspace.id
        if path is None:
            batch = uploads.create_sample_batch(session, ws, get_settings(), actor=actor)
        else:
            files = [uploads.IncomingFile(path.name, io.BytesIO(path.read_bytes()))]
            batch = uploads.create_batch(session, ws, files, get_settings(), source="upload", actor=actor)
        batch_id = batch.id
    run_batch(batch_id)
    with session_scope() as session:
        actor = admin_actor(session)
        refresh_health(session, actor.workspace.id)  # a fresh import gets its first train / held-out split
        session.commit()
        ids = matching_ids(actor.workspace.id, ExampleFilter())
        dataset = create_dataset(session, actor.workspace.id, label, example_ids=ids, actor=actor)
        run = runs.create_run(session, actor, dataset.id, preset=preset)
        run_id = run.id
    started = time.monotonic()
    outcome = execute(run_id)
    train_wall = time.monotonic() - started
    with session_scope() as session:
        run = runs.get_run(session, actor.workspace.id, run_id)
        if outcome != "succeeded" or run.state != "succeeded":
            raise SystemExit(f"{key}: the run ended {run.state}: {run.error}")
        comparison_id = comparisons.comparison_for_run(session, run.workspace_id, run_id).id
    comparison_id, compare_wall = write_drafts(key, comparison_id)
    return measure(key, run_id, comparison_id, train_wall, compare_wall)


def write_drafts(key: str, comparison_id: int) -> tuple[int, float]:
    """Run the comparison task's body on a queued comparison; (its id, seconds)."""
    from app.db import session_scope
    from app.review_models import Comparison
    from worker.generation_task import execute_comparison

    started = time.monotonic()
    execute_comparison(comparison_id)
    seconds = time.monotonic() - started
    with session_scope() as session:
        comparison = session.get(Comparison, comparison_id)
        if comparison.state != "succeeded":
            raise SystemExit(f"{key}: the comparison ended {comparison.state}: {comparison.error}")
    return comparison_id, seconds


def draft_again(key: str) -> dict[str, Any]:
    """In a kept folder: the first run's comparison replaced by a new one, written by this tree; measured."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.models import Adapter, Run
    from app.services.comparisons import comparison_for_run, create_comparison

    with session_scope() as session:
        run = session.scalars(select(Run).order_by(Run.id)).first()
        if run is None or run.state != "succeeded":
            raise SystemExit(f"{key}: the kept folder holds no finished run")
        run_id, run_wall = run.id, (run.finished_at - run.started_at).total_seconds()
        session.delete(comparison_for_run(session, run.workspace_id, run_id))
        session.flush()
        adapter = session.scalars(select(Adapter).where(Adapter.run_id == run_id)).one()
        comparison_id = create_comparison(session, adapter).id
    comparison_id, compare_wall = write_drafts(key, comparison_id)
    return measure(key, run_id, comparison_id, run_wall, compare_wall)


@dataclass(frozen=True)
class Loops:
    """Looping drafts (read from the text) and drafts the guard stopped, per model; loops in references."""

    base: int
    adapted: int
    references: int
    base_guard: int
    adapted_guard: int


def measure(
    key: str, run_id: int, comparison_id: int, train_wall: float, compare_wall: float
) -> dict[str, Any]:
    """Every number of one dataset, from its run, adapter and comparison as the database holds them."""
    from app.db import session_scope
    from app.models import Adapter, Run
    from app.services.comparisons import get_comparison, score_items

    with session_scope() as session:
        run = session.get(Run, run_id)
        adapter = session.query(Adapter).filter(Adapter.run_id == run_id).one()
        comparison = get_comparison(session, run.workspace_id, comparison_id)
        items = list(comparison.items)
        scores = score_items(session, items)
        metrics, hp = dict(adapter.metrics or {}), dict(run.hyperparameters or {})
        fair = [item for item in items if item.id in scores]
        chrf = paired_bootstrap(
            [scores[i.id].base_chrf for i in fair], [scores[i.id].adapted_chrf for i in fair]
        )
        closer = sum(scores[i.id].verdict == "better" for i in fair)
        worse = sum(scores[i.id].verdict == "worse" for i in fair)
        loops = Loops(
            sum(has_loop(i.base_output or "") for i in fair),
            sum(has_loop(i.adapted_output or "") for i in fair),
            sum(has_loop(i.reference) for i in fair),
            sum(i.base_stop == "repetition" for i in fair),
            sum(i.adapted_stop == "repetition" for i in fair),
        )
        kinds = sorted({i.kind for i in fair})
        result = {
            "dataset": key,
            "train_examples": run.train_count,
            "heldout_examples": len(fair),
            "kinds": kinds,
            "hyperparameters": hp,
            "heldout_loss_before": metrics.get("heldout_loss_before"),
            "heldout_loss_after": metrics.get("heldout_loss_after"),
            "chrf": _means(chrf),
            "adapted_closer": closer,
            "base_closer": worse,
            "loops": loops.__dict__,
            "steps": metrics.get("steps"),
            "tokens_seen": metrics.get("tokens_seen"),
            "train_seconds": metrics.get("train_seconds"),
            "run_wall_seconds": round(train_wall, 1),
            # Held-out loss checks (base and during training), as the worker measured them when it reports it.
            "eval_seconds": metrics.get("eval_seconds"),
            "eval_share": metrics.get("eval_share"),
            "compare_seconds": round(compare_wall, 1),
            # The regression guard's reading of this normal adapter: loss change on everyday instructions.
            "general_change": metrics.get("general_writing", {}).get("change"),
            "general_warns": metrics.get("general_writing", {}).get("worse"),
            "tokens_per_second": metrics.get("tokens_per_second"),
        }
    return result


def _means(chrf: PairedMeans) -> dict[str, Any]:
    """The main metric's numbers as a JSON-ready dict."""
    return {
        "base": round(chrf.base, 1), "adapted": round(chrf.adapted, 1),
        "ratio": round(chrf.ratio, 2) if chrf.ratio is not None else None,
        "diff_95": [round(chrf.diff_low, 1), round(chrf.diff_high, 1)], "clear_win": chrf.clear_win,
    }  # fmt: skip


def _loadavg() -> str:
    """The 1- and 5-minute load averages (how busy the 2-core machine was)."""
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def _guard(result: dict[str, Any]) -> str:
    """The guard's loss change on everyday instructions, and whether it warned."""
    if result.get("general_change") is None:
        return "—"
    return f"{result['general_change']:+.1%}" + (" (warns)" if result["general_warns"] else "")


def table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, one row per dataset."""
    head = (
        "| dataset | train / held-out | held-out loss base → adapted | chrF base → adapted (×, 95 % CI of Δ) "
        "| adapted closer | loops base / adapted (guard stops) | steps | train s | eval s (share) "
        "| compare s | everyday writing (guard) | load |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for r in results:
        c, lp = r["chrf"], r["loops"]
        loss = f"{r['heldout_loss_before']:.3f} → {r['heldout_loss_after']:.3f}"
        share = r["adapted_closer"] / r["heldout_examples"] if r["heldout_examples"] else 0
        ratio = f"{c['ratio']:.2f}×" if c["ratio"] is not None else "—"
        evals = f"{r['eval_seconds']:.0f}" if r.get("eval_seconds") is not None else "—"
        if r.get("eval_share") is not None:
            evals += f" ({r['eval_share']:.0%})"
        rows.append(
            f"| {r['dataset']} | {r['train_examples']} / {r['heldout_examples']} | {loss} | "
            f"{c['base']} → **{c['adapted']}** ({ratio}, Δ {c['diff_95'][0]:+.1f}…{c['diff_95'][1]:+.1f}) | "
            f"{r['adapted_closer']}/{r['heldout_examples']} ({share:.0%}) | "
            f"{lp['base']} / {lp['adapted']} ({lp['base_guard']} / {lp['adapted_guard']}) | {r['steps']} | "
            f"{r['train_seconds']:.0f} | {evals} | {r['compare_seconds']:.0f} | {_guard(r)} | {r['load']} |"
        )
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> None:
    """Run the chosen datasets one after another and print the table and the JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets", default=",".join(DATASETS), help="comma-separated: " + ", ".join(DATASETS)
    )
    parser.add_argument(
        "--preset", default="balanced", help="the preset to train with (default: the default)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument(
        "--keep", type=Path, help="keep each data folder (database, adapter, drafts) under this folder"
    )
    reuse.add_argument(
        "--again", type=Path, help="a --keep folder: write the drafts again and measure, without training"
    )
    args = parser.parse_args(argv)
    keys = args.datasets.split(",")
    for key in keys:
        require_dataset(key, needs_file=not args.again)  # drafting again reads the kept folders only
    results = []
    began = time.monotonic()
    for key in keys:
        load_before = _loadavg()
        if args.again:
            with fresh_install(args.again / key):
                result = draft_again(key)
        else:
            with data_folder(key, args.keep) as folder, fresh_install(folder):
                result = upload_and_train(key, args.preset)
        result["load"] = f"{load_before} → {_loadavg()}"
        results.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    print(table(results))
    print(f"\nWhole run: {(time.monotonic() - began) / 60:.1f} minutes; preset {args.preset}.")
    summary = {
        "preset": args.preset,
        "minutes": round((time.monotonic() - began) / 60, 1),
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
