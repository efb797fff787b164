"""SQLite is a file on one machine: a worker that may run on another one refuses to start, and says why."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import Settings, broker_is_local
from tests.conftest import REDIS_URL, ROOT

POSTGRES = "postgresql+psycopg://lastmile@db.example.com/lastmile"
# TEST-NET-1: an address that is never this machine (and never answers).
REMOTE_REDIS = "redis://192.0.2.1:6379/0"


@pytest.mark.parametrize(
    ("broker", "local"),
    [
        ("", True),  # the embedded SQLite broker
        ("redis://127.0.0.1:6379/0", True),
        ("redis://localhost:6379/0", True),
        ("redis://[::1]:6379/0", True),
        ("redis+socket:///run/redis/redis.sock", True),
        ("redis://redis:6379/0", False),  # a compose service: another container, maybe another host
        (REMOTE_REDIS, False),
        ("amqp://guest@rabbit.example.com//", False),
    ],
)
def test_a_broker_is_local_when_it_is_a_file_a_socket_or_on_localhost(broker: str, local: bool) -> None:
    assert broker_is_local(Settings(broker_url=broker).effective_broker_url) is local


@pytest.mark.parametrize(
    ("database", "broker", "single_host", "refused"),
    [
        ("", "", None, False),  # the embedded default
        ("", "redis://127.0.0.1:6379/0", None, False),  # SQLite and Redis on one machine, as make test runs
        ("", "redis://redis:6379/0", None, True),
        ("", "redis://redis:6379/0", True, False),  # containers on one host sharing the data folder
        ("", "redis://127.0.0.1:6379/0", False, True),  # e.g. workers reaching Redis through a tunnel
        (POSTGRES, "redis://redis:6379/0", None, False),
        (POSTGRES, "redis://127.0.0.1:6379/0", False, False),
    ],
)
def test_sqlite_with_workers_on_other_machines_is_a_problem(
    database: str, broker: str, single_host: bool | None, refused: bool
) -> None:
    settings = Settings(database_url=database, broker_url=broker, single_host=single_host)
    problem = settings.sqlite_across_hosts_problem()
    assert (problem is not None) is refused
    if problem:
        assert "PostgreSQL" in problem and "LASTMILE_DATABASE_URL" in problem
        assert "LASTMILE_SINGLE_HOST=true" in problem


def _start_worker(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """`lastmile worker` with only these LASTMILE_ settings (and a data folder), run until it exits."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}
    command = [sys.executable, "-m", "worker.cli", "worker", "--queues", "ingest"]
    return subprocess.run(
        command,
        cwd=ROOT,
        env={**clean, "LASTMILE_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.worker
@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"LASTMILE_BROKER_URL": REMOTE_REDIS}, "the broker is on another machine (192.0.2.1)"),
        (
            {"LASTMILE_BROKER_URL": REDIS_URL, "LASTMILE_SINGLE_HOST": "false"},
            "LASTMILE_SINGLE_HOST is false",
        ),
    ],
)
def test_a_worker_on_sqlite_that_may_be_on_another_machine_refuses_to_start(
    tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    result = _start_worker(tmp_path, **env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"This worker cannot start: the database is SQLite, a file on one machine, but {reason}" in (
        result.stderr
    )
    assert "set LASTMILE_DATABASE_URL=postgresql+psycopg://" in result.stderr
    # It stopped before consuming: nothing was created in the data folder's database.
    assert not (tmp_path / "data" / "lastmile.sqlite").exists()
