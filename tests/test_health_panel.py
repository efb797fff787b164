"""The health panel and its one-click fixes, and refresh_health's stored flags and automatic split."""

from sqlalchemy import func, select

from app.curation.normalise import content_hash
from app.models import Example, ExampleFlag
from app.services.health import refresh_health
from tests.examples_data import add_examples, bulk_examples

REPORT = "The quarterly review shows revenue up four percent and two new clients signed in March."
DUP = {"instruction": "Summarise the quarterly review", "output": REPORT}


def fix(client, code):
    response = client.post("/examples/health/fix", data={"code": code}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response


def state(session, ids):
    session.expire_all()
    rows = session.execute(
        select(Example.id, Example.included, Example.split).where(Example.id.in_(ids)).order_by(Example.id)
    )
    return [(included, split) for _, included, split in rows]


def test_panel_shows_counts_token_check_findings_and_links(client, session, workspace_id):
    add_examples(session, workspace_id, [DUP, DUP, {"output": ""}])
    refresh_health(session, workspace_id)
    html = client.get("/examples/health").text
    assert "good example; 100 recommended for drafting" in html
    assert "of the 2,048 tokens" in html and "estimated" in html
    assert 'href="/examples?flag=duplicate"' in html
    assert 'name="code" value="duplicate"' in html
    assert "Must fix" in html  # the empty output is an error
    # The page loads the panel as its own partial and refreshes it when examples change.
    page = client.get("/examples").text
    assert 'hx-get="/examples/health"' in page and "health-changed from:body" in page


def test_exclude_duplicates_keeps_the_first(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [DUP] * 3 + [{}])
    refresh_health(session, workspace_id)
    response = fix(client, "duplicate")
    assert "Excluded 2 duplicate examples from training." in response.text
    assert response.headers["HX-Trigger"] == "examples-changed"
    assert state(session, ids)[:3] == [(True, "train"), (False, "train"), (False, "train")]
    assert (
        session.scalar(select(func.count()).select_from(ExampleFlag).where(ExampleFlag.code == "duplicate"))
        == 0
    )


def test_exclude_empty_outputs(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{"output": ""}, {}])
    fix(client, "empty_output")
    assert [included for included, _ in state(session, ids)] == [False, True]


def test_redact_personal_data_recomputes_hash(client, session, workspace_id):
    [example_id] = add_examples(
        session, workspace_id, [{"output": "Write to anna.berg@example.com or call +44 20 7946 0958 today."}]
    )
    refresh_health(session, workspace_id)
    response = fix(client, "pii")
    assert "Replaced personal data by placeholders in 1 example." in response.text
    session.expire_all()
    example = session.get(Example, example_id)
    assert "anna.berg@example.com" not in example.output and "[EMAIL]" in example.output
    assert example.content_hash == content_hash(example.instruction, example.input, example.output)
    assert "pii" not in {f.code for f in example.flags}


def test_leakage_fix_excludes_the_train_copy(client, session, workspace_id):
    ids = add_examples(
        session,
        workspace_id,
        [{**DUP, "split": "heldout", "split_locked": True}, DUP, {}],
    )
    refresh_health(session, workspace_id)
    assert "leakage" in client.get("/examples/health").text
    fix(client, "leakage")
    assert state(session, ids) == [(True, "heldout"), (False, "train"), (True, "train")]
    assert 'class="badge badge-warn flag"' not in client.get("/examples").text
    assert "leakage" not in client.get("/examples/health").text


def test_auto_split_fix_holds_out_about_ten_percent_and_respects_locks(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [{"split": "train", "split_locked": True}])
    ids += bulk_examples(session, workspace_id, 59)[1:]
    assert len(ids) == 60
    response = fix(client, "no_heldout")
    assert "Split the examples automatically" in response.text
    splits = state(session, ids)
    assert sum(split == "heldout" for _, split in splits) == 6
    assert splits[0] == (True, "train")


def test_refresh_splits_a_fresh_import_and_stores_flags(session, workspace_id, env):
    ids = bulk_examples(session, workspace_id, 58)
    add_examples(session, workspace_id, [DUP, DUP])
    report = refresh_health(session, workspace_id)
    heldout = session.scalar(select(func.count()).where(Example.split == "heldout"))
    assert heldout == 6
    stored = session.execute(select(ExampleFlag.example_id, ExampleFlag.code)).all()
    assert {(i, f.code) for i, flags in report.flags.items() for f in flags} == set(stored)
    # The two copies are duplicates, or a leak when the automatic split held one of them out.
    assert any(code in ("duplicate", "leakage") for _, code in stored)
    # A second refresh keeps the split: held-out examples exist now.
    session.execute(Example.__table__.update().values(split="train").where(Example.id == ids[0]))
    session.commit()
    refresh_health(session, workspace_id)
    assert session.scalar(select(func.count()).where(Example.split == "heldout")) in (5, 6)


def test_stale_fix_says_so(client, session, workspace_id):
    add_examples(session, workspace_id, [{}])
    response = fix(client, "duplicate")
    assert "nothing to fix" in response.text


def test_api_health_and_fix(client, session, workspace_id):
    ids = add_examples(session, workspace_id, [DUP, DUP])
    body = client.get("/api/health").json()
    duplicate = next(f for f in body["findings"] if f["code"] == "duplicate")
    assert duplicate["fix"] == "exclude_duplicates" and duplicate["fix_ids"] == [ids[1]]
    assert duplicate["examples_url"] == "/examples?flag=duplicate"
    assert body["tokens_exact"] is False and body["context_tokens"] == 2048
    result = client.post("/api/health/fix", json={"code": "duplicate"})
    assert result.status_code == 200
    assert result.json()["changed"] == 1
    assert all(f["code"] != "duplicate" for f in result.json()["health"]["findings"])
    assert client.post("/api/health/fix", json={"code": "duplicate"}).status_code == 404
    assert client.post("/api/health/fix", json={}).json()["detail"][0]["loc"] == ["body", "code"]
