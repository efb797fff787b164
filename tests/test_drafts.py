"""The draft page, the new-brief box and the generations API: what they record, where a queued draft
stands in line, the finished draft (escaped) with its downloads, refusals, roles and workspaces.
No worker: generations are moved on by writing their rows, as a worker would."""

import io
from itertools import takewhile

import pytest
from docx import Document as WordDocument
from sqlalchemy import select

from app.models import Run
from app.review_models import Generation
from app.settings import get_settings
from tests.adapter_helpers import make_adapter, make_generation, tiny_adapter
from tests.conftest import wait_for
from tests.run_helpers import register_tiny
from tests.test_runs_pages import no_queued_runs

__all__ = ["no_queued_runs"]
HTMX = {"HX-Request": "true"}
PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"
DRAFT = (
    "# Delay notice\n\nDear Anna,\n\n- The container is in **Rotterdam**.\n- New date: Friday.\n\n"
    "Kind regards"
)


def _finish(session, generation: Generation, output: str, base_output: str | None = None) -> None:
    """Write what a worker writes when it is done."""
    generation.state, generation.output, generation.base_output = "succeeded", output, base_output
    generation.completion_tokens, generation.stop_reason = 42, "eos"
    session.commit()


def test_draft_page_offers_adapters_and_base_models_and_queues_a_draft(
    client, session, workspace_id, no_queued_runs
):
    adapter = make_adapter(session, workspace_id, "Replies on SmolLM2")
    page = client.get(f"/drafts?adapter_id={adapter.id}").text
    assert 'optgroup label="Adapters for SmolLM2 135M Instruct (bundled)"' in page
    assert f'<option value="adapter-{adapter.id}" selected>Replies on SmolLM2</option>' in page
    assert (
        'optgroup label="Base models alone (no adapter)"' in page and 'value="smollm2-135m-instruct"' in page
    )
    assert "Your drafts appear here" in page

    form = {"model": f"adapter-{adapter.id}", "brief": "Tell Anna the container is late.",
            "material": "ETA Friday", "length": "long"}  # fmt: skip
    response = client.post("/drafts", data=form, follow_redirects=False)
    assert response.status_code == 303
    generation = session.get(Generation, int(response.headers["location"].rsplit("/", 1)[1]))
    assert (generation.purpose, generation.state, generation.adapter_id) == ("draft", "queued", adapter.id)
    assert generation.base_model_id == adapter.base_model_id and generation.max_new_tokens == 1024
    assert generation.messages == [
        {"role": "user", "content": "Tell Anna the container is late.\n\nETA Friday"}
    ]
    assert (generation.temperature, generation.with_base) == (0.0, False)

    htmx = client.post("/drafts", data={**form, "model": "smollm2-135m-instruct"}, headers=HTMX)
    assert htmx.status_code == 200 and htmx.headers["HX-Push-Url"].startswith("/drafts/")
    base_only = session.scalars(select(Generation).order_by(Generation.id.desc())).first()
    assert base_only.adapter_id is None and "SmolLM2 135M Instruct (bundled) alone" in htmx.text
    assert "Waiting for a worker" in htmx.text and 'hx-trigger="every 2s"' in htmx.text
    # The side list gets the new draft out of band: no reload needed to see it there.
    assert 'id="draft-recent" aria-labelledby="recent-title" hx-swap-oob="true"' in htmx.text
    assert f'<a href="/drafts/{base_only.id}">Tell Anna the container is late.' in htmx.text
    recent = client.get("/drafts").text
    assert f'href="/drafts/{generation.id}"' in recent and "Tell Anna the container is late." in recent


