"""`lastmile run` (what `make run` starts): web and worker together, embedded broker, Ctrl-C stops both."""

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.live_server import lastmile_run, stop


def _worker_pids(data_dir: Path) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-f", "celery -A worker.celery_app"], capture_output=True, text=True
    ).stdout
    pids = []
    for pid in out.split():
        env = Path(f"/proc/{pid}/environ")
        if env.exists() and str(data_dir).encode() in env.read_bytes():
            pids.append(int(pid))
    return pids


@pytest.mark.worker
def test_run_serves_on_sqlite_with_the_embedded_broker_and_ctrl_c_stops_both(tmp_path: Path):
    data = tmp_path / "data"
    with lastmile_run(data) as server:
        with urllib.request.urlopen(f"{server.url}/healthz") as response:
            assert json.load(response)["checks"] == {"database": "ok", "broker": "ok"}
        assert (data / "lastmile.sqlite").exists() and (data / "broker.sqlite").exists()
        assert _worker_pids(data), "the worker process did not start"
        assert stop(server) is not None
    assert not _worker_pids(data), "the worker outlived Ctrl-C"
