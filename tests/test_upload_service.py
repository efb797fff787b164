"""Creating upload batches: names, limits, pasted text, mappings, queue failures and workspace isolation."""

import hashlib
import io
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ingest.store import has_original
from app.models import Document, ImportBatch, Workspace
from app.routes.uploads_api import content_disposition
from app.services import uploads as svc
from app.settings import get_settings

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("report.docx", "report.docx"),
        ("C:\\Users\\ann\\Desktop\\report.docx", "report.docx"),
        ("folder/inner/notes.md", "notes.md"),
        ("invoice\u202etxt.exe", "invoicetxt.exe"),  # a right-to-left override would disguise the extension
        ("tab\tand\nnewline.txt", "tabandnewline.txt"),
        ("", "Untitled file"),
        (None, "Untitled file"),
        ("<img src=x onerror=alert(1)>.txt", "<img src=x onerror=alert(1)>.txt"),  # escaped when shown
    ],
)
def test_display_filename(raw, shown):
    assert svc.display_filename(raw) == shown


def test_display_filename_is_bounded_and_keeps_the_extension():
    name = svc.display_filename("a" * 500 + ".csv")
    assert len(name) <= svc.MAX_DISPLAY_NAME
    assert name.endswith("….csv")


def test_format_size_in_words():
    assert svc.format_size(50 * MB) == "50 MB"
    assert svc.format_size(int(1.5 * MB)) == "1.5 MB"
    assert svc.format_size(800 * 1024) == "800 KB"
    assert svc.format_size(12) == "12 bytes"


def test_content_disposition_cannot_be_broken_out_of():
    header = content_disposition('zip.zip/x"; filename=evil.html')
    assert header.startswith('attachment; filename="x__ filename_evil.html"; ')
    assert header.count('"') == 2
    header = content_disposition("Prüfbericht März.pdf")
    assert 'filename="Pr_fbericht M_rz.pdf"' in header
    assert "filename*=UTF-8''Pr%C3%BCfbericht%20M%C3%A4rz.pdf" in header