def test_a_waiting_draft_says_where_it_is_in_line_and_polling_stops_when_done(client, session, workspace_id):
    adapter = make_adapter(session, workspace_id)
    run = session.get(Run, adapter.run_id)
    run.state = "running"
    session.commit()
    earlier = [make_generation(session, workspace_id, adapter) for _ in range(2)]
    generation = make_generation(session, workspace_id, adapter, created_by=client.user_id)
    assert earlier[0].queued_at <= generation.queued_at
    status = client.get(f"/drafts/{generation.id}/status").text
    assert "A training run is using the worker; 2 jobs ahead of yours." in status
    assert 'hx-trigger="every 2s"' in status and "Waiting" in status
    generation.state = "running"
    session.commit()
    assert "Writing now" in client.get(f"/drafts/{generation.id}/status").text

    _finish(session, generation, f"{PAYLOAD}\n{DRAFT}")
    done = client.get(f"/drafts/{generation.id}/status").text
    assert "hx-trigger" not in done and "hx-get" not in done  # polling stops
    recent = done.split('id="draft-recent"', 1)[1]  # the side list, out of band, with the draft's new state
    assert f'href="/drafts/{generation.id}"' in recent and "Done" in recent
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in done and "<script>alert" not in done
    assert "<img src=x" not in done
    assert (
        f'data-copy="draft-text-{generation.id}"' in done
        and "42 tokens. The model finished on its own." in done
    )
    for fmt in ("txt", "md", "docx"):
        assert f"/drafts/{generation.id}/download?format={fmt}" in done
    page = client.get(f"/drafts/{generation.id}").text
    assert "Your draft" in page and "/static/js/drafts.js" in page and "<script>alert" not in page

    failed = make_generation(
        session, workspace_id, adapter, state="failed", error="The adapter files are gone."
    )
    text = client.get(f"/drafts/{failed.id}/status").text
    assert "The adapter files are gone." in text and "hx-trigger" not in text


def test_downloads_as_text_markdown_and_word(client, session, workspace_id):
    generation = make_generation(session, workspace_id)
    # Not written yet: the page goes back to the draft, the API says why.
    assert client.get(f"/drafts/{generation.id}/download", follow_redirects=False).status_code == 303
    early = client.get(f"/api/generations/{generation.id}/download")
    assert early.status_code == 422 and "not finished yet" in early.text
    _finish(session, generation, DRAFT)

    txt = client.get(f"/drafts/{generation.id}/download?format=txt")
    assert txt.status_code == 200 and txt.text == DRAFT + "\n"
    assert txt.headers["content-type"].startswith("text/plain")
    name = f"draft-{generation.id}-tell-anna-her-container-is-late"
    assert f'filename="{name}.txt"' in txt.headers["content-disposition"]
    md = client.get(f"/api/generations/{generation.id}/download?format=md")
    assert md.headers["content-type"].startswith("text/markdown") and md.text == DRAFT + "\n"

    docx = client.get(f"/drafts/{generation.id}/download?format=docx")
    assert docx.status_code == 200 and f'filename="{name}.docx"' in docx.headers["content-disposition"]
    paragraphs = [(p.style.name, p.text) for p in WordDocument(io.BytesIO(docx.content)).paragraphs]
    assert paragraphs == [
        ("Heading 1", "Delay notice"),
        ("Normal", "Dear Anna,"),
        ("List Bullet", "The container is in Rotterdam."),
        ("List Bullet", "New date: Friday."),
        ("Normal", "Kind regards"),
    ]
    assert client.get(f"/api/generations/{generation.id}/download?format=pdf").status_code == 422
    # Control characters a model may write cannot go into Word's XML: they are left out there.
    generation.output = "Dear Anna,\x07 the ship\x1b is late."
    session.commit()
    odd = client.get(f"/drafts/{generation.id}/download?format=docx")
    lines = [p.text for p in WordDocument(io.BytesIO(odd.content)).paragraphs]
    assert lines == ["Dear Anna, the ship is late."]


def test_refused_drafts_say_why(client, session, workspace_id):
    adapter = make_adapter(session, workspace_id)
    empty = client.post("/drafts", data={"model": f"adapter-{adapter.id}", "brief": "  "})
    assert empty.status_code == 422 and "Write what the draft should say in the brief box." in empty.text
    htmx = client.post("/drafts", data={"model": "adapter-999999", "brief": "Hello"}, headers=HTMX)
    assert htmx.status_code == 200 and htmx.headers["HX-Retarget"] == "#draft-form-errors"
    assert "Pick an adapter or a base model from the list." in htmx.text
    assert session.scalars(select(Generation)).all() == []


