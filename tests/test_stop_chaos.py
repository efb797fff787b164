"""Stopping is as reliable as running: `lastmile run`, and a worker on its own, stopped at random moments by
SIGTERM or SIGINT to the whole process group (or SIGKILL to `lastmile run` itself) leave no process, no lock
and no unfinished work behind. Real processes on SQLite and the embedded broker; bench/stop_chaos.py runs the
same for hundreds of stops (bench/RESULTS.md, "Stop chaos")."""

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos_helpers import record
from tests.conftest import clear_caches
from tests.stop_chaos import TARGETS as RUN_TARGETS
from tests.stop_chaos import Tally, chaos
from tests.stop_chaos_instance import Instance
from tests.stop_chaos_workers import worker_chaos

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.chaos, pytest.mark.timeout(900)]
STOP_SECONDS = 30.0


@pytest.fixture
def chaos_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder for the chaos' data folders; this process's settings point at them meanwhile, then back."""
    saved = dict(os.environ)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)
    clear_caches()


def _check(tally: Tally, problems: list[str]) -> dict:
    """Nothing left after any stop (polled until the bound), no lock held, nothing killed (no pool process by
    a stray SIGTERM either), and the work finished."""
    summary = tally.summary()
    assert not problems, problems
    bad = [s for s in tally.stops if s.orphans or s.locks or s.killed_after_limit or s.pool_killed]
    assert not bad, bad
    return summary


def test_lastmile_run_stopped_at_random_moments_leaves_nothing_and_the_next_start_finishes(chaos_dir):
    tally, problems = chaos(chaos_dir, stops=20, seed=20, stop_seconds=STOP_SECONDS, per_folder=20)
    summary = _check(tally, problems)
    record("stop_chaos[lastmile run]", summary)
    states = {stop.state for stop in tally.stops}
    assert {"starting", "idle", "importing", "training"} <= states, states
    assert {stop.how for stop in tally.stops} == {"SIGTERM", "SIGINT", "SIGKILL"}
    assert len(tally.stops) >= 20 and set(RUN_TARGETS) >= states - {"finished"}


@pytest.mark.parametrize(("queues", "stops"), [("ingest", 4), ("gpu", 3)])
def test_a_worker_on_its_own_stopped_by_its_group_leaves_nothing_and_the_next_start_finishes(
    chaos_dir, queues, stops
):
    tally = Tally()
    instance = Instance(chaos_dir / queues / "data", random.Random(stops), STOP_SECONDS)
    summary = _check(tally, worker_chaos(instance, queues, stops, tally))
    record(f"stop_chaos[{queues} worker]", summary)
    assert len(tally.stops) == stops + 1
