"""JSON API for examples: list with filters, create, read, patch, delete, bulk, validation and isolation."""

from app.curation.normalise import content_hash
from tests.examples_data import add_examples, add_workspace, bulk_examples

NEW = {
    "instruction": "Reply to the supplier",
    "input": "They ask to move the delivery to Monday.",
    "output": "Monday works for us; please confirm the new time slot by Friday.",
    "kind": "draft",
    "tags": ["suppliers"],
}


def test_list_filters_sort_and_pagination(client, session, workspace_id):
    ids = bulk_examples(session, workspace_id, 75)
    body = client.get("/api/examples", params={"sort": "oldest", "page": 2, "page_size": 50}).json()
    assert body["total"] == 75 and body["pages"] == 2 and body["page"] == 2
    assert [item["id"] for item in body["items"]] == ids[50:]
    searched = client.get("/api/examples", params={"q": "MEETING 7 AGREED"}).json()
    assert [item["id"] for item in searched["items"]] == [ids[7]]
    assert client.get("/api/examples", params={"included": "false"}).json()["total"] == 0


def test_list_validation_names_the_field(client):
    response = client.get("/api/examples", params={"kind": "poem"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "kind"]
    response = client.get("/api/examples", params={"flag": "bogus"})
    assert response.json()["detail"][0]["loc"] == ["query", "flag"]


def test_create_read_patch_delete(client):
    created = client.post("/api/examples", json=NEW)
    assert created.status_code == 201, created.text
    example = created.json()
    assert example["content_hash"] == content_hash(NEW["instruction"], NEW["input"], NEW["output"])
    assert example["tags"] == ["suppliers"] and example["source_file"] is None
    assert example["prompt_tokens"] > 0 and example["output_tokens"] > 0
    url = f"/api/examples/{example['id']}"
    assert client.get(url).json()["output"] == NEW["output"]

    patched = client.patch(url, json={"output": "Monday is fine.", "split": "heldout"}).json()
    assert patched["content_hash"] == content_hash(NEW["instruction"], NEW["input"], "Monday is fine.")
    assert patched["split"] == "heldout" and patched["split_locked"] is True
    assert [f["code"] for f in patched["flags"]] == ["short_output"]
    assert patched["instruction"] == NEW["instruction"]  # untouched fields stay

    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_create_and_patch_validation_name_fields(client, session, workspace_id):
    response = client.post("/api/examples", json={**NEW, "output": "  "})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "output"]
    response = client.post("/api/examples", json={**NEW, "kind": "poem"})
    assert response.json()["detail"][0]["loc"] == ["body", "kind"]
    response = client.post("/api/examples", json={**NEW, "colour": "red"})
    assert response.json()["detail"][0]["loc"] == ["body", "colour"]
    [example_id] = add_examples(session, workspace_id, [{}])
    response = client.patch(f"/api/examples/{example_id}", json={"instruction": ""})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "instruction"]


def test_bulk_by_ids_and_by_filter(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{"kind": "classify", "output": "spam"}, {}, {}])
    result = client.post("/api/examples/bulk", json={"action": "add_tag", "value": "checked", "ids": ids[:2]})
    assert result.json()["changed"] == 2
    result = client.post(
        "/api/examples/bulk", json={"action": "exclude", "filter": {"tag": "checked", "kind": "draft"}}
    ).json()
    assert result["matched"] == 1 and result["changed"] == 1
    assert client.get(f"/api/examples/{ids[1]}").json()["included"] is False
    both = client.post("/api/examples/bulk", json={"action": "exclude", "ids": ids, "filter": {}})
    assert both.status_code == 422
    bad = client.post("/api/examples/bulk", json={"action": "set_split", "value": "later", "ids": ids})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "value"]


def test_another_workspace_is_invisible(client, session, workspace_id):
    other = add_workspace(session)
    [foreign] = add_examples(session, other, [{}])
    add_examples(session, workspace_id, [{}])
    assert client.get(f"/api/examples/{foreign}").status_code == 404
    assert client.patch(f"/api/examples/{foreign}", json={"output": "hijacked"}).status_code == 404
    assert client.delete(f"/api/examples/{foreign}").status_code == 404
    assert client.get("/api/examples").json()["total"] == 1
    result = client.post("/api/examples/bulk", json={"action": "delete", "ids": [foreign]})
    assert result.status_code == 422
    assert client.get("/api/examples").json()["total"] == 1
