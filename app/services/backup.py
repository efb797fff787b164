"""Online backup of a Lastmile instance (its database and the files under its data folder), and restore.

A backup folder holds the database (SQLite through the sqlite3 backup API; PostgreSQL through
pg_dump, both a consistent snapshot taken while the app runs), then a copy of the uploaded
originals, dataset snapshots, adapters and run checkpoints with the sha256 of each file, and last
manifest.json: a folder without it is an unfinished backup. The database is copied first, so every
file a row names already existed when the files were copied. The model cache is not included: it is
converted or downloaded again.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
CHUNK_BYTES = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    """What a backup or restore handled."""

    database: str  # "sqlite" or "postgresql"
    schema_revision: str | None
    files: int
    bytes: int
    seconds: float


def file_folders(settings: Settings) -> dict[str, Path]:
    """The folders of files a backup keeps, by name in the backup."""
    return {
        "originals": settings.originals_dir,
        "snapshots": settings.snapshots_dir,
        "adapters": settings.adapters_dir,
        "runs": settings.runs_dir,
    }


def database_kind(url: str) -> str:
    """ "sqlite" or "postgresql" for a SQLAlchemy URL; BackupError for anything else."""
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Lastmile backs up SQLite and PostgreSQL databases, not {backend}.")
    return backend


def schema_revision(url: str) -> str | None:
    """The Alembic revision the database is at (None when it has no schema yet)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


# --- backup ----------------------------------------------------------------------------------------


def backup(settings: Settings, target: Path) -> Summary:
    """Back up the database and files of the instance `settings` describes into the new folder `target`."""
    started = time.monotonic()
    target = target.expanduser().resolve()
    _check_backup_target(settings, target)
    url = settings.effective_database_url
    kind = database_kind(url)
    revision = schema_revision(url)
    if revision is None:
        raise BackupError("The database has no Lastmile tables yet, so there is nothing to back up.")
    target.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        _sqlite_copy(Path(make_url(url).database or ""), target / SQLITE_FILE)
    else:
        _pg(
            ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target / PG_FILE}"], url
        )
    entries = [
        entry for name, folder in file_folders(settings).items() for entry in _copy_out(folder, target, name)
    ]
    manifest = {
        "format": FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": kind,
        "schema_revision": revision,
        "files": entries,
    }
    _write_atomically(target / MANIFEST, json.dumps(manifest, indent=1).encode())
    return Summary(kind, revision, len(entries), sum(e["bytes"] for e in entries), time.monotonic() - started)


def _check_backup_target(settings: Settings, target: Path) -> None:
    """Refuse a target that holds files already, or lies inside the folders being backed up."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} is not empty. Back up into a new or empty folder.")
    for folder in file_folders(settings).values():
        if target.is_relative_to(folder.resolve()):
            raise BackupError(
                f"{target} lies inside {folder}, which is being backed up. Choose another folder."
            )


def _sqlite_copy(source: Path, destination: Path) -> None:
    """Copy a SQLite database with the sqlite3 backup API (a consistent copy while others write)."""
    if not source.is_file():
        raise BackupError(f"The SQLite database {source} does not exist.")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(destination)
    try:
        with dst:
            src.backup(dst)  # all pages in one step: one snapshot, however busy the source
    finally:
        dst.close()
        src.close()


def _pg(command: list[str], url: str) -> None:
    """Run a PostgreSQL client tool on the database `url` (the password goes in the environment)."""
    parsed = make_url(url)
    connection = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    try:
        done = subprocess.run([*command, f"--dbname={connection}"], env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} was not found. Install the PostgreSQL client tools (the version of your "
            "database server or newer), for example the postgresql-client package, and run this again."
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-800:]}")


def _walk(folder: Path) -> Iterator[Path]:
    """The files under `folder`, skipping names that start with a dot (work in progress, locks)."""
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def _copy_out(folder: Path, target: Path, name: str) -> list[dict]:
    """Copy the files of `folder` into the backup under files/<name>/; their manifest entries."""
    entries = []
    for path in _walk(folder):
        relative = f"{name}/{path.relative_to(folder).as_posix()}"
        try:
            size, sha = _copy_hashed(path, target / FILES / relative)
        except FileNotFoundError:
            continue  # replaced or removed while we walked (a rotated checkpoint): not part of this backup
        entries.append({"path": relative, "bytes": size, "sha256": sha})
    return entries


def _copy_hashed(source: Path, destination: Path) -> tuple[int, str]:
    """Copy a file, fsynced, hashing it on the way; its size and sha256."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(destination, "wb") as dst:
        while chunk := src.read(CHUNK_BYTES):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    shutil.copystat(source, destination)
    return size, digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


