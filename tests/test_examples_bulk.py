"""Bulk actions from the examples page: chosen rows or every example matching the filter."""

from sqlalchemy import func, select

from app.models import Dataset, DatasetExample, Example, ExampleTag
from tests.examples_data import add_examples, add_workspace, bulk_examples


def post_bulk(client, action, ids=(), **fields):
    data = {"action": action, "ids": [str(i) for i in ids], **fields}
    return client.post("/examples/bulk", data=data, headers={"HX-Request": "true"})


def included(session, ids):
    session.expire_all()
    rows = session.execute(select(Example.id, Example.included).where(Example.id.in_(ids)))
    return dict(rows.all())


def test_include_exclude_selected(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {}, {}])
    response = post_bulk(client, "exclude", ids[:2])
    assert response.status_code == 200
    assert "Excluded 2 examples." in response.text
    assert response.headers["HX-Trigger"] == "health-changed"
    assert included(session, ids) == {ids[0]: False, ids[1]: False, ids[2]: True}
    post_bulk(client, "include", [ids[0]])
    assert included(session, ids)[ids[0]] is True


def test_all_matching_applies_to_the_filter_not_the_page(client, session, workspace_id):
    ids = bulk_examples(session, workspace_id, 120)
    add_examples(session, workspace_id, [{"kind": "classify", "output": "spam"}])
    response = post_bulk(client, "exclude", [ids[0]], all_matching="1", kind="draft", page="2")
    assert "Excluded 120 examples." in response.text
    session.expire_all()
    counts = dict(
        session.execute(
            select(Example.kind, func.count()).where(~Example.included).group_by(Example.kind)
        ).all()
    )
    assert counts == {"draft": 120}


def test_tags_add_and_remove(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{"tags": ["urgent"]}, {}])
    response = post_bulk(client, "add_tag", ids, tag_value=" urgent ")
    assert "Tagged 1 example “urgent”." in response.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ExampleTag).where(ExampleTag.tag == "urgent")) == 2
    post_bulk(client, "remove_tag", ids, tag_value="urgent")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ExampleTag)) == 0
    refused = post_bulk(client, "add_tag", ids, tag_value="  ")
    assert "Type the tag to add or remove." in refused.text


def test_set_split_locks(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {}])
    post_bulk(client, "set_split", ids, split_value="heldout")
    session.expire_all()
    rows = session.execute(select(Example.split, Example.split_locked).where(Example.id.in_(ids))).all()
    assert rows == [("heldout", True), ("heldout", True)]


def test_add_to_new_and_existing_dataset(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {}, {}])
    response = post_bulk(client, "add_to_dataset", ids[:2], dataset_value="", new_dataset_name="Replies")
    assert "Added 2 examples to “Replies”." in response.text
    dataset = session.scalar(select(Dataset).where(Dataset.name == "Replies"))
    post_bulk(client, "add_to_dataset", ids, dataset_value=str(dataset.id))
    members = session.scalars(
        select(DatasetExample.example_id).where(DatasetExample.dataset_id == dataset.id)
    )
    assert sorted(members) == ids
    taken = post_bulk(client, "add_to_dataset", ids, dataset_value="", new_dataset_name="Replies")
    assert "A dataset called “Replies” already exists" in taken.text


def test_delete_needs_confirmation_and_deletes(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{}, {}])
    page = client.get("/examples").text
    assert 'value="delete"' in page and "hx-confirm=" in page.split('value="delete"')[1].split(">")[0]
    response = post_bulk(client, "delete", [ids[0]])
    assert "Deleted 1 example." in response.text
    session.expire_all()
    assert session.scalars(select(Example.id)).all() == [ids[1]]


def test_nothing_selected_and_foreign_ids(client, session, workspace_id):
    other = add_workspace(session)
    [foreign] = add_examples(session, other, [{}])
    response = post_bulk(client, "delete", [])
    assert "No examples are selected" in response.text
    response = post_bulk(client, "delete", [foreign])
    assert "No examples are selected" in response.text
    session.expire_all()
    assert session.get(Example, foreign) is not None
