"""The whole upload path with a real Celery worker on Redis: web → originals → queue → worker → examples."""

import hashlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ingest.store import original_path
from app.models import Example, ExampleTag
from app.settings import get_settings
from tests.conftest import clear_caches, wait_for
from tests.test_upload_service import purge_ingest_queue
from tests.upload_files import NOTES_MD, PNG, REPORT_TXT, TABLE_CSV, UNMAPPED_CSV, archive, reply_eml

pytestmark = pytest.mark.worker
MB = 1024 * 1024
HOSTILE = "<img src=x onerror=alert(1)>.txt"


@pytest.fixture
def one_mb_limit(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Files over 1 MB are refused; set before `celery_worker` starts so the worker sees it too."""
    monkeypatch.setenv("LASTMILE_MAX_FILE_BYTES", str(MB))
    clear_caches()
    purge_ingest_queue()  # messages left by tests without a worker are not this test's


def finished(client, batch_id: int) -> dict:
    """Poll the API until the batch is done (or stopped); its JSON."""

    def state():
        body = client.get(f"/api/uploads/{batch_id}").json()
        return body if body["state"] in ("done", "failed") else None

    return wait_for(state, timeout=90, interval=0.3)


def examples_count(session: Session) -> int:
    """Example rows now."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Example))


def test_upload_with_a_real_worker(one_mb_limit, celery_worker, client, session: Session):
    files = [
        ("files", ("report.txt", REPORT_TXT, "text/plain")),
        ("files", ("notes.md", NOTES_MD, "text/markdown")),
        ("files", ("reply.eml", reply_eml(), "message/rfc822")),
        ("files", ("table.csv", TABLE_CSV, "text/csv")),
        ("files", ("bundle.zip", archive(), "application/zip")),
        ("files", ("photo.png", PNG, "image/png")),
        ("files", ("big.txt", b"a" * (MB + 1), "text/plain")),
        ("files", (HOSTILE, b"Hostile name, harmless text.\n", "text/plain")),
    ]
    response = client.post("/api/uploads", files=files)
    assert response.status_code == 202
    queued = response.json()
    assert queued["total_files"] == 8 and queued["error"] is None
    big = next(i for i in queued["items"] if i["filename"] == "big.txt")
    assert big["status"] == "failed" and "the limit is 1 MB per file" in big["message"]

    batch = finished(client, queued["id"])
    assert batch["state"] == "done" and batch["done_files"] == 8
    items = {i["filename"]: i for i in batch["items"]}
    assert items["report.txt"]["message"] == "1 example from report.txt"
    assert items["notes.md"]["status"] == "parsed"
    assert items["reply.eml"]["status"] == "parsed"
    assert items["table.csv"]["message"] == "2 examples from table.csv"
    # notes.md and reply.eml came first in the batch, so the archive's copies add nothing.
    assert items["bundle.zip"]["message"] == "4 files, 0 examples; 2 refused; 2 already uploaded"
    assert items["bundle.zip/docs/notes.md"]["parent_item_id"] == items["bundle.zip"]["id"]
    assert items["bundle.zip/docs/notes.md"]["status"] == "duplicate"
    assert items["photo.png"]["status"] == "failed"
    assert items[HOSTILE]["status"] == "parsed"
    assert batch["example_count"] == 6  # report, notes, reply, 2 table rows, the hostile-named file

    # Examples, with their document link; the refused image left no example rows.
    reply = session.scalars(
        select(Example).where(Example.document_id == items["reply.eml"]["document_id"])
    ).one()
    assert (reply.instruction, reply.kind) == ("Reply to this email", "draft")
    assert "Where is my container?" in reply.input and "arrives on Friday" in reply.output
    assert (
        session.scalar(select(func.count()).where(Example.document_id == items["photo.png"]["document_id"]))
        == 0
    )
    assert examples_count(session) == batch["example_count"]

    # Originals on disk under their sha256, and downloadable as an attachment.
    root = get_settings().originals_dir
    for name, data in (("report.txt", REPORT_TXT), ("table.csv", TABLE_CSV)):
        sha = hashlib.sha256(data).hexdigest()
        assert items[name]["sha256"] == sha
        assert hashlib.sha256(original_path(root, sha).read_bytes()).hexdigest() == sha
    download = client.get(f"/api/documents/{items['table.csv']['document_id']}/original")
    assert download.content == TABLE_CSV
    assert download.headers["content-disposition"].startswith('attachment; filename="table.csv"')
    docs = {d["id"]: d for d in client.get("/api/documents").json()}
    table_doc = docs[items["table.csv"]["document_id"]]
    assert (table_doc["filename"], table_doc["status"], table_doc["example_count"]) == (
        "table.csv",
        "parsed",
        2,
    )
    assert docs[items["photo.png"]["document_id"]]["status"] == "failed"

    # The finished partial: no polling trigger, the hostile name escaped, a link to the examples.
    partial = client.get(f"/upload/batches/{batch['id']}", headers={"HX-Request": "true"}).text
    assert "hx-trigger" not in partial
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in partial and "<img src=x" not in partial
    assert "Review the examples →" in partial
    assert "6 examples added" in partial

    # The same file again: a duplicate, nothing added.
    before = examples_count(session)
    again = finished(client, client.post("/api/uploads", files=[files[0]]).json()["id"])
    assert again["items"][0]["status"] == "duplicate"
    assert "as report.txt (1 example) — nothing added" in again["items"][0]["message"]
    assert examples_count(session) == before

    # Pasted text through the page's form (htmx), then read by the worker.
    pasted = client.post(
        "/upload/text", data={"title": "Thank-you note", "text": "Thank you for choosing Brightwater."},
        headers={"HX-Request": "true"},
    )  # fmt: skip
    assert pasted.status_code == 200 and "Thank-you note.txt" in pasted.text
    paste_batch = client.get("/api/uploads?limit=1").json()[0]
    assert finished(client, paste_batch["id"])["items"][0]["status"] == "parsed"
    note = session.scalars(select(Example).order_by(Example.id.desc())).first()
    assert note.output == "Thank you for choosing Brightwater."

    # A table whose columns need choosing: the form, then a mapping batch that yields the examples.
    client.post(
        "/upload",
        files=[("files", ("tickets.csv", UNMAPPED_CSV, "text/csv"))],
        headers={"HX-Request": "true"},
    )
    tickets_batch = finished(client, client.get("/api/uploads?limit=1").json()[0]["id"])
    ticket_item = tickets_batch["items"][0]
    assert ticket_item["status"] == "needs_mapping"
    form_html = client.get(f"/upload/batches/{tickets_batch['id']}", headers={"HX-Request": "true"}).text
    doc_id = ticket_item["document_id"]
    assert f'action="/uploads/documents/{doc_id}/mapping"' in form_html
    assert "My parcel arrived damaged" in form_html  # the preview of the first rows
    mapped = client.post(
        f"/uploads/documents/{doc_id}/mapping",
        data={"instruction": "", "input": "Ticket text", "output": "Our verdict", "kind": "", "tags": ""},
        headers={"HX-Request": "true"},
    )
    assert mapped.status_code == 200 and "Columns chosen" in mapped.text
    mapping_batch = finished(client, client.get("/api/uploads?limit=1").json()[0]["id"])
    assert mapping_batch["source"] == "mapping" and mapping_batch["example_count"] == 3
    verdicts = session.scalars(
        select(Example.output).where(Example.document_id == doc_id).order_by(Example.id)
    )
    assert list(verdicts) == ["Refund", "Tracking", "Billing"]

    # Sample data: every example it adds is tagged "sample".
    sample = finished(client, client.post("/api/sample-data").json()["id"])
    assert sample["source"] == "sample" and sample["example_count"] > 20
    tagged = session.scalar(select(func.count()).select_from(ExampleTag).where(ExampleTag.tag == "sample"))
    assert tagged == sample["example_count"]
