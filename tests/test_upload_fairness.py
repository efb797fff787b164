"""Fair imports with a real Celery worker: a hostile mailbox in one workspace takes turns with another
workspace's small upload, and finishes within its time budget (each message read in bounded time)."""

import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Example, ImportBatch, ImportItem
from tests import hostile_files as hostile
from tests.conftest import clear_caches, wait_for
from tests.test_upload_service import purge_ingest_queue
from tests.upload_files import NOTES_MD, REPORT_TXT, TABLE_CSV

pytestmark = pytest.mark.worker
# Enough messages that the mailbox is still being read well after the other upload arrives: it reads about
# 1,000 messages a second here, hostile subjects included.
MESSAGES = 4000
FILE_SECONDS = 30


@pytest.fixture
def short_turns(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Turns of 0.3 s and a 30 s budget per file (per message for a mailbox); set before the worker starts."""
    monkeypatch.setenv("LASTMILE_INGEST_SLICE_SECONDS", "0.3")
    monkeypatch.setenv("LASTMILE_INGEST_FILE_SECONDS", str(FILE_SECONDS))
    clear_caches()
    purge_ingest_queue()


def _batch(session: Session, batch_id: int) -> ImportBatch:
    """The batch, fresh from the database."""
    session.expire_all()
    return session.get(ImportBatch, batch_id)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_hostile_mailbox_takes_turns_with_another_workspaces_upload(
    short_turns, celery_worker, client, client_as, session: Session
):
    name, data = hostile.mbox_long_subjects(messages=MESSAGES, hostile_every=400)
    started = time.monotonic()
    reply = client.post("/api/uploads", files=[("files", (name, data, "application/mbox"))])
    assert reply.status_code == 202, reply.text
    mailbox_batch = reply.json()["id"]

    def mailbox_under_way() -> bool:
        item = session.scalars(select(ImportItem).where(ImportItem.batch_id == mailbox_batch)).one()
        return bool(item.progress and item.progress["offset"] > 0)

    wait_for(lambda: session.expire_all() or mailbox_under_way(), timeout=60, interval=0.05)
    other = client_as("editor", workspace="fair-other-team")
    files = [("files", ("report.txt", REPORT_TXT)), ("files", ("notes.md", NOTES_MD))]
    reply = other.post("/api/uploads", files=[*files, ("files", ("table.csv", TABLE_CSV))])
    assert reply.status_code == 202, reply.text
    small_batch = reply.json()["id"]

    small = wait_for(lambda: _batch(session, small_batch).state == "done" and _batch(session, small_batch))
    small_done = time.monotonic() - started
    big = wait_for(
        lambda: _batch(session, mailbox_batch).state == "done" and _batch(session, mailbox_batch), 180
    )
    big_done = time.monotonic() - started
    # The small upload did not wait for the whole mailbox: it finished while the mailbox was still being read.
    assert small.finished_at < big.finished_at
    assert (small.done_files, small.example_count) == (3, 4)
    [item] = big.items
    assert (item.status, item.example_count) == ("parsed", MESSAGES), item.message
    # Every message was read within the time budget: none was skipped for taking too long.
    assert item.message == f"{MESSAGES} examples from {name}"
    longest = session.scalar(
        select(func.max(func.length(Example.instruction))).where(Example.document_id == item.document_id)
    )
    assert longest <= len("Write an email: ") + 300  # a 2 MB subject became a short instruction
    print(
        f"{len(data) / hostile.MB:.0f} MB hostile mailbox ({MESSAGES} messages, 2 MB subjects): the other "
        f"workspace's 3 files done after {small_done:.1f} s, the mailbox after {big_done:.1f} s (budget "
        f"{FILE_SECONDS} s per message)"
    )
