"""Shared fixtures: real SQLite and PostgreSQL databases, Redis, and a real Celery worker process."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

# Idle OpenMP threads sleep instead of spinning: on a small shared CPU, spinning threads of the test process,
# its workers and the browser slowed small torch operations many times over (inherited by the workers).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("LASTMILE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LASTMILE_TEST_REDIS", "redis://127.0.0.1:6379/11")
# Each test session gets its own Redis key space, so two runs on one machine never share tasks.
REDIS_PREFIX = f"lastmile-test-{uuid.uuid4().hex[:8]}:"

# Tables emptied between tests, children first; the default workspace stays.
DATA_TABLES = (
    "judgements", "comparison_items", "comparisons", "generations",
    "notices", "run_log_lines", "adapters", "runs", "base_losses", "worker_speeds", "worker_capacities",
    "base_models",
    "dataset_snapshots", "dataset_examples", "datasets", "example_flags", "example_tags", "examples",
    "import_items", "import_batches", "documents",
    "audit_events", "login_attempts", "api_tokens", "one_time_links", "auth_sessions", "membership_offers",
    "memberships", "users",
)  # fmt: skip


def clear_caches() -> None:
    """Forget process-wide settings, engines and Celery clients so new env vars take effect."""
    from app.db import get_engine, get_sessionmaker
    from app.queue import get_celery
    from app.settings import get_settings

    if get_engine.cache_info().currsize:
        get_engine().dispose()
    for cached in (get_settings, get_engine, get_sessionmaker, get_celery):
        cached.cache_clear()


def flush_broker() -> int:
    """Delete every broker key of this test session (a Redis restart without persistence, for our keys
    only: the Redis is shared); returns how many there were."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{REDIS_PREFIX}*"))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def _redis_key_space() -> Iterator[None]:
    """Remove this session's Redis keys at the end."""
    yield
    flush_broker()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"lastmile_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory, pg_database: str) -> dict[str, str]:
    """Both backends, migrated once with the real Alembic migrations."""
    from app.cli import migrate

    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'lastmile.sqlite'}"
    urls = {"sqlite": sqlite_url, "postgresql": pg_database}
    for url in urls.values():
        migrate(url)
    return urls


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, migrated: dict[str, str]) -> str:
    """Each test that asks for the database runs once on SQLite and once on PostgreSQL."""
    return migrated[request.param]


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Point Lastmile's settings at the test database, a temp data folder and the Redis broker."""
    values = {
        "LASTMILE_DATABASE_URL": db_url,
        "LASTMILE_DATA_DIR": str(tmp_path / "data"),
        "LASTMILE_BROKER_URL": REDIS_URL,
        "LASTMILE_BROKER_KEY_PREFIX": REDIS_PREFIX,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    clear_caches()
    yield values
    from app.db import get_engine

    with get_engine().begin() as conn:
        for table in DATA_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        # Workspaces a test created go too; the default one (the first) stays, as it was made.
        conn.execute(text("DELETE FROM workspaces WHERE id <> (SELECT min(id) FROM workspaces)"))
        reset = "UPDATE workspaces SET name = 'Default workspace', webhook_url = NULL WHERE slug = 'default'"
        conn.execute(text(reset))
    # Tasks a test left in the broker (a killed worker's redelivery, a republish) would reach the next test's
    # workers, and PostgreSQL reuses no ids but SQLite does: each test starts with an empty broker.
    flush_broker()
    clear_caches()


@pytest.fixture
def session(env: dict[str, str]) -> Iterator[Session]:
    """A session on the test database."""
    from app.db import get_sessionmaker

    with get_sessionmaker()() as s:
        yield s


@pytest.fixture
def workspace_id(session: Session) -> int:
    """The default workspace created by the initial migration."""
    from sqlalchemy import select

    from app.models import Workspace

    return session.scalars(select(Workspace.id).order_by(Workspace.id)).first()


@pytest.fixture
def client(env: dict[str, str]):
    """An HTTP client on the real application (no server process), signed in as an admin of the default
    workspace; its CSRF token goes along as a default X-CSRF-Token header, as htmx sends it."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.auth_helpers import sign_in

    with TestClient(create_app()) as c:
        yield sign_in(c, "admin", email="admin@example.com")


@pytest.fixture
def anon_client(env: dict[str, str]):
    """An HTTP client that is not signed in (no cookie, no CSRF header)."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def client_as(env: dict[str, str]):
    """Factory: `client_as(role, workspace=None, email=None)` gives a client signed in as a new user with
    `role` in `workspace` (None = the default one, a str = a slug, created when missing, an int = an id).
    Each client has `user_id`, `workspace_id` and `csrf_token` attributes."""
    from contextlib import ExitStack

    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.auth_helpers import sign_in

    app = create_app()
    with ExitStack() as stack:

        def make(role: str | None = "editor", workspace: str | int | None = None, email: str | None = None):
            """A new TestClient on the shared app, signed in as described."""
            return sign_in(stack.enter_context(TestClient(app)), role, workspace, email)

        yield make


@pytest.fixture
def celery_worker(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A real Celery worker process on Redis and the test database; stopped after the test."""
    from app.cli import worker_command

    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(
        worker_command("ingest,gpu", 1),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if b"ready." in (tmp_path / "worker.log").read_bytes():
            break
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError((tmp_path / "worker.log").read_text(errors="replace"))
    if proc.poll() is not None:
        raise RuntimeError((tmp_path / "worker.log").read_text(errors="replace"))
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


sys.path.insert(0, str(ROOT))
