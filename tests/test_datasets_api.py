"""JSON API for datasets: create, list, rename, membership, snapshots (deterministic), export, isolation."""

import csv
import io
import json

from sqlalchemy import select

from app.models import DatasetSnapshot
from app.settings import get_settings
from tests.examples_data import add_examples, add_workspace

FORMULA = '=HYPERLINK("http://evil.example","click")'


def test_create_from_ids_and_filter_and_unique_names(client, session, workspace_id):
    ids = add_examples(
        session, workspace_id, [{"kind": "classify", "output": "spam"}, {}, {"included": False}]
    )
    by_ids = client.post("/api/datasets", json={"name": "  Support   replies ", "example_ids": ids[:2]})
    assert by_ids.status_code == 201, by_ids.text
    assert by_ids.json()["name"] == "Support replies" and by_ids.json()["examples"] == 2
    by_filter = client.post(
        "/api/datasets", json={"name": "Drafts", "filter": {"kind": "draft", "included": True}}
    )
    assert by_filter.json()["examples"] == 1 and by_filter.json()["train"] == 1
    taken = client.post("/api/datasets", json={"name": "Drafts"})
    assert taken.status_code == 422
    assert taken.json()["detail"][0]["loc"] == ["body", "name"]
    assert "already exists" in taken.json()["detail"][0]["msg"]
    empty = client.post("/api/datasets", json={"name": "  "})
    assert empty.json()["detail"][0]["loc"] == ["body", "name"]
    names = [d["name"] for d in client.get("/api/datasets").json()]
    assert names == ["Drafts", "Support replies"]


def test_rename_membership_and_delete(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {}, {}])
    first = client.post("/api/datasets", json={"name": "A"}).json()
    client.post("/api/datasets", json={"name": "B"})
    url = f"/api/datasets/{first['id']}"
    assert client.patch(url, json={"name": "B"}).status_code == 422
    assert client.patch(url, json={"name": "Renamed", "description": "For tests"}).json()["name"] == "Renamed"
    added = client.post(f"{url}/examples", json={"ids": [*ids, ids[0]]}).json()
    assert added["changed"] == 3 and added["dataset"]["examples"] == 3
    assert client.post(f"{url}/examples", json={"ids": ids}).json()["changed"] == 0
    removed = client.post(f"{url}/examples/remove", json={"ids": [ids[0]]}).json()
    assert removed["changed"] == 1 and removed["dataset"]["examples"] == 2
    detail = client.get(url).json()
    assert detail["description"] == "For tests" and detail["snapshots"] == []
    assert any(f["code"].startswith("count_") for f in detail["health"]["findings"])
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    # The examples stay.
    assert client.get("/api/examples").json()["total"] == 3


def test_snapshot_is_deterministic_and_changes_with_content(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {}, {"included": False}])
    dataset = client.post("/api/datasets", json={"name": "Frozen", "example_ids": ids}).json()
    url = f"/api/datasets/{dataset['id']}/snapshots"
    first = client.post(url)
    assert first.status_code == 201 and first.json()["created"] is True
    assert first.json()["example_count"] == 2  # the excluded example is not frozen
    again = client.post(url)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["sha256"] == first.json()["sha256"]
    sha = first.json()["sha256"]
    path = get_settings().snapshots_dir / f"{sha}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids[:2]
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    client.patch(f"/api/examples/{ids[0]}", json={"output": "A changed answer that is long enough to keep."})
    edited = client.post(url).json()
    assert edited["created"] is True and edited["sha256"] != sha
    assert [s["sha256"] for s in client.get(url).json()] == [edited["sha256"], sha]
    assert client.get("/api/datasets").json()[0]["last_snapshot"]["sha256"] == edited["sha256"]
    assert len(session.scalars(select(DatasetSnapshot)).all()) == 2


def test_snapshot_of_empty_dataset_is_refused(client):
    dataset = client.post("/api/datasets", json={"name": "Empty"}).json()
    response = client.post(f"/api/datasets/{dataset['id']}/snapshots")
    assert response.status_code == 409
    assert "no included examples" in response.json()["detail"]


def test_exports_jsonl_and_neutralised_csv(client, session, workspace_id):
    ids = add_examples(
        session, workspace_id, [{"instruction": FORMULA, "output": "-2+3 is the answer we give, always."}, {}]
    )
    dataset = client.post("/api/datasets", json={"name": "Export me", "example_ids": ids}).json()
    url = f"/api/datasets/{dataset['id']}/export"
    jsonl = client.get(url, params={"format": "jsonl"})
    assert jsonl.headers["content-disposition"] == 'attachment; filename="export-me.jsonl"'
    assert json.loads(jsonl.text.splitlines()[0])["instruction"] == FORMULA
    exported = client.get(url, params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["instruction"] == "'" + FORMULA
    assert rows[0]["output"].startswith("'-2+3")
    assert client.get(url, params={"format": "xlsx"}).status_code == 422


def test_another_workspaces_dataset_is_not_found(client, session, workspace_id):
    other = add_workspace(session)
    [foreign_example] = add_examples(session, other, [{}])
    from app.services.datasets import create_dataset

    foreign = create_dataset(session, other, "Theirs", "", [foreign_example])
    url = f"/api/datasets/{foreign.id}"
    assert client.get(url).status_code == 404
    assert client.patch(url, json={"name": "Mine"}).status_code == 404
    assert client.delete(url).status_code == 404
    assert client.post(f"{url}/snapshots").status_code == 404
    assert client.get(f"{url}/export").status_code == 404
    assert client.get("/api/datasets").json() == []
    # Another workspace's example cannot be linked into my dataset either.
    mine = client.post("/api/datasets", json={"name": "Mine", "example_ids": [foreign_example]}).json()
    assert mine["examples"] == 0
    assert (
        client.post(f"/api/datasets/{mine['id']}/examples", json={"ids": [foreign_example]}).json()["changed"]
        == 0
    )
