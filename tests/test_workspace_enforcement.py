"""Roles and workspaces beyond the route matrix: deleting is for admins even inside bulk actions, ids in
request bodies never reach another workspace, the ingest task re-checks what it writes to, the audit log
notes who uploaded, deleted, exported and downloaded, and pages hide what a role may not do."""

import io

import pytest
from sqlalchemy import func, select, update

from app.models import AuditEvent, Dataset, DatasetExample, Document, Example, ImportBatch, ImportItem
from tests.examples_data import add_examples
from tests.upload_files import REPORT_TXT

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _no_leftover_messages(env):
    """Uploads here queue batches no worker reads: drop them, so no later worker test gets them."""
    yield
    from tests.test_upload_service import purge_ingest_queue

    purge_ingest_queue()


def _count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _events(session, workspace_id: int) -> list[tuple[str, str, int | None]]:
    session.expire_all()
    rows = session.scalars(
        select(AuditEvent).where(AuditEvent.workspace_id == workspace_id).order_by(AuditEvent.id)
    )
    return [(e.action, e.target, e.user_id) for e in rows if e.action != "login"]


def test_bulk_delete_is_for_admins_only(client_as, session):
    editor = client_as("editor", "sales")
    admin = client_as("admin", "sales")
    ids = add_examples(session, editor.workspace_id, [{}, {}, {}])

    refused = editor.post("/api/examples/bulk", json={"action": "delete", "ids": ids})
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "You are an editor in Sales; only admins can do this. Ask a workspace admin."
    )
    page = editor.post("/examples/bulk", data={"action": "delete", "ids": ids[:1]}, headers=HTMX)
    assert page.status_code == 403 and "only admins can do this" in page.text
    assert _count(session, Example, Example.workspace_id == editor.workspace_id) == 3
    # Everything short of deleting is an editor's to do.
    excluded = editor.post("/api/examples/bulk", json={"action": "exclude", "ids": ids})
    assert excluded.status_code == 200 and excluded.json()["changed"] == 3

    done = admin.post("/api/examples/bulk", json={"action": "delete", "ids": ids[:2]})
    assert done.status_code == 200 and done.json()["changed"] == 2
    assert _count(session, Example, Example.workspace_id == admin.workspace_id) == 1
    assert ("delete_examples", "2 examples", admin.user_id) in _events(session, admin.workspace_id)


def test_ids_in_request_bodies_never_reach_another_workspace(client_as, session):
    theirs = client_as("admin", "alpha")
    mine = client_as("admin", "bravo")
    their_ids = add_examples(session, theirs.workspace_id, [{"tags": ["secret"]}, {}])

    bulk = mine.post("/api/examples/bulk", json={"action": "delete", "ids": their_ids})
    assert bulk.status_code == 422 and "No examples are selected" in bulk.text
    tagged = mine.post("/examples/bulk", data={"action": "add_tag", "tag_value": "x", "ids": their_ids})
    assert "No examples are selected" in tagged.text
    created = mine.post("/api/datasets", json={"name": "Copied", "example_ids": their_ids})
    assert created.status_code == 201 and created.json()["examples"] == 0
    dataset_id = created.json()["id"]
    added = mine.post(f"/api/datasets/{dataset_id}/examples", json={"ids": their_ids})
    assert added.status_code == 200 and added.json()["changed"] == 0
    assert _count(session, DatasetExample, DatasetExample.dataset_id == dataset_id) == 0
    assert _count(session, Example, Example.workspace_id == theirs.workspace_id) == 2
    # Their example is exactly as it was: no tag added, still included.
    session.expire_all()
    untouched = session.get(Example, their_ids[0])
    assert [t.tag for t in untouched.tags] == ["secret"] and untouched.included


def test_the_ingest_task_never_writes_to_another_workspace(client_as, session):
    from app.ingest.pipeline import run_batch
    from app.services import uploads as svc
    from app.settings import get_settings
    from tests.upload_files import UNMAPPED_CSV

    alpha = client_as("admin", "alpha")
    bravo = client_as("admin", "bravo")
    incoming = [svc.IncomingFile("tickets.csv", io.BytesIO(UNMAPPED_CSV))]
    upload = svc.create_batch(session, alpha.workspace_id, incoming, get_settings())
    run_batch(upload.id)
    theirs = session.scalars(select(Document).where(Document.workspace_id == alpha.workspace_id)).one()
    assert theirs.status == "needs_mapping"
    # A batch of bravo's whose item names alpha's document (the web never makes one; a task must not
    # trust that): the task refuses to read or change it.
    forged = ImportBatch(workspace_id=bravo.workspace_id, source="mapping", state="queued", total_files=1)
    forged.items.append(
        ImportItem(position=0, filename="tickets.csv", sha256=theirs.sha256, size_bytes=theirs.size_bytes,
                   document_id=theirs.id, status="pending")
    )  # fmt: skip
    session.add(forged)
    session.execute(
        update(Document)
        .where(Document.id == theirs.id)
        .values(column_mapping={"input": "Ticket text", "output": "Our verdict"})
    )
    session.commit()
    run_batch(forged.id)

    session.expire_all()
    item = session.get(ImportBatch, forged.id).items[0]
    assert item.status == "failed" and "outside this workspace" in item.message
    assert item.document_id is None
    assert session.get(ImportBatch, forged.id).state == "done"
    theirs = session.get(Document, theirs.id)
    assert theirs.status == "needs_mapping" and theirs.example_count == 0
    assert _count(session, Example) == 0
    assert _count(session, Document, Document.workspace_id == bravo.workspace_id) == 0


