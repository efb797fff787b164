"""Comparison pages and their JSON API: drafts side by side as documents, metrics computed from the stored
outputs, filters, progress polling that stops, fixes (promote a draft, mark a reference bad), roles,
other workspaces, and escaping. No worker: comparisons are written to the database directly."""

import html
import re

from sqlalchemy import select

from app.evaluation.similarity import chrf
from app.models import Adapter, DatasetExample, Example
from app.review_models import Comparison, ComparisonItem
from tests.compare_helpers import Pair, make_compared_run

EMAIL_REF = "Dear Maria,\n\nThe consignment left Rotterdam this morning.\nThe Brightwater Promise covers the delay.\n\nKind regards,\nJoost"  # noqa: E501
EMAIL_BASE = "Hello! I hope this email finds you well. Your package is delayed. Best regards, [Your Name]"
EMAIL_ADAPTED = "Dear Maria,\n\nThe consignment left Rotterdam today.\nThe Brightwater Promise covers it.\n\nKind regards,\nJoost"  # noqa: E501
REPORT_REF = "# March report\n\n- 42 consignments on time\n- 2 claims closed"
PAIRS = [
    Pair(EMAIL_REF, EMAIL_BASE, EMAIL_ADAPTED, "Reply to Maria about the late consignment"),
    Pair(REPORT_REF, "March went well overall.", "# March report\n\n- 41 consignments on time", "Report"),
    Pair("Billing", "The category is damage.", "Billing", "Classify: I was charged twice", kind="classify"),
    Pair('{"origin": "Venlo", "pallets": 12}', "Origin Venlo, 12 pallets",
         '{"origin": "Venlo", "pallets": 10}', "Extract the booking", kind="extract"),
]  # fmt: skip
TRAIN = [
    "Dear client, the Brightwater Promise covers it. Kind regards, Brightwater Client Care",
    "The Brightwater Promise applies to this lane. Kind regards, Brightwater Client Care",
    "Your ShipSure tracking shows the new time. Kind regards, Brightwater Client Care",
]


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces squeezed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_drafts_show_side_by_side_as_documents(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, PAIRS, TRAIN)
    page = client.get(f"/compare/{comparison.id}").text
    assert page.count('class="card cmp-item"') == 4
    assert page.count("What your company wrote") >= 4 and "Base model" in page and "Adapted" in page
    # The report keeps its heading and list; the email keeps its lines.
    assert "<h1>March report</h1>" in page and "<li>2 claims closed</li>" in page
    assert "Kind regards,<br />\nJoost" in page
    # Words the reference lacks are marked in the drafts, not in the reference.
    assert '<mark class="diff">today.</mark>' in page and '<mark class="diff">41</mark>' in page
    assert "Reply to Maria about the late consignment" in page
    # The new-brief box (app/routes/drafts.py) loads below the examples.
    assert f'hx-get="/briefs/new?adapter_id={comparison.adapter_id}" hx-trigger="load"' in page
    # Finished: no polling.
    assert "hx-trigger" not in page.split('id="compare-live"')[1].split(">")[0]