def test_new_brief_box_answers_with_both_models_side_by_side(client, session, workspace_id, no_queued_runs):
    adapter = make_adapter(session, workspace_id, "Replies on SmolLM2")
    box = client.get(f"/briefs/new?adapter_id={adapter.id}", headers=HTMX)
    assert box.status_code == 200 and f'id="brief-result-{adapter.id}"' in box.text
    assert box.text.count("[held-out]") == 2 and box.text.count("<option value=") == 11  # 10 examples + none
    held_out = box.text.split("[held-out] ")[1].split("<")[0]

    choice = {"adapter_id": adapter.id, "example_id": _first_heldout_id(box.text)}
    picked = client.post("/briefs", data=choice, headers=HTMX)
    assert picked.status_code == 200 and 'hx-trigger="every 2s"' in picked.text
    generation = session.scalars(select(Generation)).one()
    assert (generation.purpose, generation.with_base, generation.adapter_id) == ("brief", True, adapter.id)
    assert generation.messages[0]["content"] == held_out
    assert generation.max_new_tokens == get_settings().comparison_max_new_tokens

    _finish(session, generation, f"Adapted {PAYLOAD}", base_output=f"Base {PAYLOAD}")
    done = client.get(f"/briefs/{generation.id}", headers=HTMX).text
    assert "hx-trigger" not in done and "Base model alone" in done and "With the adapter" in done
    assert (
        done.index("Base &lt;script&gt;") < done.index("Adapted &lt;script&gt;")
        and "<script>alert" not in done
    )
    page = client.get(f"/briefs/{generation.id}")
    assert "<h1>New brief</h1>" in page.text and 'href="/adapters"' in page.text

    empty = client.post("/briefs", data={"adapter_id": adapter.id, "brief": ""}, headers=HTMX)
    assert empty.status_code == 200 and "Type a brief, or pick one of the examples." in empty.text
    assert client.post("/briefs", data={"adapter_id": adapter.id, "brief": ""}).status_code == 422
    assert client.get("/briefs/new?adapter_id=999999").status_code == 404


def _first_heldout_id(html: str) -> str:
    """The value of the first held-out example in the picker."""
    before = html.split("[held-out] ")[0]
    return before.rsplit('<option value="', 1)[1].split('"', 1)[0]


