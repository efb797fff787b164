"""The regression guard on the pages and the API: the run page and the adapter library warn in plain words
when an adapter got worse at everyday writing, show the examples (escaped), and say so too when it did not.
No worker: the guard's result is written into the adapter's metrics as the worker stores it."""

from app.evaluation.regression_guard import THRESHOLD
from app.models import Adapter
from tests.adapter_helpers import make_adapter
from tests.test_compare_pages import text_of

PAYLOAD = '<script>alert(1)</script> "><img src=x onerror=alert(1)> ZZ{{7*7}}ZZ'


def _guard(change: float, worse: bool) -> dict:
    """A guard result as worker/regression_guard.py stores it, one shown example, with a hostile draft when it
    warns (drafts are written only then)."""
    example = {
        "kind": "email", "instruction": "Write a short email to a colleague asking to move our meeting.",
        "input": "", "reference": "Hi Mark,\n\nWould it be possible to move our meeting to Thursday?",
        "base_loss": 1.41, "adapted_loss": 2.87, "base": "Hi Mark, could we move the meeting to Thursday?",
        "adapted": f"Dear client, the Brightwater Promise covers it. {PAYLOAD}",
        "base_stop": "eos", "adapted_stop": "repetition",
    }  # fmt: skip
    if not worse:
        example = {
            key: example[key]
            for key in ("kind", "instruction", "input", "reference", "base_loss", "adapted_loss")
        }
    return {
        "items": 42, "base_loss": 1.62, "adapted_loss": round(1.62 * (1 + change), 4), "change": change,
        "rose": 37, "threshold": THRESHOLD, "worse": worse, "examples": [example], "seconds": 8.1,
        "base_cached": False,
    }  # fmt: skip


def _adapter_with(session, workspace_id: int, guard: dict | None) -> Adapter:
    """A finished run's adapter whose metrics hold `guard` (none: an adapter from before the guard)."""
    adapter = make_adapter(session, workspace_id)
    if guard is not None:
        adapter.metrics = {**adapter.metrics, "general_writing": guard}
        session.commit()
    return adapter


def test_the_run_page_warns_shows_the_examples_and_what_to_try(client, session, workspace_id):
    adapter = _adapter_with(session, workspace_id, _guard(0.38, True))
    page = client.get(f"/runs/{adapter.run_id}").text
    words = text_of(page)
    assert (
        "This adapter writes general text noticeably worse than the base model: on 42 everyday "
        "instructions its loss rose 38% (1.62 → 2.24)." in words
    )
    assert "What to try:" in words and "fewer passes" in words and "Lower the learning rate" in words
    assert "Look at these examples: the 1 instruction where it got worst" in words
    assert "Write a short email to a colleague asking to move our meeting." in words
    assert "A good answer" in words and "With this adapter" in words
    assert "Stopped because it began repeating itself" in words
    # The status card links down to the examples; the examples are open under a warning.
    assert 'href="#general-writing"' in page and '<details class="gw-examples" open>' in page
    # Model output is text, never markup.
    assert "<script>alert" not in page and "<img src=x" not in page and "ZZ49ZZ" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_last_poll_of_a_finished_run_fills_the_card_out_of_band(client, session, workspace_id):
    adapter = _adapter_with(session, workspace_id, _guard(0.38, True))
    polled = client.get(f"/runs/{adapter.run_id}/status", headers={"HX-Request": "true"}).text
    assert polled.lstrip().startswith('<div id="run-status"')
    card = polled.split('<section class="card gw-card gw-card-worse" id="general-writing"')[1]
    assert card.split(">")[0].strip() == 'aria-labelledby="gw-title" hx-swap-oob="true"'
    # The full page carries the card in its main column, not out of band.
    page = client.get(f"/runs/{adapter.run_id}").text
    assert page.count('id="general-writing"') == 1 and 'hx-swap-oob="true"' not in page


def test_an_adapter_that_kept_its_general_writing_says_so_quietly(client, session, workspace_id):
    adapter = _adapter_with(session, workspace_id, _guard(0.03, False))
    page = client.get(f"/runs/{adapter.run_id}").text
    words = text_of(page)
    assert "General writing is intact: on 42 everyday instructions the adapter's loss rose 3%" in words
    assert "noticeably worse" not in words and "notice-warn" not in page
    assert "Where it changed most: 1 of the 42 instructions" in words
    assert '<details class="gw-examples">' in page
    # No drafts were written for it: the good answer and the losses, without empty draft boxes.
    assert "Would it be possible to move our meeting" in words and "Base model" not in words
    assert "Loss on the good answer: base 1.41, with this adapter 2.87." in words
    library = text_of(client.get("/adapters").text)
    assert "Everyday writing Intact (loss on 42 everyday instructions +3% against the base model)" in library


def test_the_adapter_library_warns_next_to_the_adapter(client, session, workspace_id):
    adapter = _adapter_with(session, workspace_id, _guard(0.38, True))
    page = client.get("/adapters").text
    entry = text_of(page.split(f'id="adapter-{adapter.id}"')[1])
    flag = "Everyday writing Noticeably worse than the base model (loss on 42 everyday instructions +38%)"
    assert flag in entry
    assert "This adapter writes general text noticeably worse than the base model" in entry
    assert "Look at these examples" in entry and "What to try:" in entry
    assert "<script>alert" not in page and f'id="gw-{adapter.id}-ex-1"' in page


def test_an_adapter_from_before_the_guard_says_not_checked(client, session, workspace_id):
    adapter = _adapter_with(session, workspace_id, None)
    assert "Everyday writing not checked" in text_of(client.get("/adapters").text)
    page = client.get(f"/runs/{adapter.run_id}").text
    assert '<div id="general-writing"></div>' in page and "Everyday writing" not in text_of(page)
    assert client.get(f"/api/adapters/{adapter.id}").json()["general_writing"] is None


def test_the_api_gives_the_same_result(client, session, workspace_id):
    adapter = _adapter_with(session, workspace_id, _guard(0.38, True))
    run = client.get(f"/api/runs/{adapter.run_id}").json()["adapter"]["general_writing"]
    library = client.get(f"/api/adapters/{adapter.id}").json()["general_writing"]
    assert run == library
    assert run["worse"] is True and run["change"] == 0.38 and run["items"] == 42 and run["rose"] == 37
    assert run["headline"].startswith("This adapter writes general text noticeably worse")
    assert len(run["advice"]) == 3 and run["threshold"] == THRESHOLD
    example = run["examples"][0]
    assert example["adapted"].endswith(PAYLOAD) and example["adapted_stop"] == "repetition"
    assert (example["base_loss"], example["adapted_loss"]) == (1.41, 2.87)


def test_reviewers_see_the_warning_and_other_workspaces_see_nothing(client_as, session, workspace_id):
    adapter = _adapter_with(session, workspace_id, _guard(0.38, True))
    reviewer = client_as("reviewer")
    assert "noticeably worse than the base model" in text_of(reviewer.get(f"/runs/{adapter.run_id}").text)
    outsider = client_as("admin", "elsewhere")
    assert outsider.get(f"/runs/{adapter.run_id}").status_code == 404
    assert outsider.get(f"/api/adapters/{adapter.id}").status_code == 404
    assert "noticeably worse" not in outsider.get("/adapters").text
