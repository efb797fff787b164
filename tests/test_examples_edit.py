"""Inline editing: save recomputes hash, tokens and flags; validation names the field; splits lock."""

from sqlalchemy import select

from app.curation.normalise import content_hash
from app.models import Example, ExampleFlag
from app.services.health import refresh_health
from tests.examples_data import add_examples, add_workspace

SAME = "The board approved the new budget and asked for a report by Friday."


def form(**overrides):
    """A full inline-edit form submission."""
    values = {
        "instruction": "Write the board summary",
        "input": "",
        "output": "A different, complete answer about the budget approval and next steps.",
        "kind": "draft",
        "tags": "",
        "split": "auto",
    }
    return values | overrides


def flags_of(session, example_id):
    session.expire_all()
    return set(session.scalars(select(ExampleFlag.code).where(ExampleFlag.example_id == example_id)))


def test_save_recomputes_hash_tokens_and_flags(client, session, workspace_id):
    ids = add_examples(
        session,
        workspace_id,
        [{"instruction": "Summarise", "output": SAME}, {"instruction": "Summarise", "output": SAME}],
    )
    refresh_health(session, workspace_id)
    assert "duplicate" in flags_of(session, ids[1])

    response = client.post(f"/examples/{ids[1]}", data=form(tags="board, finance ,board"))
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "health-changed"
    assert f'id="example-{ids[1]}"' in response.text and "edit-form" not in response.text
    session.expire_all()
    example = session.get(Example, ids[1])
    assert example.content_hash == content_hash("Write the board summary", "", form()["output"])
    assert example.output_tokens == -(-len(form()["output"]) // 4)
    assert sorted(t.tag for t in example.tags) == ["board", "finance"]
    # The copy is gone, so neither example is a duplicate any more.
    assert "duplicate" not in flags_of(session, ids[1])
    assert "duplicate" not in flags_of(session, ids[0])


def test_save_refuses_empty_fields_and_keeps_what_was_typed(client, session, workspace_id):
    [example_id] = add_examples(session, workspace_id, [{}])
    before = session.get(Example, example_id).output
    response = client.post(f"/examples/{example_id}", data=form(instruction="Keep this text", output="   "))
    assert response.status_code == 200
    assert "The output is empty" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Keep this text" in response.text
    session.expire_all()
    assert session.get(Example, example_id).output == before


def test_edit_and_cancel_partials(client, session, workspace_id):
    [example_id] = add_examples(session, workspace_id, [{"tags": ["b", "a"]}])
    edit = client.get(f"/examples/{example_id}/edit")
    assert 'name="instruction"' in edit.text and 'value="a, b"' in edit.text
    assert f'hx-get="/examples/{example_id}/row"' in edit.text  # Cancel
    row = client.get(f"/examples/{example_id}/row")
    assert "edit-form" not in row.text and "Write reply number 0" in row.text


def test_split_choice_locks_and_auto_unlocks(client, session, workspace_id):
    [example_id] = add_examples(session, workspace_id, [{}])
    # Saving with the split left on "automatic" must not lock it.
    client.post(f"/examples/{example_id}", data=form())
    session.expire_all()
    assert session.get(Example, example_id).split_locked is False
    client.post(f"/examples/{example_id}", data=form(split="heldout"))
    session.expire_all()
    example = session.get(Example, example_id)
    assert (example.split, example.split_locked) == ("heldout", True)
    client.post(f"/examples/{example_id}", data=form(split="auto"))
    session.expire_all()
    assert session.get(Example, example_id).split_locked is False


def test_include_toggle(client, session, workspace_id):
    [example_id] = add_examples(session, workspace_id, [{}])
    response = client.post(f"/examples/{example_id}/included")
    assert 'aria-checked="false"' in response.text and "is-excluded" in response.text
    session.expire_all()
    assert session.get(Example, example_id).included is False
    response = client.post(f"/examples/{example_id}/included")
    assert 'aria-checked="true"' in response.text
    session.expire_all()
    assert session.get(Example, example_id).included is True


def test_another_workspaces_example_is_not_found(client, session, workspace_id):
    other = add_workspace(session)
    [foreign] = add_examples(session, other, [{"instruction": "Secret of the other team"}])
    for response in (
        client.get(f"/examples/{foreign}/edit"),
        client.get(f"/examples/{foreign}/row"),
        client.post(f"/examples/{foreign}", data=form()),
        client.post(f"/examples/{foreign}/included"),
    ):
        assert response.status_code == 404
        assert "Secret" not in response.text
    assert "does not exist in this workspace" in client.get(f"/examples/{foreign}/edit").text
    session.expire_all()
    assert session.get(Example, foreign).included is True


def test_quick_recheck_flags_the_edited_example_before_the_workspace_refresh(session, workspace_id, env):
    from app.services.examples import ExampleChanges, get_example, token_counter, update_example
    from app.services.health import refresh_example_flags

    ids = add_examples(session, workspace_id, [{"instruction": "Summarise", "output": SAME}, {}])
    example = get_example(session, workspace_id, ids[1])
    update_example(example, ExampleChanges(instruction="Summarise", output=SAME), token_counter())
    session.commit()
    refresh_example_flags(session, workspace_id, ids[1])
    # The edited example knows at once that it copies another; the other one waits for the full refresh.
    assert flags_of(session, ids[1]) == {"duplicate"}
    assert flags_of(session, ids[0]) == set()
    refresh_health(session, workspace_id)
    assert flags_of(session, ids[0]) == {"duplicate"}