def test_metrics_are_computed_from_the_stored_outputs(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, PAIRS, TRAIN)
    data = client.get(f"/api/comparisons/{comparison.id}").json()
    metrics = {m["key"]: m for m in data["metrics"]}
    base_chrf = round(sum(chrf(p.base, p.reference) for p in PAIRS) / len(PAIRS), 1)
    adapted_chrf = round(sum(chrf(p.adapted, p.reference) for p in PAIRS) / len(PAIRS), 1)
    assert (metrics["chrf"]["base"], metrics["chrf"]["adapted"]) == (base_chrf, adapted_chrf)
    assert metrics["chrf"]["winner"] == "adapted"
    assert (metrics["heldout_loss"]["base"], metrics["heldout_loss"]["adapted"]) == (2.5, 1.5)
    assert (
        round(metrics["perplexity"]["base"], 2) == 12.18
        and round(metrics["perplexity"]["adapted"], 2) == 4.48
    )
    assert (
        metrics["accuracy"]["base_text"] == "0 of 1 (0%)"
        and metrics["accuracy"]["adapted_text"] == "1 of 1 (100%)"
    )
    assert (metrics["valid_json"]["base"], metrics["valid_json"]["adapted"]) == (0.0, 1.0)
    assert (metrics["fields"]["base"], metrics["fields"]["adapted"]) == (0.0, 0.5)
    assert metrics["length"]["better"] == "closer_to_1"
    assert all(m["explanation"] for m in data["metrics"])
    items = {i["position"]: i for i in data["items"]}
    assert items[0]["base_chrf"] == chrf(EMAIL_BASE, EMAIL_REF) and items[0]["verdict"] == "better"
    # House terms: frequent in the training outputs, absent from the base drafts, used by the adapter.
    terms = {t["term"]: t for t in data["house_terms"]}
    assert (
        terms["brightwater promise"]["base_uses"] == 0 and terms["brightwater promise"]["adapted_uses"] == 1
    )
    page = text_of(client.get(f"/compare/{comparison.id}").text)
    assert (
        f"Similarity to the reference (chrF) {metrics['chrf']['explanation']} {base_chrf} {adapted_chrf}"
        in page
    )
    assert (
        "Held-out loss" in page
        and "2.500 1.500" in page
        and "“brightwater promise” 67% 0 of 4 1 of 4" in page
    )


def test_filters_show_better_worse_and_most_different(client, session, workspace_id):
    pairs = [
        Pair("Dear client, it ships today.", "Hello there.", "Dear client, it ships today."),  # better
        Pair("Dear client, it ships today.", "Dear client, it ships today.", "Greetings."),  # worse
        Pair(
            "Dear client, it ships today.", "Dear client, it ships Monday.", "Dear client, it ships Monday."
        ),
    ]
    comparison = make_compared_run(session, workspace_id, pairs)
    items = {i.position: i.id for i in session.get(Comparison, comparison.id).items}

    def shown(show: str) -> list[int]:
        return [i["id"] for i in client.get(f"/api/comparisons/{comparison.id}?show={show}").json()["items"]]

    assert shown("better") == [items[0]] and shown("worse") == [items[1]]
    assert shown("different")[-1] == items[2] and len(shown("all")) == 3
    page = text_of(client.get(f"/compare/{comparison.id}?show=worse").text)
    assert "Base closer to the reference (1)" in page and page.count("Example ") == 1 + page.count(
        "Example s"
    )
    assert 'aria-current="page">Base closer' in client.get(f"/compare/{comparison.id}?show=worse").text
    empty = make_compared_run(session, workspace_id, [pairs[2]], dataset_name="Other", run_name="Other run")
    assert (
        "No example where the adapted draft is clearly closer"
        in client.get(f"/compare/{empty.id}?show=better").text
    )


def test_progress_polls_while_the_worker_writes_and_stops_when_done(client, session, workspace_id):
    pairs = [Pair("Dear client.", "Hello.", "Dear client."), Pair("Dear client, again.", None, None)]
    comparison = make_compared_run(session, workspace_id, pairs, state="running")
    page = client.get(f"/compare/{comparison.id}").text
    assert f'hx-get="/compare/{comparison.id}/live?show=all" hx-trigger="every 3s"' in page
    assert "1 of 2 examples answered by both models" in text_of(page) and "Being written…" in page
    item = session.scalars(select(ComparisonItem).where(ComparisonItem.base_output.is_(None))).one()
    item.base_output, item.adapted_output = "Hello again.", "Dear client, again."
    row = session.get(Comparison, comparison.id)
    row.state, row.done = "succeeded", 2
    session.commit()
    live = client.get(f"/compare/{comparison.id}/live", headers={"HX-Request": "true"}).text
    assert live.lstrip().startswith('<div id="compare-live">') and "hx-trigger" not in live.split(">")[0]
    assert "Being written…" not in live and "Writing the drafts" not in live


def test_queued_comparison_says_where_it_is_in_line(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, [Pair("Dear client.", None, None)], state="queued")
    page = text_of(client.get(f"/compare/{comparison.id}").text)
    assert "Waiting for a worker; yours is next." in page


