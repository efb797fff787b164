"""Mailboxes through the import pipeline (no worker): read in slices across turns, sized by their own limit,
each message within the per-file time budget, and a duplicate slice never written twice."""

import io
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ingest.fork_server import SandboxFault, SandboxLimits, run_limited
from app.ingest.mailbox_import import Slice, write_slice
from app.ingest.pipeline import _start, run_turn
from app.models import Document, Example, ImportBatch, ImportItem
from app.services import uploads as svc
from app.settings import get_settings
from tests import sandbox_misbehaviour as misbehaviour
from tests.conftest import clear_caches
from tests.hostile_files import MB, mbox_message

MESSAGES = 6


def mailbox(count: int = MESSAGES) -> bytes:
    """A mailbox of `count` plain messages."""
    return b"".join(mbox_message(n, f"Order {n}", f"Please send order {n}.") for n in range(1, count + 1))


@pytest.fixture
def one_message_turns(env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """Turns so short that each reads one message."""
    monkeypatch.setenv("LASTMILE_INGEST_SLICE_SECONDS", "0")
    clear_caches()


def upload(session: Session, workspace_id: int, files: dict[str, bytes]) -> int:
    """A batch created the way the web does; its id."""
    incoming = [svc.IncomingFile(name, io.BytesIO(data)) for name, data in files.items()]
    return svc.create_batch(session, workspace_id, incoming, get_settings()).id


def item(session: Session, batch_id: int, name: str = "inbox.mbox") -> ImportItem:
    """The batch's item for file `name`, fresh."""
    session.expire_all()
    query = select(ImportItem).where(ImportItem.batch_id == batch_id, ImportItem.filename == name)
    return session.scalars(query).one()


def test_a_mailbox_is_read_over_several_turns_without_repeats(
    one_message_turns, session: Session, workspace_id: int
):
    """Each turn records its slice and the offset to go on from; the last one closes the batch."""
    batch_id = upload(session, workspace_id, {"inbox.mbox": mailbox(), "notes.txt": b"Short notes.\n"})
    offsets = []
    for _turn in range(3 * MESSAGES):
        run_turn(batch_id)
        batch = session.get(ImportBatch, batch_id, populate_existing=True)
        if batch.state == "done":
            break
        progress = item(session, batch_id).progress
        offsets += [progress["offset"]] if progress else []
        assert batch.state == "running"
    assert offsets == sorted(offsets) and len(set(offsets)) >= MESSAGES - 1  # one message a turn
    inbox = item(session, batch_id)
    assert (inbox.status, inbox.example_count, inbox.progress) == ("parsed", MESSAGES, None)
    assert inbox.message == f"{MESSAGES} examples from inbox.mbox"
    assert session.scalar(select(func.count()).select_from(Example)) == MESSAGES + 1
    assert (batch.done_files, batch.example_count) == (2, MESSAGES + 1)
    document = session.get(Document, inbox.document_id)
    assert (document.format, document.status, document.example_count) == ("mbox", "parsed", MESSAGES)


def test_a_slice_recorded_twice_is_written_once(one_message_turns, session: Session, workspace_id: int):
    """A duplicate delivery that read the same slice finds the offset moved on and writes nothing."""
    batch_id = upload(session, workspace_id, {"inbox.mbox": mailbox()})
    run_turn(batch_id)  # the first slice: message 1
    ctx = _start(batch_id)
    mailbox_item = item(session, batch_id)
    recorded = dict(mailbox_item.progress)
    stale = Slice(offset=recorded["offset"], number=1)
    assert write_slice(ctx, mailbox_item.id, 0, stale) is False
    assert item(session, batch_id).progress == recorded
    assert session.scalar(select(func.count()).select_from(Example)) == 1


def test_mailboxes_have_their_own_size_limit(
    env, monkeypatch: pytest.MonkeyPatch, session: Session, workspace_id: int, tmp_path: Path
):
    """A mailbox over the per-file limit is accepted up to max_mailbox_bytes; past it, refused in words.

    Sizes past 2 GB fit the database (64-bit columns): the refused file's size is what it claims.
    """
    monkeypatch.setenv("LASTMILE_MAX_FILE_BYTES", str(MB))
    monkeypatch.setenv("LASTMILE_MAX_MAILBOX_BYTES", str(3 * MB))
    clear_caches()
    big = mailbox(1) + mbox_message(2, "Attachment", "x" * (2 * MB))
    sparse = tmp_path / "huge.mbox"
    with open(sparse, "wb") as handle:
        handle.truncate(3 * 1024 * MB)  # 3 GB on paper, no disk used
    with open(sparse, "rb") as handle:
        incoming = [svc.IncomingFile("big.mbox", io.BytesIO(big)), svc.IncomingFile("huge.mbox", handle)]
        batch = svc.create_batch(session, workspace_id, incoming, get_settings())
    by_name = {i.filename: i for i in batch.items}
    assert by_name["big.mbox"].status == "pending" and by_name["big.mbox"].size_bytes == len(big)
    huge = by_name["huge.mbox"]
    assert (huge.status, huge.size_bytes) == ("failed", 3 * 1024 * MB)
    assert huge.message == (
        "huge.mbox is 3 GB; the limit is 3 MB per mailbox. Split it into smaller files, or ask your "
        "administrator to raise the limit."
    )
    assert os.path.getsize(sparse) == 3 * 1024 * MB


def test_each_streamed_item_gets_the_whole_time_budget() -> None:
    """With per_item the wall clock restarts at each item: 4 items 0.6 s apart finish under a 1 s clock."""
    limits = SandboxLimits(256 * MB, 30, 1.0)
    assert run_limited(misbehaviour.trickle, (4, 0.6), limits, per_item=True) == [0, 1, 2, 3]
    with pytest.raises(SandboxFault) as caught:
        run_limited(misbehaviour.trickle, (4, 0.6), limits)
    assert caught.value.kind == "wall" and caught.value.items == [0]


def test_a_stalled_stream_keeps_what_it_sent() -> None:
    """A child that hangs after three items is stopped at the wall clock; the three are kept."""
    started = time.monotonic()
    with pytest.raises(SandboxFault) as caught:
        run_limited(misbehaviour.stall_after, (3,), SandboxLimits(256 * MB, 30, 1.0), per_item=True)
    assert caught.value.kind == "wall" and caught.value.items == [0, 1, 2]
    print(f"stalled stream stopped after {time.monotonic() - started:.1f} s")
