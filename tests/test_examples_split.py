"""Split: an example too long for the model becomes parts that fit, from its row, the health panel and the
API (one service function); and the launch check warns when a dataset is longer than the chosen model reads.

The test install has no tokenizer downloaded, so tokens are the estimate (4 characters a token) and the
context is LASTMILE_CONTEXT_TOKENS' default, 2,048 tokens.
"""

from sqlalchemy import select

from app.models import AuditEvent, DatasetExample, Example
from app.services import datasets, runs
from app.services.datasets import create_dataset
from app.services.health import refresh_health
from tests.examples_data import add_examples
from tests.run_helpers import make_dataset, register_tiny

PARAGRAPHS = [
    f"Paragraph {n} of the annual review. " + "Volumes grew in every region again. " * 25 for n in range(12)
]
LONG_REPORT = "\n\n".join(p.strip() for p in PARAGRAPHS)  # about 11,000 characters: 2,800 tokens or so
LONG = {"instruction": "Write the report: Annual review", "output": LONG_REPORT, "tags": ["reports"]}


def add_long(session, workspace_id, **fields) -> int:
    """One over-long example (flags refreshed); its id."""
    [example_id] = add_examples(session, workspace_id, [{**LONG, **fields}])
    refresh_health(session, workspace_id)
    return example_id


def test_the_api_replaces_a_long_example_by_parts_that_keep_its_settings(client, session, workspace_id):
    """The parts keep the kind, tags, split, source and datasets; the text is cut between paragraphs."""
    long_id = add_long(session, workspace_id, split="heldout", split_locked=True)
    dataset = create_dataset(session, workspace_id, "Reports", example_ids=[long_id])
    assert "too_long" in [f["code"] for f in client.get(f"/api/examples/{long_id}").json()["flags"]]

    response = client.post(f"/api/examples/{long_id}/split")
    assert response.status_code == 200, response.text
    body = response.json()
    parts = body["examples"]
    count = len(parts)
    assert count >= 2 and body["message"] == f"Split 1 example into {count} parts that fit the model."
    assert [p["instruction"] for p in parts] == [
        f"Write the report: Annual review (part {n} of {count})" for n in range(1, count + 1)
    ]
    assert "\n\n".join(p["output"] for p in parts) == LONG_REPORT
    for part in parts:
        assert part["tags"] == ["reports"] and part["kind"] == "draft"
        assert (part["split"], part["split_locked"], part["included"]) == ("heldout", True, True)
        assert part["prompt_tokens"] + part["output_tokens"] + 32 <= 2048
        assert part["source_ref"].startswith("part ")
    assert client.get(f"/api/examples/{long_id}").status_code == 404
    members = session.scalars(
        select(DatasetExample.example_id).where(DatasetExample.dataset_id == dataset.id)
    )
    assert sorted(members) == sorted(p["id"] for p in parts)
    codes = [f["code"] for p in parts for f in client.get(f"/api/examples/{p['id']}").json()["flags"]]
    assert "too_long" not in codes
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.action == "split_examples"))


def test_the_api_says_why_an_example_cannot_be_split(client, session, workspace_id):
    """An example that fits, or whose input alone is too long, is left as it is with a reason (422)."""
    [short_id] = add_examples(session, workspace_id, [{}])
    response = client.post(f"/api/examples/{short_id}/split")
    assert response.status_code == 422 and "already fits the model" in response.text
    long_input_id = add_long(session, workspace_id, input=LONG_REPORT, output="Noted, thank you.")
    response = client.post(f"/api/examples/{long_input_id}/split")
    assert response.status_code == 422
    assert "only the output can be split. Shorten the input" in response.text
    assert client.get(f"/api/examples/{long_input_id}").status_code == 200
    assert client.post("/api/examples/999999/split").status_code == 404