# --- restore ---------------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict:
    """The manifest of the backup in `source`; BackupError when it is missing or unreadable."""
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{source} is not a complete Lastmile backup: it has no {MANIFEST} (a backup that stopped "
            "midway has none). Use another backup folder."
        )
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise BackupError(f"{path} is damaged ({exc}). Use another backup folder.") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{source} was made by another version of Lastmile (format {manifest.get('format')})."
        )
    return manifest


def restore(settings: Settings, source: Path) -> Summary:
    """Restore the backup in `source` into the fresh instance `settings` describes (then migrate it)."""
    started = time.monotonic()
    source = source.expanduser().resolve()
    manifest = read_manifest(source)
    url = settings.effective_database_url
    kind = database_kind(url)
    if manifest["database"] != kind:
        raise BackupError(
            f"This backup holds a {manifest['database']} database, but this instance uses {kind}. "
            f"Restore it into an instance that uses {manifest['database']}."
        )
    _check_fresh(settings, url, kind)
    folders = file_folders(settings)
    for entry in manifest["files"]:
        name, _, relative = entry["path"].partition("/")
        parts = PurePosixPath(relative).parts
        if name not in folders or not parts or parts[0] == "/" or ".." in parts:
            raise BackupError(f"{source / MANIFEST} names a file outside the data folders: {entry['path']}.")
        _copy_in(source / FILES / entry["path"], folders[name] / relative, entry)
    if kind == "sqlite":
        database = Path(make_url(url).database or "")
        database.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source / SQLITE_FILE, database)
    else:
        _pg(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             str(source / PG_FILE)], url)  # fmt: skip
    total = sum(entry["bytes"] for entry in manifest["files"])
    elapsed = time.monotonic() - started
    return Summary(kind, manifest["schema_revision"], len(manifest["files"]), total, elapsed)


def _check_fresh(settings: Settings, url: str, kind: str) -> None:
    """Refuse to restore over an instance that holds data already."""
    if kind == "sqlite":
        path = Path(make_url(url).database or "")
        used = path.exists() and path.stat().st_size > 0
    else:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                used = bool(inspect(conn).get_table_names())
        finally:
            engine.dispose()
    if used:
        raise BackupError(
            "Lastmile restores into a fresh instance only, and this database already has tables. Point "
            "LASTMILE_DATABASE_URL (or LASTMILE_DATA_DIR, for SQLite) at a new, empty database and run "
            "restore again."
        )
    for folder in file_folders(settings).values():
        if any(_walk(folder)):
            raise BackupError(
                f"Lastmile restores into a fresh instance only, and {folder} already holds files. Use a "
                "new, empty data folder (LASTMILE_DATA_DIR) and run restore again."
            )


def _copy_in(source: Path, destination: Path, entry: dict) -> None:
    """Copy one file back, checked against the manifest; it appears under its name only when whole."""
    tmp = destination.with_name(f".{destination.name}.restoring")
    try:
        size, sha = _copy_hashed(source, tmp)
    except FileNotFoundError:
        raise BackupError(f"The backup is missing {entry['path']}. Use another backup folder.") from None
    if (size, sha) != (entry["bytes"], entry["sha256"]):
        tmp.unlink()
        raise BackupError(
            f"{entry['path']} in the backup does not match its checksum: the backup is damaged. Use "
            "another backup folder."
        )
    os.replace(tmp, destination)
