"""kill -9 of the web process during uploads: what was confirmed is whole, the rest left nothing behind.

The upload path writes each file to a temporary file, fsyncs it, renames it into the content-addressed
store, and only then commits the rows that name it, under the store's shared lock. When the web
starts it sweeps (under the exclusive lock) temporary files and originals no row names.
"""

import hashlib
import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ingest.store import INCOMING, original_path, store_bytes, storing, sweep_leftovers
from app.models import Document, ImportBatch, ImportItem
from app.services.uploads import sweep_upload_leftovers
from app.settings import get_settings
from tests.conftest import wait_for
from tests.live_server import lastmile_serve
from tests.test_upload_service import purge_ingest_queue

MB = 1024 * 1024
UPLOADS = 8


class Trickle:
    """A file object that hands out its bytes slowly, so an upload is still arriving when the server dies."""

    def __init__(self, data: bytes, seconds: float) -> None:
        """Spread `data` over about `seconds`, in 64 KB reads."""
        self.data = data
        self.position = 0
        self.pause = seconds / max(1, len(data) // (64 * 1024))

    def read(self, size: int = -1) -> bytes:
        """The next chunk (at most 64 KB), after a pause."""
        time.sleep(self.pause)
        size = 64 * 1024 if size is None or size < 0 else min(size, 64 * 1024)
        chunk = self.data[self.position : self.position + size]
        self.position += len(chunk)
        return chunk


def _upload(url: str, token: str, name: str, data: bytes, seconds: float, outcome: dict) -> None:
    """POST one file, trickled over `seconds`; record the answer or the error in `outcome`."""
    try:
        with httpx.Client(timeout=60) as http:
            response = http.post(
                f"{url}/api/uploads",
                files={"files": (name, Trickle(data, seconds), "text/plain")},
                headers={"Authorization": f"Bearer {token}"},
            )
        outcome["status"] = response.status_code
        outcome["body"] = response.json() if response.status_code == 202 else response.text
    except httpx.HTTPError as exc:
        outcome["error"] = repr(exc)


def _files_in(root: Path) -> set[Path]:
    """Every file under the originals store except its lock file."""
    return {p for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


@pytest.mark.slow
def test_kill_9_during_uploads_keeps_what_was_confirmed_and_nothing_else(env, session: Session, tmp_path):
    """Eight uploads under way when the web dies: confirmed ones are whole, the others left nothing."""
    from tests.auth_helpers import api_token, make_user

    token, _ = api_token(session, make_user(session, "editor"), "crash test")
    session.commit()
    noise = random.Random(11)
    # Small files trickled over 0.2-2.3 s, big ones over 20 s: the web dies once two uploads are
    # confirmed, so the big ones are cut off mid-body and the late small ones race the kill.
    plans = [
        (f"upload-{i}.txt", noise.randbytes(256 * 1024), 0.2 + 0.7 * (i // 2))
        if i % 2
        else (f"upload-{i}.txt", noise.randbytes(4 * MB), 20.0)
        for i in range(UPLOADS)
    ]
    outcomes: list[dict] = [{} for _ in plans]
    root = Path(env["LASTMILE_DATA_DIR"]) / "originals"
    with lastmile_serve(env, tmp_path) as server:
        threads = [
            threading.Thread(target=_upload, args=(server.url, token, name, data, seconds, outcome))
            for (name, data, seconds), outcome in zip(plans, outcomes, strict=True)
        ]
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(o.get("status") == 202 for o in outcomes) >= 2, timeout=30, interval=0.05)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        for thread in threads:
            thread.join(60)
    answered = [(data, o) for (_, data, _), o in zip(plans, outcomes, strict=True) if o.get("status") == 202]
    confirmed = {hashlib.sha256(data).hexdigest() for data, _ in answered}
    refused = [o for o in outcomes if o.get("status") not in (202, None)]
    assert not refused, refused  # a dying server drops connections; it never answers with an error
    assert 0 < len(confirmed) < UPLOADS, outcomes  # the kill landed in the middle of the uploads

    # What an upload killed between its file and its row would leave: a partial file, an orphan original.
    (root / INCOMING).mkdir(parents=True, exist_ok=True)
    (root / INCOMING / "upload-partial").write_bytes(b"half a fi")
    orphan = store_bytes(root, b"stored, but its row was never committed").sha256

    with lastmile_serve(env, tmp_path) as server:  # starting the web sweeps what crashes left
        session.expire_all()
        rows = set(session.scalars(select(ImportItem.sha256)))
        # Confirmed uploads have their rows and their exact bytes; a row exists only for a whole file.
        assert confirmed <= rows
        on_disk = _files_in(root)
        assert {p.name for p in on_disk} == rows
        for sha in rows:
            assert hashlib.sha256(original_path(root, sha).read_bytes()).hexdigest() == sha
        # An upload without a success answer left nothing, unless the server died between its commit
        # and its answer (then it is whole, as above): never a half-written file or a row without one.
        assert not (root / INCOMING).exists() or list((root / INCOMING).iterdir()) == []
        assert orphan not in {p.name for p in on_disk}
        # And the restarted web works.
        with httpx.Client(timeout=30) as http:
            again = http.post(
                f"{server.url}/api/uploads",
                files={"files": ("after.txt", b"After the crash\n\nAll is well again.\n", "text/plain")},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert again.status_code == 202, again.text
    confirmed_batches = {outcome["body"]["id"] for _, outcome in answered}
    assert confirmed_batches <= set(session.scalars(select(ImportBatch.id)))
    purge_ingest_queue()
    print(f"{len(confirmed)} of {UPLOADS} uploads confirmed before kill -9; {len(rows)} stored after restart")


def test_the_sweep_keeps_named_originals_and_waits_for_writers(session: Session, workspace_id: int):
    """Only unnamed originals and temporary files go; a writer holding the lock holds the sweep off."""
    settings = get_settings()
    root = settings.originals_dir
    named = store_bytes(root, b"A report someone uploaded.").sha256
    session.add(
        Document(workspace_id=workspace_id, sha256=named, filename="r.txt", size_bytes=26, format="txt")
    )
    session.commit()
    orphan = store_bytes(root, b"An upload cut short before its row.").sha256
    (root / INCOMING / "upload-partial").write_bytes(b"half")

    held = threading.Event()
    release = threading.Event()

    def writer() -> None:
        """An upload between its file and its commit."""
        with storing(root):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait(10)
    assert sweep_leftovers(root, lambda: set(), wait_seconds=0.5) is None  # it waits, then gives up
    release.set()
    thread.join()
    swept = sweep_upload_leftovers(session, settings)
    assert (swept.partial_files, swept.orphans) == (1, 1)
    assert original_path(root, named).is_file() and not original_path(root, orphan).exists()
    assert list((root / INCOMING).iterdir()) == []
