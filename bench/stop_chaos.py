"""Benchmark: stop chaos. Start `lastmile run` over and over and stop it at random moments (migrating,
starting, idle, mid-upload, importing, training, comparing) with SIGTERM or SIGINT to its process group, or
SIGKILL to `lastmile run` itself; then a worker on its own (ingest, training) stopped by a group signal,
with its fork server alive, dead or hung. After each stop: how long until none of its processes was left,
what was still there at the bound (orphans, then killed), SQLite locks left held, and whether anything had
to be killed at the time limit; each data folder ends with a start that must finish the interrupted work.

Run with `.venv/bin/python -m bench.stop_chaos --stops 200` (about 13 s a stop on 2 cores). The table per
state comes first; the last line is one JSON object with the totals.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tests.stop_chaos import Stop, Tally, chaos
from tests.stop_chaos_instance import Instance
from tests.stop_chaos_workers import worker_chaos


def table(tally: Tally) -> str:
    """Stops, median and slowest seconds, orphans and locks per (target, state)."""
    rows: dict[str, list[Stop]] = {}
    for stop in tally.stops:
        rows.setdefault(f"{stop.target}: {stop.state}", []).append(stop)
    lines = ["| what was stopped | stops | median s | slowest s | orphans | locks left | killed at limit |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, stops in sorted(rows.items()):
        seconds = [stop.seconds for stop in stops]
        lines.append(
            f"| {name} | {len(stops)} | {statistics.median(seconds):.1f} | {max(seconds):.1f} | "
            f"{sum(s.orphans for s in stops)} | {sum(len(s.locks) for s in stops)} | "
            f"{sum(s.killed_after_limit for s in stops)} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, run the chaos, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=200, help="stops of lastmile run")
    parser.add_argument("--worker-stops", type=int, default=8, help="stops of each worker on its own")
    parser.add_argument("--per-folder", type=int, default=25, help="stops before a fresh data folder")
    parser.add_argument("--stop-seconds", type=float, default=30.0, help="LASTMILE_STOP_SECONDS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    base = Path(tempfile.mkdtemp(prefix="lastmile-stop-chaos-"))
    began = time.monotonic()

    def show(stop: Stop) -> None:
        print(f"  {stop.target}: {stop.state} by {stop.how}: {stop.seconds:.1f} s, orphans {stop.orphans}, "
              f"locks {stop.locks}, killed at limit {stop.killed_after_limit}", flush=True)  # fmt: skip

    try:
        tally, problems = chaos(base, args.stops, args.seed, args.stop_seconds, args.per_folder, on_stop=show)
        for queues in ("ingest", "gpu"):
            before = len(tally.stops)
            instance = Instance(base / queues / "data", random.Random(args.seed), args.stop_seconds)
            problems += worker_chaos(instance, queues, args.worker_stops, tally)
            for stop in tally.stops[before:]:
                show(stop)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(table(tally))
    minutes = round((time.monotonic() - began) / 60, 1)
    print(json.dumps(tally.summary() | {"problems": problems, "wall_minutes": minutes}))


if __name__ == "__main__":
    main()
