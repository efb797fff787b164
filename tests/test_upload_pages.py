"""The Upload page's forms and the batch partial, without a worker (batches stay queued)."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Document, ImportBatch
from tests.test_upload_service import purge_ingest_queue
from tests.upload_files import REPORT_TXT

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _no_leftover_messages(env: dict[str, str]):
    """These tests enqueue batches no worker reads: drop them while `env` still points at Redis."""
    yield
    purge_ingest_queue()


def test_plain_form_post_redirects_to_the_batch_page(client, session: Session):
    response = client.post(
        "/upload", files=[("files", ("report.txt", REPORT_TXT, "text/plain"))], follow_redirects=False
    )
    assert response.status_code == 303
    batch = session.scalars(select(ImportBatch)).one()
    assert response.headers["location"] == f"/upload/batches/{batch.id}"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "<html" in page.text and 'id="current-batch"' in page.text
    assert "report.txt" in page.text and "Waiting for the worker" in page.text
    # Without JavaScript the page refreshes itself while the batch is queued.
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.text


def test_a_queued_batch_partial_polls_every_second(client, session: Session):
    response = client.post(
        "/upload", files=[("files", ("report.txt", REPORT_TXT, "text/plain"))], headers=HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text  # a partial, swapped into the page
    batch = session.scalars(select(ImportBatch)).one()
    assert f'hx-get="/upload/batches/{batch.id}" hx-trigger="every 1s" hx-swap="outerHTML"' in response.text
    assert '<progress class="batch-progress" max="1" value="0"' in response.text


def empty_file_part() -> tuple[bytes, dict[str, str]]:
    """The body a browser posts when no file was chosen: one part with an empty file name."""
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="files"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n"
        b"--b0undary--\r\n"
    )
    return body, {"Content-Type": "multipart/form-data; boundary=b0undary"}


def test_uploading_nothing_says_what_to_do(client, session: Session):
    body, headers = empty_file_part()
    response = client.post("/upload", content=body, headers={**headers, **HTMX})
    assert response.status_code == 200 and "Choose at least one file to upload." in response.text
    plain = client.post("/upload", content=body, headers=headers)
    assert plain.status_code == 422 and "Choose at least one file to upload." in plain.text
    assert session.scalars(select(ImportBatch)).all() == []


def test_a_bad_mapping_is_shown_next_to_the_form(client, session: Session, workspace_id: int):
    doc = Document(workspace_id=workspace_id, sha256="c" * 64, filename="t.csv", size_bytes=3, format="csv",
                   status="needs_mapping", columns=["Q", "A"])  # fmt: skip
    session.add(doc)
    session.commit()
    response = client.post(f"/uploads/documents/{doc.id}/mapping", data={"instruction": "Q"}, headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#mapping-error-{doc.id}"
    assert "Choose the column that holds the answer" in response.text
    missing = client.post("/uploads/documents/999999/mapping", data={"output": "A", "input": "Q"})
    assert missing.status_code == 404 and "There is no file 999999" in missing.text


def test_empty_paste_is_refused_in_plain_words(client):
    response = client.post("/upload/text", data={"title": "x", "text": "  "})
    assert response.status_code == 422
    assert "Paste some text first: the text box is empty." in response.text
    api = client.post("/api/uploads/text", json={"title": "x", "text": ""})
    assert api.status_code == 422 and "Paste some text first" in api.json()["detail"]
