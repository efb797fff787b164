"""run_batch called directly (no worker): per-file results, examples, archives, duplicates, failures."""

import hashlib
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ingest import pipeline
from app.ingest.pipeline import run_batch
from app.ingest.store import has_original
from app.models import Document, Example, ExampleTag, ImportBatch, ImportItem
from app.services import uploads as svc
from app.settings import get_settings
from tests.upload_files import REPORT_TXT, TABLE_CSV, UNMAPPED_CSV, archive, reply_eml


def upload(session: Session, workspace_id: int, files: dict[str, bytes], source: str = "upload") -> int:
    """Create a batch the way the web does; its id."""
    incoming = [svc.IncomingFile(name, io.BytesIO(data)) for name, data in files.items()]
    return svc.create_batch(session, workspace_id, incoming, get_settings(), source=source).id


def items_of(session: Session, batch_id: int) -> dict[str, ImportItem]:
    """The batch's items by file name, fresh from the database."""
    session.expire_all()
    rows = session.scalars(select(ImportItem).where(ImportItem.batch_id == batch_id))
    return {item.filename: item for item in rows}


def count(session: Session, model) -> int:
    """Rows in a table."""
    return session.scalar(select(func.count()).select_from(model))


def test_files_become_examples_with_per_file_results(session: Session, workspace_id: int):
    batch_id = upload(
        session,
        workspace_id,
        {
            "report.txt": REPORT_TXT,
            "reply.eml": reply_eml(),
            "table.csv": TABLE_CSV,
            "photo.png": b"\x89PNG\r\n",
        },
    )
    run_batch(batch_id)

    batch = session.get(ImportBatch, batch_id, populate_existing=True)
    assert batch.state == "done" and batch.finished_at and batch.started_at
    assert (batch.total_files, batch.done_files, batch.example_count) == (4, 4, 4)
    items = items_of(session, batch_id)
    assert items["report.txt"].status == "parsed"
    assert items["report.txt"].message == "1 example from report.txt"
    assert items["table.csv"].message == "2 examples from table.csv"
    assert items["photo.png"].status == "failed"
    assert "photo.png" in items["photo.png"].message and ".txt" in items["photo.png"].message

    reply = session.scalars(select(Example).join(Document).where(Document.filename == "reply.eml")).one()
    assert reply.instruction == "Reply to this email"
    assert "Where is my container?" in reply.input
    assert "arrives on Friday" in reply.output
    assert reply.document_id == items["reply.eml"].document_id
    report = session.scalars(
        select(Example).where(Example.document_id == items["report.txt"].document_id)
    ).one()
    assert report.instruction == "Write the report: Quarterly report for Acme"
    assert report.kind == "draft" and report.content_hash and report.output_tokens
    doc = session.get(Document, items["table.csv"].document_id)
    assert (doc.status, doc.example_count, doc.format) == ("parsed", 2, "csv")
    assert doc.sha256 == hashlib.sha256(TABLE_CSV).hexdigest()
    failed_doc = session.get(Document, items["photo.png"].document_id)
    assert failed_doc.status == "failed" and failed_doc.error == items["photo.png"].message
    assert count(session, Example) == 4  # nothing for the refused file


def test_reupload_is_a_duplicate_and_adds_nothing(session: Session, workspace_id: int):
    run_batch(upload(session, workspace_id, {"report.txt": REPORT_TXT}))
    before = (count(session, Example), count(session, Document))
    again = upload(session, workspace_id, {"copy of report.txt": REPORT_TXT})
    run_batch(again)
    item = items_of(session, again)["copy of report.txt"]
    assert item.status == "duplicate"
    assert item.message.startswith("Already uploaded on ")
    assert item.message.endswith(" as report.txt (1 example) — nothing added")
    assert (count(session, Example), count(session, Document)) == before
    assert session.get(ImportBatch, again, populate_existing=True).example_count == 0


def test_archive_members_get_their_own_items_and_documents(session: Session, workspace_id: int):
    data = archive()
    batch_id = upload(session, workspace_id, {"bundle.zip": data})
    run_batch(batch_id)
    items = items_of(session, batch_id)
    zip_item = items["bundle.zip"]
    assert zip_item.status == "parsed"
    assert zip_item.message == "4 files, 2 examples; 2 refused"
    assert zip_item.example_count == 2
    members = {name: item for name, item in items.items() if item.parent_item_id == zip_item.id}
    assert set(members) == {
        "bundle.zip/docs/notes.md",
        "bundle.zip/mail/reply.eml",
        "bundle.zip/photo.png",
        "bundle.zip/inner.zip",
    }
    assert members["bundle.zip/docs/notes.md"].status == "parsed"
    assert members["bundle.zip/photo.png"].status == "failed"
    assert "zip inside a zip" in members["bundle.zip/inner.zip"].message
    assert members["bundle.zip/inner.zip"].document_id is None  # refused unread: nothing stored
    zip_doc = session.get(Document, zip_item.document_id)
    assert (zip_doc.format, zip_doc.status, zip_doc.example_count) == ("zip", "parsed", 2)
    notes_doc = session.get(Document, members["bundle.zip/docs/notes.md"].document_id)
    assert notes_doc.parent_id == zip_doc.id
    assert has_original(get_settings().originals_dir, notes_doc.sha256)
    batch = session.get(ImportBatch, batch_id, populate_existing=True)
    assert (batch.done_files, batch.total_files, batch.example_count) == (1, 1, 2)

    # The same archive again: one duplicate, no member rows, nothing added.
    again = upload(session, workspace_id, {"bundle.zip": data})
    run_batch(again)
    again_items = items_of(session, again)
    assert list(again_items) == ["bundle.zip"] and again_items["bundle.zip"].status == "duplicate"


