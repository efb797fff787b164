"""`lastmile backup` and `lastmile restore`: an online backup restores into a fresh instance that works."""

import hashlib
import json
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from app.ingest.pipeline import run_batch
from app.ingest.store import original_path
from app.models import Document, Example, ImportBatch, ImportItem
from app.services import backup as svc
from app.services.uploads import create_text_batch
from app.settings import Settings, get_settings
from tests.conftest import PG_ADMIN_URL, ROOT, clear_caches
from tests.upload_files import REPORT_TXT, TABLE_CSV

LASTMILE = ROOT / ".venv" / "bin" / "lastmile"
MB = 1024 * 1024


@pytest.fixture
def fresh_instance(db_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings of a second, empty instance on the same backend: its own data folder and database."""
    data = tmp_path / "restored"
    if db_url.startswith("sqlite"):
        yield {
            "LASTMILE_DATA_DIR": str(data),
            "LASTMILE_DATABASE_URL": f"sqlite:///{data / 'lastmile.sqlite'}",
        }
        return
    name = f"lastmile_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {
            "LASTMILE_DATA_DIR": str(data),
            "LASTMILE_DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
        }
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def lastmile(command: list[str], instance: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a `lastmile` command against the instance `instance` (its LASTMILE_* settings)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}, **instance}
    return subprocess.run(
        [str(LASTMILE), *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@contextmanager
def using(instance: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point this process's settings at `instance` for the block, then back."""
    saved = {key: os.environ.get(key) for key in instance}
    for key, value in instance.items():
        monkeypatch.setenv(key, value)
    clear_caches()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                monkeypatch.delenv(key)
            else:
                monkeypatch.setenv(key, value)
        clear_caches()


def sha(data: bytes) -> str:
    """The sha256 of `data`, in hex."""
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_an_online_backup_restores_into_a_fresh_instance_that_works(
    env, client, session: Session, workspace_id: int, fresh_instance, tmp_path, monkeypatch
):
    """Back up while uploads keep arriving; restore elsewhere; sign in, read, download and upload there."""
    from tests.auth_helpers import api_token, make_user

    token, _ = api_token(session, make_user(session, "editor"), "backup test")
    session.commit()
    batch = client.post(
        "/api/uploads", files=[("files", ("report.txt", REPORT_TXT)), ("files", ("t.csv", TABLE_CSV))]
    )
    run_batch(batch.json()["id"])
    settings = get_settings()
    adapter = os.urandom(MB)
    (settings.adapters_dir / "7").mkdir(parents=True)
    (settings.adapters_dir / "7" / "adapter_model.safetensors").write_bytes(adapter)
    settings.snapshots_dir.mkdir(parents=True)
    (settings.snapshots_dir / "abc.jsonl").write_bytes(b'{"instruction": "x", "output": "y"}\n')
    (settings.runs_dir / ".checkpoint.tmp-1").mkdir(parents=True)  # work in progress: not backed up
    (settings.runs_dir / ".checkpoint.tmp-1" / "half").write_bytes(b"half")

    # Uploads (files, then rows) keep arriving while the backup runs: it is online.
    stop = threading.Event()
    written = []

    def keep_uploading() -> None:
        """Pasted notes, one after another, until told to stop."""
        from app.db import get_sessionmaker

        with get_sessionmaker()() as writer:
            while not stop.is_set():
                note = create_text_batch(
                    writer, workspace_id, f"Note {len(written)}", f"Note {len(written)}.", settings
                )
                written.append(note.id)

    thread = threading.Thread(target=keep_uploading)
    thread.start()
    try:
        backed = lastmile(["backup", str(tmp_path / "backup")], env)
    finally:
        stop.set()
        thread.join(30)
    assert backed.returncode == 0, backed.stderr
    assert "Backed up the" in backed.stdout and "files" in backed.stdout
    assert len(written) > 0
    manifest = json.loads((tmp_path / "backup" / svc.MANIFEST).read_text())
    paths = {entry["path"] for entry in manifest["files"]}
    assert "adapters/7/adapter_model.safetensors" in paths and "snapshots/abc.jsonl" in paths
    assert not any("/." in path or ".lock" in path for path in paths)

    restored = lastmile(["restore", str(tmp_path / "backup")], {**env, **fresh_instance})
    assert restored.returncode == 0, restored.stderr

    with using(fresh_instance, monkeypatch):
        from fastapi.testclient import TestClient

        from app.db import get_sessionmaker
        from app.main import create_app

        there = get_settings()
        with get_sessionmaker()() as copy:
            batches = copy.scalar(select(func.count()).select_from(ImportBatch))
            # A consistent snapshot: the first batch, and some of the notes written during the backup.
            assert 1 < batches <= 1 + len(written)
            for item_sha in copy.scalars(select(ImportItem.sha256).where(ImportItem.sha256.is_not(None))):
                stored = original_path(there.originals_dir, item_sha).read_bytes()
                assert sha(stored) == item_sha  # every row's file, whole
            examples = copy.scalar(select(func.count()).select_from(Example))
            report = copy.scalars(select(Document).where(Document.filename == "report.txt")).one()
        assert (there.adapters_dir / "7" / "adapter_model.safetensors").read_bytes() == adapter
        assert not (there.runs_dir / ".checkpoint.tmp-1").exists()
        bearer = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app()) as http:
            listed = http.get("/api/examples", headers=bearer)
            assert listed.status_code == 200 and listed.json()["total"] == examples >= 3
            original = http.get(f"/api/documents/{report.id}/original", headers=bearer)
            assert original.status_code == 200 and original.content == REPORT_TXT
            # New rows get new ids (sequences restored on PostgreSQL) and are parsed as before.
            again = http.post(
                "/api/uploads", files=[("files", ("new.md", b"# New\n\nWritten after.\n"))], headers=bearer
            )
            assert again.status_code == 202, again.text
            run_batch(again.json()["id"])
            assert http.get("/api/examples", headers=bearer).json()["total"] == examples + 1
    print(
        f"backup: {manifest['database']}, {len(paths)} files; {len(written)} notes written meanwhile, "
        f"{batches - 1} of them in the backup"
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_backup_and_restore_refuse_what_would_lose_or_mix_data(env, client, session: Session, tmp_path: Path):
    """A used folder, an unfinished or damaged backup, a used instance, a newer backup: each refused."""
    from app import cli

    client.post("/api/uploads", files=[("files", ("report.txt", REPORT_TXT))])
    settings = get_settings()
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("mine")
    with pytest.raises(svc.BackupError, match="is not empty"):
        svc.backup(settings, used)
    with pytest.raises(svc.BackupError, match="lies inside"):
        svc.backup(settings, settings.originals_dir / "backup")

    folder = tmp_path / "backup"
    done = svc.backup(settings, folder)
    assert done.database == "sqlite" and done.files == 1 and done.bytes == len(REPORT_TXT)
    # Restoring over the instance it came from (or any used one) is refused.
    with pytest.raises(svc.BackupError, match="restores into a fresh instance only"):
        svc.restore(settings, folder)

    fresh = Settings(data_dir=tmp_path / "fresh", database_url=f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    manifest = json.loads((folder / svc.MANIFEST).read_text())
    [entry] = manifest["files"]
    (folder / svc.FILES / entry["path"]).write_bytes(b"tampered")
    with pytest.raises(svc.BackupError, match="does not match its checksum: the backup is damaged"):
        svc.restore(fresh, folder)
    assert [p for p in (tmp_path / "fresh").rglob("*") if p.is_file()] == []  # nothing half-restored

    (folder / svc.MANIFEST).write_text(json.dumps({**manifest, "schema_revision": "9999_from_the_future"}))
    with pytest.raises(SystemExit, match="made by a newer version of Lastmile"):
        cli.restore(folder)
    (folder / svc.MANIFEST).unlink()
    with pytest.raises(svc.BackupError, match="not a complete Lastmile backup"):
        svc.restore(fresh, folder)
