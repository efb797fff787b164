"""The data benchmarks still run end to end (a page that starts needing a sign-in, say, must not break
`make bench` unnoticed): each at a tiny size, in its own process, ending with its JSON line. Timings are
never asserted here."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _last_json(module: str, *args: str) -> dict:
    """Run `python -m module args` and return its last output line as JSON."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_examples_benchmark_runs_signed_in_on_sqlite():
    summary = _last_json(
        "bench.examples_10k", "--examples", "60", "--baseline", "30", "--repeat", "1", "--no-pg"
    )
    timed = summary["sqlite"]["full"]
    assert {"page", "partial", "search", "health_panel", "api_list", "inline_save_with_refresh"} <= set(timed)
    assert set(summary["sqlite"]["ratio"]) == set(timed)