def test_generations_api(client, session, workspace_id, no_queued_runs):
    adapter = make_adapter(session, workspace_id)
    created = client.post(
        "/api/generations",
        json={"model": f"adapter-{adapter.id}", "brief": "Reply to Tom", "purpose": "brief"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["state"], body["purpose"], body["with_base"], body["model"]) == (
        "queued", "brief", True, f"adapter-{adapter.id}",
    )  # fmt: skip
    assert body["status_text"] == "Waiting for a worker; yours is next." and body["max_new_tokens"] == 512
    by_messages = client.post(
        "/api/generations",
        json={"base_model_id": adapter.base_model_id, "temperature": 0.7, "seed": 3,
              "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
    )  # fmt: skip
    assert by_messages.status_code == 201 and by_messages.json()["model"] == "smollm2-135m-instruct"
    row = session.get(Generation, by_messages.json()["id"])
    assert (row.temperature, row.seed, len(row.messages), row.adapter_id) == (0.7, 3, 2, None)

    _finish(session, session.get(Generation, body["id"]), "Dear Tom", base_output="Hello Tom")
    read = client.get(f"/api/generations/{body['id']}").json()
    assert (read["state"], read["output"], read["base_output"], read["stop_reason"]) == (
        "succeeded", "Dear Tom", "Hello Tom", "eos",
    )  # fmt: skip
    listed = client.get("/api/generations?purpose=brief").json()
    assert [g["id"] for g in listed] == [body["id"]]

    refusals = [
        ({"model": "adapter-999999", "brief": "Hi"}, "does not exist"),
        ({"model": "smollm2-135m-instruct", "brief": "Hi", "purpose": "brief"}, "name the adapter"),
        ({"model": "smollm2-135m-instruct", "brief": "Hi", "max_new_tokens": 5000}, "between 1 and 1024"),
        ({"model": "smollm2-135m-instruct", "brief": ""}, "The last message must be the brief"),
    ]
    for request, message in refusals:
        response = client.post("/api/generations", json=request)
        assert response.status_code == 422 and message in response.text, (request, response.text)


def test_roles_and_other_workspaces(client_as, session):
    reviewer = client_as("reviewer", "team-a")
    outsider = client_as("admin", "team-b")
    adapter = make_adapter(session, reviewer.workspace_id)
    generation = make_generation(
        session, reviewer.workspace_id, adapter, state="succeeded", output="Dear Anna"
    )
    assert reviewer.get(f"/drafts/{generation.id}").status_code == 200
    assert reviewer.get(f"/briefs/new?adapter_id={adapter.id}").status_code == 200
    paths = [f"/drafts/{generation.id}{end}" for end in ("", "/status", "/download")] + [
        f"/briefs/{generation.id}",
        f"/api/generations/{generation.id}",
        f"/briefs/new?adapter_id={adapter.id}",
    ]
    for path in paths:
        assert outsider.get(path).status_code == 404, path
    assert outsider.get("/api/generations").json() == []
    refused = outsider.post("/drafts", data={"model": f"adapter-{adapter.id}", "brief": "Hi"})
    assert refused.status_code == 422 and "Pick an adapter" in refused.text
    assert outsider.post("/briefs", data={"adapter_id": adapter.id, "brief": "Hi"}).status_code == 404
    assert "Dear Anna" not in outsider.get("/drafts").text


@pytest.mark.worker
def test_a_draft_and_a_new_brief_through_a_real_worker(client, session, workspace_id, celery_worker):
    adapter = tiny_adapter(session, workspace_id, register_tiny(session).id)
    brief = "Reply to the client about the container."
    form = {"model": f"adapter-{adapter.id}", "brief": brief, "length": "short"}
    created = client.post("/drafts", data=form, follow_redirects=False)
    draft_id = int(created.headers["location"].rsplit("/", 1)[1])
    done = wait_for(lambda: _finished_part(client, f"/drafts/{draft_id}/status"), timeout=180)
    draft = session.get(Generation, draft_id)
    session.refresh(draft)
    assert draft.state == "succeeded", draft.error
    assert draft.output and draft.completion_tokens >= 1
    assert draft.stop_reason in ("eos", "length", "repetition")
    assert f'data-copy="draft-text-{draft_id}"' in done
    word = client.get(f"/drafts/{draft_id}/download?format=docx")
    assert word.status_code == 200 and WordDocument(io.BytesIO(word.content)).paragraphs

    answered = client.post("/briefs", data={"adapter_id": adapter.id, "brief": brief}, headers=HTMX)
    brief_id = int(answered.text.split('id="brief-', 1)[1].split('"', 1)[0])
    wait_for(lambda: _finished_part(client, f"/briefs/{brief_id}"), timeout=180)
    pair = session.get(Generation, brief_id)
    session.refresh(pair)
    assert pair.state == "succeeded" and pair.output and pair.base_output
    # The same brief and settings: the adapter's answer begins as the draft's, and the base model's differs.
    # (The tiny random model's next-token scores are near ties: answered in a batch of two rows, float
    # rounding may pick another token a few hundred characters in.)
    chars = zip(pair.output, draft.output, strict=False)
    same = sum(1 for _ in takewhile(lambda two: two[0] == two[1], chars))
    assert same >= 100 and pair.base_output != pair.output


def _finished_part(client, path: str) -> str | None:
    """The htmx part at `path` once it has stopped polling (the generation ended), else None."""
    text = client.get(path, headers=HTMX).text
    return text if "hx-trigger" not in text else None
