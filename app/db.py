"""Database engine and sessions: one engine per process, one session per request or task."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from app.settings import get_settings


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so web and worker can share it."""
    if url.startswith("sqlite"):
        # Up to one connection per request the web's thread pool runs at once (anyio's 40): a SQLite
        # connection costs little, and a burst must not wait out the pool's timeout and fail.
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=5, max_overflow=35
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    settings = get_settings()
    if settings.effective_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.effective_database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """Session factory bound to the process-wide engine."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session per request, closed afterwards."""
    with get_sessionmaker()() as session:
        yield session


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for tasks and scripts that commits on success and rolls back on error."""
    with get_sessionmaker()() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_for(session: Session):
    """The INSERT construct of the session's database, with its ON CONFLICT clauses (for rows that two
    processes may add at once: the loser's insert is skipped or updates the row instead of failing)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def write_lock(session: Session, name: str) -> None:
    """Hold the lock called `name` until the session's transaction ends, so read-check-write steps (the
    first admin, the last admin) run one at a time across processes.

    PostgreSQL: a transaction-level advisory lock on the name's hash. SQLite has one writer at a time, but
    pysqlite starts a transaction only at the first write, after the checks have read: BEGIN IMMEDIATE
    takes the write lock before them (waiting out busy_timeout for the holder).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
        return
    driver = connection.connection.driver_connection
    # Already in a transaction means it has written: SQLite's write lock is held since then.
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