def test_a_fault_while_writing_rolls_back_only_that_file(
    session: Session, workspace_id: int, monkeypatch: pytest.MonkeyPatch
):
    real = pipeline.new_example
    calls = {"n": 0}

    def second_example_of_the_table_fails(workspace_id, draft, document_id, counter):
        """Let the first row of the table through, then fail: the first must be rolled back too."""
        if "thank-you" in draft.instruction:
            raise RuntimeError("disk full")
        calls["n"] += 1
        return real(workspace_id, draft, document_id, counter)

    monkeypatch.setattr(pipeline, "new_example", second_example_of_the_table_fails)
    batch_id = upload(session, workspace_id, {"table.csv": TABLE_CSV, "report.txt": REPORT_TXT})
    run_batch(batch_id)
    items = items_of(session, batch_id)
    assert items["table.csv"].status == "failed"
    assert "unexpected error" in items["table.csv"].message and "table.csv" in items["table.csv"].message
    assert items["report.txt"].status == "parsed"
    assert calls["n"] == 2  # the table's first row was built, then thrown away with the transaction
    assert count(session, Example) == 1
    assert session.scalars(select(Document.filename)).all() == ["report.txt"]
    batch = session.get(ImportBatch, batch_id, populate_existing=True)
    assert (batch.state, batch.done_files, batch.example_count) == ("done", 2, 1)


def test_needs_mapping_then_mapping_gives_examples(session: Session, workspace_id: int):
    batch_id = upload(session, workspace_id, {"tickets.csv": UNMAPPED_CSV})
    run_batch(batch_id)
    item = items_of(session, batch_id)["tickets.csv"]
    assert item.status == "needs_mapping"
    assert item.message == "Choose which columns hold the brief and the answer"
    doc = session.get(Document, item.document_id)
    assert doc.status == "needs_mapping" and doc.columns == ["Ticket text", "Our verdict", "Agent"]
    assert count(session, Example) == 0

    mapping_batch = svc.create_mapping_batch(
        session, workspace_id, doc.id, {"input": "Ticket text", "output": "Our verdict"}
    )
    run_batch(mapping_batch.id)
    mapped = items_of(session, mapping_batch.id)["tickets.csv"]
    assert mapped.status == "parsed" and mapped.message == "3 examples from tickets.csv"
    session.expire_all()
    doc = session.get(Document, doc.id)
    assert (doc.status, doc.example_count) == ("parsed", 3)
    examples = session.scalars(select(Example).order_by(Example.id)).all()
    assert [e.output for e in examples] == ["Refund", "Tracking", "Billing"]
    assert examples[0].input == "My parcel arrived damaged" and examples[0].document_id == doc.id
    # A second mapping would count the rows twice: refused with what to do.
    with pytest.raises(svc.InvalidRequest, match="already has 3 examples"):
        svc.create_mapping_batch(session, workspace_id, doc.id, {"input": "Agent", "output": "Our verdict"})


def test_a_done_batch_is_not_run_again_and_a_missing_one_is_ignored(session: Session, workspace_id: int):
    batch_id = upload(session, workspace_id, {"report.txt": REPORT_TXT})
    run_batch(batch_id)
    finished = session.get(ImportBatch, batch_id, populate_existing=True).finished_at
    run_batch(batch_id)  # a task delivered twice
    batch = session.get(ImportBatch, batch_id, populate_existing=True)
    assert (batch.done_files, batch.example_count, batch.finished_at) == (1, 1, finished)
    assert count(session, Example) == 1
    run_batch(10**9)  # logs and returns


def test_a_redelivered_running_batch_only_does_pending_items(session: Session, workspace_id: int):
    batch_id = upload(session, workspace_id, {"report.txt": REPORT_TXT, "table.csv": TABLE_CSV})
    run_batch(batch_id)
    # As if the worker died after the first file: the batch is running, the second item pending again.
    table = items_of(session, batch_id)["table.csv"]
    batch = session.get(ImportBatch, batch_id)
    batch.state, batch.done_files, batch.example_count = "running", 1, 1
    for example in session.scalars(select(Example).where(Example.document_id == table.document_id)):
        session.delete(example)
    session.delete(session.get(Document, table.document_id))
    table.status, table.message, table.document_id, table.example_count = "pending", None, None, 0
    session.commit()
    run_batch(batch_id)
    batch = session.get(ImportBatch, batch_id, populate_existing=True)
    assert (batch.state, batch.done_files, batch.example_count) == ("done", 2, 3)
    assert count(session, Example) == 3


def test_sample_data_examples_are_tagged_sample(session: Session, workspace_id: int):
    batch = svc.create_sample_batch(session, workspace_id, get_settings())
    run_batch(batch.id)
    batch = session.get(ImportBatch, batch.id, populate_existing=True)
    assert batch.source == "sample" and batch.state == "done"
    assert batch.example_count > 20
    untagged = session.scalar(
        select(func.count())
        .select_from(Example)
        .where(~Example.id.in_(select(ExampleTag.example_id).where(ExampleTag.tag == "sample")))
    )
    assert untagged == 0
    assert count(session, Example) == batch.example_count