def test_create_batch_refuses_files_over_the_limits_and_keeps_the_rest(session: Session, workspace_id: int):
    settings = get_settings().model_copy(update={"max_file_bytes": 1 * MB, "max_upload_bytes": 2 * MB})
    sizes = {
        "small.txt": 100,
        "big.txt": int(1.5 * MB),  # over the per-file limit
        "m1.txt": int(0.9 * MB),
        "m2.txt": int(0.9 * MB),
        "m3.txt": int(0.5 * MB),  # fits the file limit, but the upload is then over 2 MB
        "tiny.txt": 10,  # still fits what is left of the upload
    }
    files = [
        svc.IncomingFile(name, io.BytesIO(name.encode() * (size // len(name) + 1)))
        for name, size in sizes.items()
    ]
    contents = {f.filename: f.fileobj.getvalue() for f in files}
    batch = svc.create_batch(session, workspace_id, files, settings)

    stored = session.get(ImportBatch, batch.id, populate_existing=True)
    assert stored.state == "queued" and stored.source == "upload"
    assert stored.total_files == 6 and stored.done_files == 2
    by_name = {item.filename: item for item in stored.items}
    assert [item.filename for item in stored.items] == list(sizes)
    assert by_name["big.txt"].status == "failed"
    assert "big.txt is 1.5 MB; the limit is 1 MB per file" in by_name["big.txt"].message
    assert by_name["m3.txt"].status == "failed"
    assert "limit of 2 MB per upload" in by_name["m3.txt"].message
    for name in ("small.txt", "m1.txt", "m2.txt", "tiny.txt"):
        item = by_name[name]
        assert item.status == "pending"
        assert item.sha256 == hashlib.sha256(contents[name]).hexdigest()
        assert item.size_bytes == len(contents[name])
        assert has_original(settings.originals_dir, item.sha256)
    for name in ("big.txt", "m3.txt"):
        assert by_name[name].sha256 is None
        assert not has_original(settings.originals_dir, hashlib.sha256(contents[name]).hexdigest())


def test_a_batch_of_only_refused_files_is_done_at_once(session: Session, workspace_id: int):
    settings = get_settings().model_copy(update={"max_file_bytes": 10})
    batch = svc.create_batch(
        session, workspace_id, [svc.IncomingFile("a.txt", io.BytesIO(b"x" * 11))], settings
    )
    assert batch.state == "done" and batch.finished_at is not None
    assert batch.done_files == batch.total_files == 1


def test_no_files_is_refused(session: Session, workspace_id: int):
    with pytest.raises(svc.InvalidRequest, match="at least one file"):
        svc.create_batch(session, workspace_id, [], get_settings())


def test_pasted_text_becomes_a_txt_item_named_after_its_title(session: Session, workspace_id: int):
    settings = get_settings()
    batch = svc.create_text_batch(session, workspace_id, "  Q3/Q4 report ", "Revenue rose.", settings)
    assert batch.source == "paste"
    assert [i.filename for i in batch.items] == ["Q3-Q4 report.txt"]
    untitled = svc.create_text_batch(session, workspace_id, "", "Hello", settings)
    assert untitled.items[0].filename == "Pasted text.txt"
    assert untitled.items[0].sha256 == hashlib.sha256(b"Hello").hexdigest()
    with pytest.raises(svc.InvalidRequest, match="empty"):
        svc.create_text_batch(session, workspace_id, "t", "   \n", settings)


def test_clean_mapping():
    columns = ["Question", "Reply", "Notes"]
    assert svc.clean_mapping(columns, {"instruction": "Question", "output": "Reply", "input": ""}) == {
        "instruction": "Question",
        "output": "Reply",
    }
    assert (
        svc.clean_mapping(columns, {"input": "Notes", "output": "Reply", "kind": "Classify"})["kind"]
        == "Classify"
    )
    with pytest.raises(svc.InvalidRequest, match="answer"):
        svc.clean_mapping(columns, {"instruction": "Question"})
    with pytest.raises(svc.InvalidRequest, match="no column named “Answer”"):
        svc.clean_mapping(columns, {"instruction": "Question", "output": "Answer"})
    with pytest.raises(svc.InvalidRequest, match="brief, or the one that holds the input"):
        svc.clean_mapping(columns, {"output": "Reply"})
    with pytest.raises(svc.InvalidRequest, match="its own column"):
        svc.clean_mapping(columns, {"instruction": "Reply", "output": "Reply"})


def test_mapping_batch_checks_the_document(session: Session, workspace_id: int):
    doc = Document(workspace_id=workspace_id, sha256="a" * 64, filename="t.csv", size_bytes=3, format="csv",
                   status="needs_mapping", columns=["Q", "A"])  # fmt: skip
    plain = Document(workspace_id=workspace_id, sha256="b" * 64, filename="n.txt", size_bytes=3, format="txt",
                     status="parsed", example_count=2)  # fmt: skip
    session.add_all([doc, plain])
    session.commit()
    with pytest.raises(LookupError):
        svc.create_mapping_batch(session, workspace_id, 10**9, {"instruction": "Q", "output": "A"})
    with pytest.raises(svc.InvalidRequest, match="not a table"):
        svc.create_mapping_batch(session, workspace_id, plain.id, {"instruction": "Q", "output": "A"})
    batch = svc.create_mapping_batch(session, workspace_id, doc.id, {"instruction": "Q", "output": "A"})
    assert batch.source == "mapping" and batch.total_files == 1
    item = batch.items[0]
    assert (item.document_id, item.sha256, item.filename) == (doc.id, doc.sha256, "t.csv")
    assert session.get(Document, doc.id).column_mapping == {"instruction": "Q", "output": "A"}


def test_queue_down_keeps_the_batch_and_says_so(client, session: Session, monkeypatch: pytest.MonkeyPatch):
    from tests.conftest import REDIS_URL, clear_caches

    # Nothing listens on port 9 of loopback: a real refused connection, not a mock.
    monkeypatch.setenv("LASTMILE_BROKER_URL", "redis://127.0.0.1:9/0")
    clear_caches()
    response = client.post("/upload/text", data={"title": "Note", "text": "Please call me."},
                           headers={"HX-Request": "true"})  # fmt: skip
    assert response.status_code == 200
    assert "worker queue is unreachable" in response.text
    assert "hx-trigger" not in response.text  # nothing to poll for until the user tries again
    batch = session.scalars(select(ImportBatch)).one()
    assert batch.state == "queued" and "unreachable" in batch.error
    assert has_original(get_settings().originals_dir, batch.items[0].sha256)

    monkeypatch.setenv("LASTMILE_BROKER_URL", REDIS_URL)
    clear_caches()
    retried = client.post(f"/api/uploads/{batch.id}/retry")
    assert retried.status_code == 202
    assert retried.json()["error"] is None and retried.json()["state"] == "queued"
    purge_ingest_queue()


def purge_ingest_queue() -> None:
    """Drop messages no worker will read in this test, so a later worker test does not get them."""
    from app.queue import INGEST_QUEUE, get_celery

    with get_celery().connection_for_write() as conn:
        conn.default_channel.queue_purge(INGEST_QUEUE)


def test_another_workspace_sees_404(client, session: Session, workspace_id: int):
    other = Workspace(name="Other team", slug="other-team-uploads")
    session.add(other)
    session.commit()
    try:
        batch = svc.create_text_batch(session, other.id, "secret", "Not yours.", get_settings())
        doc = Document(workspace_id=other.id, sha256=batch.items[0].sha256, filename="secret.txt",
                       size_bytes=10, format="txt", status="parsed")  # fmt: skip
        session.add(doc)
        session.commit()
        assert client.get(f"/api/uploads/{batch.id}").status_code == 404
        assert client.get(f"/upload/batches/{batch.id}").status_code == 404
        assert client.get(f"/api/documents/{doc.id}/original").status_code == 404
        mapping = client.post(f"/api/documents/{doc.id}/mapping", json={"instruction": "a", "output": "b"})
        assert mapping.status_code == 404
        assert all(d["id"] != doc.id for d in client.get("/api/documents").json())
        assert all(b["id"] != batch.id for b in client.get("/api/uploads").json())
    finally:
        session.delete(session.get(Workspace, other.id))
        session.commit()


def test_upload_page_lists_formats_without_inline_scripts(client):
    response = client.get("/upload")
    assert response.status_code == 200
    html = response.text
    assert '<label for="upload-files" class="dropzone"' in html
    assert 'type="file" name="files" multiple' in html
    assert "An email reply becomes: the incoming message → your reply." in html
    assert "Try with sample data" in html
    assert 'hx-encoding="multipart/form-data"' in html
    # A strict CSP is coming: scripts only from files, no inline handlers.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)