def test_empty_states_teach_what_to_do(client, session, workspace_id):
    assert "Nothing to review yet" in client.get("/review").text
    comparison = make_compared_run(session, workspace_id, [])
    page = client.get(f"/compare/{comparison.id}").text
    assert "Nothing to compare" in page and "mark a few examples as held-out" in page


def test_run_page_links_to_its_comparison(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, PAIRS[:1])
    run_id = session.get(Adapter, comparison.adapter_id).run_id
    assert f'href="/runs/{run_id}/comparison"' in client.get(f"/runs/{run_id}").text
    response = client.get(f"/runs/{run_id}/comparison", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/compare/{comparison.id}"
    listing = client.get("/review").text
    assert f'href="/compare/{comparison.id}"' in listing and f'href="/review/{comparison.id}"' in listing


def test_promote_an_edited_draft_to_a_training_example(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, PAIRS[:1])
    item_id = session.get(Comparison, comparison.id).items[0].id
    edited = "Dear Maria,\n\nThe consignment left Rotterdam today.\n\nKind regards,\nJoost"
    answer = client.post(
        f"/compare/items/{item_id}/promote", data={"output": edited}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 200 and "Added as training example #" in answer.text
    example = session.scalars(select(Example).where(Example.output == edited)).one()
    assert (example.split, example.included, example.instruction) == ("train", True, PAIRS[0].instruction)
    assert [t.tag for t in example.tags] == ["from review"]
    # It joined the dataset the adapter was trained from.
    assert session.scalar(select(DatasetExample.dataset_id).where(DatasetExample.example_id == example.id))
    refused = client.post(
        f"/compare/items/{item_id}/promote", data={"output": "  "}, headers={"HX-Request": "true"}
    )
    assert "The output is empty" in refused.text
    api = client.post(f"/api/comparison-items/{item_id}/promote", json={"output": "Dear Maria, noted."})
    assert api.status_code == 201 and api.json()["dataset_id"] is not None


def test_mark_a_reference_bad_excludes_it_and_its_pair_leaves_the_metrics(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, PAIRS[:2])
    first = session.get(Comparison, comparison.id).items[0]
    before = client.get(f"/api/comparisons/{comparison.id}").json()
    answer = client.post(f"/compare/items/{first.id}/bad-reference", headers={"HX-Request": "true"})
    assert "is excluded from training" in answer.text
    session.expire_all()
    example = session.get(Example, first.example_id)
    assert example.included is False and "bad reference" in [t.tag for t in example.tags]
    after = client.get(f"/api/comparisons/{comparison.id}").json()
    chrf_before = {m["key"]: m for m in before["metrics"]}["chrf"]["adapted"]
    chrf_after = {m["key"]: m for m in after["metrics"]}["chrf"]["adapted"]
    assert chrf_after == chrf(PAIRS[1].adapted, PAIRS[1].reference) != chrf_before
    assert [i["reference_bad"] for i in after["items"]] == [True, False]
    assert "Reference marked bad" in client.get(f"/compare/{comparison.id}").text


def test_reviewers_read_editors_fix_other_workspaces_see_nothing(client_as, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, PAIRS[:1])
    item_id = session.get(Comparison, comparison.id).items[0].id
    reviewer = client_as("reviewer")
    page = reviewer.get(f"/compare/{comparison.id}").text
    assert "The Brightwater Promise covers it." in text_of(page) and "The reference is bad" not in page
    assert reviewer.post(f"/compare/items/{item_id}/bad-reference").status_code == 403
    assert reviewer.post(f"/api/comparison-items/{item_id}/promote", json={"output": "x"}).status_code == 403
    outsider = client_as("admin", "elsewhere")
    assert outsider.get(f"/compare/{comparison.id}").status_code == 404
    assert outsider.get(f"/api/comparisons/{comparison.id}").status_code == 404
    assert outsider.post(f"/api/comparison-items/{item_id}/bad-reference").status_code == 404
    assert outsider.get("/api/comparisons").json() == []
    assert "This comparison" not in outsider.get(f"/compare/{comparison.id}").text


def test_payloads_in_outputs_and_references_are_shown_as_text(client, session, workspace_id):
    payload = '<script>alert(1)</script> "><img src=x onerror=alert(1)> [x](javascript:alert(1)) ZZ{{7*7}}ZZ'
    pairs = [
        Pair(payload, payload, payload, payload, input=payload),
        Pair(payload, payload, "ok", kind="extract"),
    ]
    comparison = make_compared_run(session, workspace_id, pairs)
    for path in (f"/compare/{comparison.id}", f"/review/{comparison.id}", "/review"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page and "ZZ49ZZ" not in page
        assert 'href="javascript' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/compare/{comparison.id}").text


def _replies(count: int, adapted_closer: bool = True) -> list[Pair]:
    """`count` held-out replies where the adapted draft is (or is not) clearly closer to the reference."""
    pairs = []
    for i in range(count):
        reference = f"Dear client {i},\n\nYour consignment {100 + i} left Rotterdam on day {i}.\n\nRegards"
        base = f"Hello! Thanks for reaching out about order number {i}. Best wishes, [Your Name]"
        adapted = reference.replace("left", "departed") if adapted_closer else base
        pairs.append(Pair(reference, base, adapted, f"Reply to client {i}"))
    return pairs


def test_the_verdict_on_top_says_in_how_many_cases_the_adapter_wins(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, _replies(12))
    page = client.get(f"/compare/{comparison.id}").text
    # The verdict comes before the metrics panel.
    assert page.index('class="card verdict verdict-helped"') < page.index('id="cmp-metrics-title"')
    words = text_of(page)
    headline = "The adapted model's drafts are closer to what your company wrote in 12 of 12 held-out cases."
    assert headline in words
    assert "The base model's drafts were closer in 0, and 0 were about even." in words
    assert "Adapted closer: 12 Base closer: 0 About even: 0" in words
    assert "Similarity to what your company wrote" in words and "Held-out loss" in words and "2.500" in words
    assert "Blind review" not in words.split("The evidence")[1].split("How the drafts measure up")[0]
    verdict = client.get(f"/api/comparisons/{comparison.id}").json()["verdict"]
    assert verdict["kind"] == "helped" and verdict["better"] == 12 and verdict["cases"] == 12
    assert verdict["gain"]["low"] > 0 and verdict["adapted"]["mean"] > verdict["base"]["mean"]
    assert verdict["headline"] in words and [row["label"] for row in verdict["evidence"]] == [
        "Similarity to what your company wrote",
        "Held-out loss",
    ]
    # Once a reviewer judged a pair, the blind review joins the evidence.
    item_id = session.get(Comparison, comparison.id).items[0].id
    assert client.put(f"/api/comparison-items/{item_id}/judgement", json={"choice": "A"}).status_code == 200
    evidence = client.get(f"/api/comparisons/{comparison.id}").json()["verdict"]["evidence"]
    assert evidence[-1]["label"] == "Blind review" and "of 1 judgements" in evidence[-1]["note"]


def test_the_verdict_is_honest_when_the_adapter_did_not_help(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, _replies(12, adapted_closer=False))
    words = text_of(client.get(f"/compare/{comparison.id}").text)
    assert (
        "The adapter did not clearly help: its drafts are closer to what your company wrote in 0 of 12 "
        "held-out cases, the base model's in 0." in words
    )
    assert "What to try:" in words and "Add more examples: this run learnt from" in words
    assert "larger base model" in words
    assert client.get(f"/api/comparisons/{comparison.id}").json()["verdict"]["kind"] == "no_help"


def test_too_few_held_out_examples_give_no_verdict_on_the_page(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, PAIRS, TRAIN)
    words = text_of(client.get(f"/compare/{comparison.id}").text)
    assert "Too few held-out examples to tell: 4." in words
    assert "but with so few examples a handful of lucky drafts decide it" in words
    assert "Hold out more examples" in words
    assert client.get(f"/api/comparisons/{comparison.id}").json()["verdict"]["kind"] == "too_few"
    # While drafts are still written, the status card speaks and the verdict waits.
    writing = make_compared_run(
        session, workspace_id, [Pair("Dear client.", None, None)], state="running", dataset_name="Later"
    )
    page = client.get(f"/compare/{writing.id}").text
    assert "The verdict" not in page
    assert client.get(f"/api/comparisons/{writing.id}").json()["verdict"]["kind"] == "waiting"
