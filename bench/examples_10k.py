"""Benchmark: the examples page, its partials and refresh_health at 10,000 examples, against 1,000.

Run with `.venv/bin/python -m bench.examples_10k [--examples N] [--baseline B] [--repeat R] [--no-pg]`.
For each database (a temp SQLite file, and PostgreSQL when LASTMILE_BENCH_PG's server is reachable)
it inserts N examples (and, separately, B examples as the baseline measured in the same run) through
the real migrations, then times the requests a user makes through the real application: the page,
a search, a flag filter, a sort, page 100, the health panel, an inline save, and refresh_health.
It prints a table and, as its last line, one JSON object with the times and the N / B ratios.
An inline save answers after flagging the edited example ("inline_save_response"); the workspace-wide
refresh runs after the response is sent, which the test client waits for ("inline_save_with_refresh").
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text, update

from app.curation.normalise import content_hash
from app.curation.records import ExampleRecord
from app.models import Document, Example, ExampleTag, Workspace

PG_ADMIN_URL = os.environ.get("LASTMILE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TAGS = ["finance", "support", "board", "legal", "hr", "sales"]
PAGE_SIZE = 50


def synthetic_records(count: int, seed: int) -> list[ExampleRecord]:
    """Realistic business examples with planted duplicates, PII, empty and long outputs."""
    try:
        # The health benchmark's generator plants known problems; reuse it so both measure the same data.
        from bench.health_10k import generate

        return generate(count, seed)[0]
    except ImportError:  # pragma: no cover - only when that benchmark is absent
        rng = random.Random(seed)
        words = ["report", "client", "budget", "revenue", "quarter", "meeting", "invoice", "contract", "plan"]
        return [
            ExampleRecord(
                i, "draft", "Write the update", "", " ".join(rng.choices(words, k=120)), True, "train", 5, 150
            )
            for i in range(1, count + 1)
        ]


@contextmanager
def environment(url: str, data_dir: Path) -> Iterator[None]:
    """Point Lastmile's settings at `url` and `data_dir` for the duration, with fresh caches."""
    from app.db import get_engine, get_sessionmaker
    from app.settings import get_settings

    saved = {k: os.environ.get(k) for k in ("LASTMILE_DATABASE_URL", "LASTMILE_DATA_DIR")}
    os.environ["LASTMILE_DATABASE_URL"] = url
    os.environ["LASTMILE_DATA_DIR"] = str(data_dir)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    try:
        yield
    finally:
        if get_engine.cache_info().currsize:
            get_engine().dispose()
        for cached in (get_settings, get_engine, get_sessionmaker):
            cached.cache_clear()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def populate(count: int, seed: int) -> int:
    """Insert `count` examples (with documents and tags); returns the workspace id."""
    from app.db import get_sessionmaker

    records = synthetic_records(count, seed)
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with get_sessionmaker()() as session:
        workspace_id = session.scalars(select(Workspace.id).order_by(Workspace.id)).first()
        documents = []
        for i in range(max(1, count // 50)):
            doc = Document(
                workspace_id=workspace_id, sha256=f"{i:064x}", filename=f"client-report-{i}.docx",
                size_bytes=1000, format="docx", status="parsed",
            )  # fmt: skip
            session.add(doc)
            documents.append(doc)
        session.flush()
        rows = [
            {
                "workspace_id": workspace_id,
                "document_id": documents[i % len(documents)].id,
                "kind": r.kind,
                "instruction": r.instruction,
                "input": r.input,
                "output": r.output,
                "included": True,
                "split": "train",
                "split_locked": False,
                "content_hash": content_hash(r.instruction, r.input, r.output),
                "prompt_tokens": r.prompt_tokens,
                "output_tokens": r.output_tokens,
                "created_at": start + timedelta(seconds=i),
                "updated_at": start + timedelta(seconds=i),
            }
            for i, r in enumerate(records)
        ]
        for chunk in range(0, len(rows), 2000):
            session.execute(insert(Example), rows[chunk : chunk + 2000])
        ids = list(session.scalars(select(Example.id).where(Example.workspace_id == workspace_id)))
        tags = [{"example_id": i, "tag": tag} for i in ids for tag in rng.sample(TAGS, rng.randint(0, 2))]
        for chunk in range(0, len(tags), 5000):
            session.execute(insert(ExampleTag), tags[chunk : chunk + 5000])
        session.commit()
    return workspace_id


def touch(session: Any, example_id: int) -> None:
    """Mark one example as edited, so the next health check cannot reuse its cached report."""
    session.execute(update(Example).where(Example.id == example_id).values(updated_at=datetime.now(UTC)))
    session.commit()


def quick_save(session: Any, workspace_id: int, example_id: int) -> None:
    """What an inline save does before its response is sent: edit, recount, commit, flag the example."""
    from app.services import examples, health

    example = examples.get_example(session, workspace_id, example_id)
    output = f"A fresh answer written at {time.perf_counter()} " * 10
    changes = examples.ExampleChanges(instruction=example.instruction, output=output, split=None)
    examples.update_example(example, changes, examples.token_counter())
    session.commit()
    health.refresh_example_flags(session, workspace_id, example_id)


def median_time(function: Callable[[], Any], repeat: int) -> float:
    """Median wall time of `repeat` runs, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(count: int, seed: int, repeat: int) -> dict[str, float]:
    """Times (ms) of each user-facing operation against the configured database holding `count` examples."""
    from fastapi.testclient import TestClient

    from app.cli import migrate
    from app.db import get_sessionmaker
    from app.main import create_app
    from app.services import health
    from tests.auth_helpers import sign_in

    migrate()
    workspace_id = populate(count, seed)
    results: dict[str, float] = {}
    with get_sessionmaker()() as session:
        start = time.perf_counter()
        health.refresh_health(session, workspace_id)  # first refresh: analyse, flags, automatic split
        results["refresh_health_first"] = (time.perf_counter() - start) * 1000
        example_id = session.scalars(select(Example.id).order_by(Example.id.desc()).limit(1)).one()

        def touch_and_refresh() -> None:
            # An edit first, so each run does the real work instead of reusing the cached report.
            touch(session, example_id)
            health.refresh_health(session, workspace_id)

        results["refresh_health"] = median_time(touch_and_refresh, repeat)
        results["inline_save_response"] = median_time(
            lambda: quick_save(session, workspace_id, example_id), repeat
        )
    htmx = {"HX-Request": "true", "HX-Target": "examples-results"}
    last_page = -(-count // PAGE_SIZE)
    requests: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
        "page": ("/examples", {}, {}),
        "partial": ("/examples", {}, htmx),
        "search": ("/examples", {"q": "steering group"}, htmx),
        "filter_flag": ("/examples", {"flag": "duplicate"}, htmx),
        "filter_tag_kind": ("/examples", {"tag": "finance", "kind": "draft"}, htmx),
        "sort_longest": ("/examples", {"sort": "longest"}, htmx),
        "sort_flagged": ("/examples", {"sort": "flagged"}, htmx),
        "page_100": ("/examples", {"page": min(100, last_page)}, htmx),
        "health_panel": ("/examples/health", {}, {}),
        "api_list": ("/api/examples", {"q": "invoice", "page": 2}, {}),
    }
    with TestClient(create_app()) as client:
        # Every page needs a signed-in member: an admin of the benchmark's workspace, as the tests sign in.
        sign_in(client, "admin", workspace_id)
        for name, (url, params, headers) in requests.items():
            response = client.get(url, params=params, headers=headers)
            assert response.status_code == 200, (name, response.status_code, response.text[:300])
            results[name] = median_time(
                lambda u=url, p=params, h=headers: client.get(u, params=p, headers=h), repeat
            )
        # An uncached health panel: any edit changes the fingerprint.
        with get_sessionmaker()() as session:

            def touch_and_panel() -> None:
                touch(session, example_id)
                client.get("/examples/health")

            results["health_panel_uncached"] = median_time(touch_and_panel, repeat)
        form = {
            "instruction": "Write the update",
            "input": "",
            "output": "A fresh answer " * 20,
            "kind": "draft",
        }
        data = {**form, "tags": "", "split": "auto"}
        response = client.post(f"/examples/{example_id}", data=data)
        assert response.status_code == 200, ("inline_save", response.status_code, response.text[:300])
        # The test client also runs the background workspace refresh before returning.
        results["inline_save_with_refresh"] = median_time(
            lambda: client.post(f"/examples/{example_id}", data=data), repeat
        )
    return results


def pg_reachable() -> bool:
    """Whether the PostgreSQL server for the benchmark answers."""
    try:
        engine = create_engine(
            PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"lastmile_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from app.db import get_engine

        if get_engine.cache_info().currsize:
            get_engine().dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(backend: str, count: int, baseline: int, seed: int, repeat: int) -> dict[str, Any]:
    """Measure `count` and `baseline` examples on one backend, each in its own fresh database."""
    out: dict[str, Any] = {}
    for label, size in (("full", count), ("baseline", baseline)):
        with tempfile.TemporaryDirectory(prefix="lastmile-bench-") as tmp:
            if backend == "sqlite":
                with environment(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", Path(tmp)):
                    out[label] = measure(size, seed, repeat)
            else:
                with pg_database() as url, environment(url, Path(tmp)):
                    out[label] = measure(size, seed, repeat)
    out["ratio"] = {k: round(out["full"][k] / max(out["baseline"][k], 0.01), 2) for k in out["full"]}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, and print the JSON summary as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL even when it is reachable")
    args = parser.parse_args(argv)
    backends = ["sqlite"] + ([] if args.no_pg or not pg_reachable() else ["postgresql"])
    summary: dict[str, Any] = {"examples": args.examples, "baseline": args.baseline, "repeat": args.repeat}
    for backend in backends:
        summary[backend] = run_backend(backend, args.examples, args.baseline, args.seed, args.repeat)
    print(f"{'backend':<11} {'operation':<22} {args.examples:>8,} ms {args.baseline:>8,} ms {'ratio':>7}")
    for backend in backends:
        result = summary[backend]
        for name, value in result["full"].items():
            base = result["baseline"][name]
            print(f"{backend:<11} {name:<22} {value:>11.1f} {base:>11.1f} {result['ratio'][name]:>7.2f}")
    print(json.dumps(summary, sort_keys=True))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