def test_the_audit_log_notes_uploads_deletions_exports_and_downloads(client_as, session):
    from app.ingest.pipeline import run_batch

    editor = client_as("editor", "sales", email="eve@example.com")
    admin = client_as("admin", "sales", email="ada@example.com")
    ws = editor.workspace_id
    batch = editor.post("/api/uploads", files=[("files", ("report.txt", REPORT_TXT, "text/plain"))]).json()
    editor.post("/upload/text", data={"title": "Call notes", "text": "Dear client, noted."})
    editor.post("/api/sample-data")
    run_batch(batch["id"])
    document_id = session.scalars(select(Document.id).where(Document.workspace_id == ws)).first()
    assert editor.get(f"/api/documents/{document_id}/original").status_code == 200
    ids = add_examples(session, ws, [{}, {}])
    dataset = editor.post("/api/datasets", json={"name": "Board", "example_ids": ids}).json()
    assert editor.post(f"/datasets/{dataset['id']}/snapshots", headers=HTMX).status_code == 200
    assert editor.get(f"/datasets/{dataset['id']}/export?format=csv").status_code == 200
    assert admin.delete(f"/api/examples/{ids[0]}").status_code == 204
    assert admin.post(f"/datasets/{dataset['id']}/delete", follow_redirects=False).status_code == 303

    events = _events(session, ws)
    eve, ada = editor.user_id, admin.user_id
    assert events == [
        ("upload", "report.txt", eve),
        ("paste", "Call notes.txt", eve),
        ("sample_data", events[2][1], eve),
        ("download_original", "report.txt", eve),
        ("create_dataset", "Board", eve),
        ("freeze_snapshot", "Board", eve),
        ("export", "Board", eve),
        ("delete_examples", "1 example", ada),
        ("delete_dataset", "Board", ada),
    ]
    assert events[2][1].endswith(" files")
    detail = session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "upload")).one()
    assert detail == {"batch": batch["id"], "files": 1}
    # Another workspace's log stays empty of it.
    other = client_as("admin", "legal")
    assert _events(session, other.workspace_id) == []
    # The audit page names each action in words.
    page = admin.get(f"/workspaces/{ws}/audit").text
    for label in ("Uploaded files", "Pasted text", "Loaded the sample data", "Froze a dataset snapshot"):
        assert label in page


def test_pages_offer_only_what_the_role_may_do(client_as, session):
    reviewer = client_as("reviewer", "sales")
    editor = client_as("editor", "sales")
    admin = client_as("admin", "sales")
    ids = add_examples(session, reviewer.workspace_id, [{}, {}])
    dataset = Dataset(workspace_id=reviewer.workspace_id, name="Board")
    session.add(dataset)
    session.commit()

    seen = {who: c.get("/examples").text for who, c in (("r", reviewer), ("e", editor), ("a", admin))}
    assert 'id="bulk-form"' not in seen["r"] and "edit-btn" not in seen["r"] and "row-select" not in seen["r"]
    assert 'hx-post="/examples/' not in seen["r"]
    assert 'id="bulk-form"' in seen["e"] and "edit-btn" in seen["e"] and 'value="delete"' not in seen["e"]
    assert 'value="delete"' in seen["a"]
    row = reviewer.get(f"/examples/{ids[0]}/row", headers=HTMX).text
    assert "Included" in row and "hx-post" not in row

    detail = {who: c.get(f"/datasets/{dataset.id}").text for who, c in (("r", reviewer), ("e", editor))}
    assert "Freeze snapshot" not in detail["r"] and "/rename" not in detail["r"]
    assert "Export CSV" in detail["r"]
    assert "Freeze snapshot" in detail["e"] and "/rename" in detail["e"] and "/delete" not in detail["e"]
    assert f'hx-post="/datasets/{dataset.id}/delete"' in admin.get(f"/datasets/{dataset.id}").text
    assert "Create a dataset" not in reviewer.get("/datasets").text
    assert "Create a dataset" in editor.get("/datasets").text

    upload = reviewer.get("/upload").text
    assert 'id="upload-form"' not in upload and "You are a reviewer in Sales" in upload
    assert 'id="upload-form"' in editor.get("/upload").text