def test_split_is_for_editors_of_the_workspace_only(client_as, session, workspace_id):
    """A reviewer may not split; another workspace's editor finds no such example."""
    long_id = add_long(session, workspace_id)
    assert client_as("reviewer").post(f"/api/examples/{long_id}/split").status_code == 403
    assert (
        client_as("editor", workspace="elsewhere").post(f"/api/examples/{long_id}/split").status_code == 404
    )
    assert session.get(Example, long_id) is not None


def test_the_row_offers_split_beside_exclude_and_shows_the_parts(client, session, workspace_id):
    """A flagged row has a Split button; pressing it swaps the row for the parts' rows."""
    long_id = add_long(session, workspace_id)
    [short_id] = add_examples(session, workspace_id, [{}])
    refresh_health(session, workspace_id)
    page = client.get("/examples").text
    assert f'hx-post="/examples/{long_id}/split"' in page
    assert f'hx-post="/examples/{short_id}/split"' not in page
    assert f'hx-post="/examples/{long_id}/included"' in page  # Exclude, beside it

    response = client.post(f"/examples/{long_id}/split", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "health-changed"
    part_ids = session.scalars(select(Example.id).where(Example.id != short_id).order_by(Example.id)).all()
    assert len(part_ids) >= 2 and long_id not in part_ids
    for part_id in part_ids:
        assert f'id="example-{part_id}"' in response.text
    assert f"Split 1 example into {len(part_ids)} parts that fit the model." in response.text
    assert "(part 1 of" in response.text

    refused = client.post(f"/examples/{short_id}/split", headers={"HX-Request": "true"})
    assert refused.status_code == 200 and "already fits the model" in refused.text
    assert f'id="example-{short_id}"' in refused.text


def test_the_health_panel_splits_every_long_example_at_once(client, session, workspace_id):
    """The too-long finding has Split beside Exclude; the JSON API does the same."""
    add_long(session, workspace_id)
    add_long(session, workspace_id, instruction="Write the report: Second review")
    add_examples(session, workspace_id, [{}])
    refresh_health(session, workspace_id)
    panel = client.get("/examples/health").text
    assert "2 examples are longer than 2,048 tokens" in panel
    assert 'hx-post="/examples/health/split-long"' in panel and "Split them (2)" in panel
    assert 'name="code" value="too_long"' in panel  # Exclude (2) stays beside it

    response = client.post("/examples/health/split-long", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "examples-changed"
    assert "Split 2 examples into" in response.text and "longer than 2,048 tokens" not in response.text

    add_long(session, workspace_id, instruction="Write the report: Third review")
    body = client.post("/api/health/split-long").json()
    assert body["split"] == 1 and body["parts"] >= 2
    assert "too_long" not in [f["code"] for f in body["health"]["findings"]]
    assert client.post("/api/health/split-long").json()["message"].startswith("No example was split")


def test_the_launch_check_warns_when_examples_are_longer_than_the_models_context(
    client, session, workspace_id
):
    """Trained on a model with a shorter context than the examples need, the launch page says so."""
    model = register_tiny(session)  # reads at most 512 tokens
    dataset = make_dataset(session, workspace_id, n_train=8, n_heldout=2)
    check = runs.launch_check(session, workspace_id, dataset.id, model.id)
    assert not [w for w in check.warnings if "split them" in w]
    long_ids = add_examples(session, workspace_id, [LONG, {**LONG, "instruction": "Write the report: Other"}])
    datasets.add_examples(session, workspace_id, dataset, long_ids)
    session.commit()
    check = runs.launch_check(session, workspace_id, dataset.id, model.id)
    assert (
        "2 examples are longer than Tiny test model's 512 tokens: split them or they will be cut "
        "(Split is on the examples page, beside each one and in the health panel)."
    ) in check.warnings
    form = {"dataset_id": dataset.id, "base_model_id": model.id, "preset": "balanced"}
    box = client.post("/runs/estimate", data=form).text
    assert (
        "2 examples are longer than Tiny test model&#39;s 512 tokens: split them or they will be cut" in box
    )
