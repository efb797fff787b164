"""Dataset pages: list, create (included, kind, tag, examples filter), page, snapshots, rename, delete."""

import re

from sqlalchemy import select

from app.models import Dataset, DatasetExample
from app.services.datasets import create_dataset
from tests.examples_data import add_examples, add_workspace

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


def members(session, dataset_id):
    session.expire_all()
    stmt = select(DatasetExample.example_id).where(DatasetExample.dataset_id == dataset_id)
    return sorted(session.scalars(stmt))


def create(client, **fields):
    return client.post("/datasets", data=fields, follow_redirects=False)


def test_create_from_included_kind_tag_and_filter(client, session, workspace_id):
    ids = add_examples(
        session,
        workspace_id,
        [{"kind": "classify", "output": "spam", "tags": ["mail"]}, {"tags": ["mail"]}, {"included": False}],
    )
    response = create(client, name="Everything", source="included")
    assert response.status_code == 303
    dataset_id = int(re.search(r"/datasets/(\d+)", response.headers["location"]).group(1))
    assert members(session, dataset_id) == ids[:2]
    kind = create(client, name="Classes", source="kind", kind="classify")
    assert members(session, int(kind.headers["location"].split("/")[2].split("?")[0])) == [ids[0]]
    tag = create(client, name="Mail", source="tag", tag="mail")
    assert members(session, int(tag.headers["location"].split("/")[2].split("?")[0])) == ids[:2]
    from_filter = create(client, name="Filtered", source="filter", q="reply number 1")
    assert members(session, int(from_filter.headers["location"].split("/")[2].split("?")[0])) == [ids[1]]
    empty = create(client, name="Empty", source="none")
    assert members(session, int(empty.headers["location"].split("/")[2].split("?")[0])) == []


def test_taken_name_shows_the_form_again_with_the_reason(client, session, workspace_id):
    create(client, name="Replies", source="none")
    response = create(client, name="Replies", source="included", description="kept text")
    assert response.status_code == 422
    assert "A dataset called “Replies” already exists. Choose another name." in response.text
    assert "kept text" in response.text
    assert len(session.scalars(select(Dataset)).all()) == 1


def test_new_page_from_examples_filter(client, session, workspace_id):
    add_examples(session, workspace_id, [{"kind": "classify", "output": "spam"}, {}, {}])
    examples = client.get("/examples", params={"kind": "draft"}).text
    assert 'href="/datasets/new?kind=draft"' in examples
    assert "Create a dataset from these 2 examples" in examples
    page = client.get("/datasets/new", params={"kind": "draft"}).text
    assert "Create a dataset from these 2 examples" in page
    assert 'name="kind" value="draft"' in page and 'name="source" value="filter"' in page


def test_list_and_dataset_page(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {"split": "heldout"}, {}])
    dataset = create_dataset(session, workspace_id, "Board", "Minutes", ids[:2])
    listing = client.get("/datasets").text
    assert f'href="/datasets/{dataset.id}"' in listing and "1 / 1" in listing and "None yet" in listing
    page = client.get(f"/datasets/{dataset.id}").text
    assert sorted(int(i) for i in re.findall(r'<tr id="example-(\d+)"', page)) == ids[:2]
    assert f'name="dataset" value="{dataset.id}"' in page
    assert 'value="remove_from_dataset"' in page
    assert f'hx-get="/datasets/{dataset.id}/health"' in page
    health = client.get(f"/datasets/{dataset.id}/health").text
    assert "2 of 2 examples included" in health
    # The dataset's table partial stays on the dataset (no URL push, its own refresh URL).
    partial = client.get("/examples/table", params={"dataset": dataset.id, "embedded": "1"}).text
    assert 'hx-push-url="false"' in partial or "pagination" not in partial
    assert 'name="embedded" value="1"' in partial


def test_remove_examples_from_the_dataset_page(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {}])
    dataset = create_dataset(session, workspace_id, "Board", "", ids)
    response = client.post(
        "/examples/bulk",
        data={
            "action": "remove_from_dataset",
            "remove_dataset": str(dataset.id),
            "ids": [str(ids[0])],
            "dataset": str(dataset.id),
            "embedded": "1",
        },
    )
    assert "Removed 1 example from “Board”." in response.text
    assert members(session, dataset.id) == [ids[1]]
    assert re.findall(r'<tr id="example-(\d+)"', response.text) == [str(ids[1])]


def test_freeze_snapshot_partial_and_exports(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {}])
    dataset = create_dataset(session, workspace_id, "Board 2024", "", ids)
    first = client.post(f"/datasets/{dataset.id}/snapshots").text
    sha = re.search(r'<code class="hash" title="([0-9a-f]{64})">', first).group(1)
    assert f"Snapshot {sha[:12]} frozen with 2 examples." in first
    again = client.post(f"/datasets/{dataset.id}/snapshots").text
    assert f"Nothing changed since snapshot {sha[:12]}" in again
    assert again.count('<code class="hash"') == 1
    csv = client.get(f"/datasets/{dataset.id}/export", params={"format": "csv"})
    assert csv.headers["content-disposition"] == 'attachment; filename="board-2024.csv"'
    assert csv.text.splitlines()[0].startswith("instruction,input,output")


def test_rename_and_delete(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}])
    dataset = create_dataset(session, workspace_id, "Old", "", ids)
    dataset_id = dataset.id
    create_dataset(session, workspace_id, "Taken", "")
    refused = client.post(f"/datasets/{dataset.id}/rename", data={"name": "Taken", "description": ""})
    assert refused.status_code == 422 and "already exists" in refused.text
    renamed = client.post(f"/datasets/{dataset.id}/rename", data={"name": "New", "description": "d"})
    assert renamed.status_code == 200 and "Saved." in renamed.text and "<h1>New</h1>" in renamed.text
    page = client.get(f"/datasets/{dataset.id}").text
    assert "hx-confirm=" in page.split(f'hx-post="/datasets/{dataset.id}/delete"')[1].split(">")[0]
    deleted = client.post(
        f"/datasets/{dataset.id}/delete", headers={"HX-Request": "true"}, follow_redirects=False
    )
    assert deleted.headers["HX-Redirect"] == "/datasets"
    session.expire_all()
    assert session.get(Dataset, dataset_id) is None
    assert client.get(f"/datasets/{dataset_id}").status_code == 404


def test_names_and_descriptions_are_escaped(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}])
    dataset = create_dataset(session, workspace_id, XSS, XSS, ids)
    for html in (
        client.get("/datasets").text,
        client.get(f"/datasets/{dataset.id}").text,
        client.get("/examples").text,
        client.get("/examples", params={"dataset": dataset.id}).text,
    ):
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html


def test_another_workspaces_dataset_page_is_not_found(client, session, workspace_id):
    other = add_workspace(session)
    theirs = create_dataset(session, other, "Their secret plans", "")
    for response in (
        client.get(f"/datasets/{theirs.id}"),
        client.get(f"/datasets/{theirs.id}/health"),
        client.get(f"/datasets/{theirs.id}/export"),
        client.post(f"/datasets/{theirs.id}/snapshots"),
        client.post(f"/datasets/{theirs.id}/rename", data={"name": "x"}),
        client.post(f"/datasets/{theirs.id}/delete"),
        client.get("/examples", params={"dataset": theirs.id}),
    ):
        assert response.status_code == 404
        assert "Their secret plans" not in response.text
    session.expire_all()
    assert session.get(Dataset, theirs.id).name == "Their secret plans"
