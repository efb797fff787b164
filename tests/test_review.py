"""Blind review: pairs as A and B in a random order that stays put per reviewer, no model labels, votes
that change the win rate (and can be changed), who judged, roles and other workspaces; pages and API."""

import re

from sqlalchemy import func, select

from app.review_models import Comparison, Judgement
from app.services.reviews import adapted_side, adapter_win_rates, choice_of, verdict_of
from tests.compare_helpers import Pair, make_compared_run

HTMX = {"HX-Request": "true"}


def adapted_and_base(n: int) -> list[Pair]:
    """`n` pairs whose drafts say which model wrote them (so a test can tell), with a reference."""
    return [
        Pair(f"Dear client {i}, it ships today.", f"BASE draft {i}", f"ADAPTED draft {i}", f"Reply {i}")
        for i in range(n)
    ]


def test_sides_are_random_looking_stable_and_reversible():
    sides = [adapted_side(7, item) for item in range(40)]
    assert 10 < sides.count("A") < 30, "the adapted draft should not always be on one side"
    assert sides == [adapted_side(7, item) for item in range(40)], "a reload shows the same order"
    assert sides != [adapted_side(8, item) for item in range(40)], "another reviewer gets another order"
    for side in ("A", "B"):
        for verdict in ("A", "B", "same", "both_bad"):
            assert verdict_of(choice_of(verdict, side), side) == verdict


def test_review_page_shows_a_blind_pair_and_votes_move_on(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, adapted_and_base(3))
    page = client.get(f"/review/{comparison.id}").text
    assert "Pair 1 of 3" in page and "Reply 0" in page
    a = re.search(r'id="draft-a-title">A</h2>(.*?)</section>', page, re.S).group(1)
    b = re.search(r'id="draft-b-title">B</h2>(.*?)</section>', page, re.S).group(1)
    assert {"ADAPTED" in a, "ADAPTED" in b} == {True, False} and ("BASE" in a) != ("BASE" in b)
    # Nothing on the pair says which model wrote which draft.
    pair_html = page.split('id="review-main"')[1].split('class="card review-side"')[0]
    assert "Adapted" not in pair_html and "Base model" not in pair_html
    for label in ("A is better", "B is better", "About the same", "Both are bad"):
        assert label in page
    # Vote for whichever side holds the adapted draft: the next pair comes back, the win rate moves.
    side = "A" if "ADAPTED" in a else "B"
    item_id = int(re.search(r"/review/items/(\d+)/vote", page).group(1))
    answer = client.post(
        f"/review/items/{item_id}/vote", data={"choice": side, "comment": "Our tone"}, headers=HTMX
    )
    assert answer.status_code == 200 and "Pair 2 of 3" in answer.text and "you have judged 1" in answer.text
    assert "Adapted preferred in 100% of 1 judgement" in answer.text
    assert f'href="/review/{comparison.id}?item={item_id}"' in answer.text
    stored = session.scalars(select(Judgement)).one()
    assert (stored.choice, stored.adapted_side, stored.comment) == ("adapted", side, "Our tone")


def test_a_vote_changes_the_win_rate_and_can_be_changed(client, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, adapted_and_base(2))
    items = session.get(Comparison, comparison.id).items
    user = client.user_id

    def rate() -> dict:
        return client.get(f"/api/comparisons/{comparison.id}").json()["win_rate"]

    assert rate()["rate"] is None and rate()["judged"] == 0
    adapted = adapted_side(user, items[0].id)
    base = "B" if adapted == "A" else "A"
    assert (
        client.put(f"/api/comparison-items/{items[0].id}/judgement", json={"choice": adapted}).status_code
        == 200
    )
    assert (rate()["rate"], rate()["wins"]) == (1.0, 1)
    answer = client.put(f"/api/comparison-items/{items[1].id}/judgement", json={"choice": "same"}).json()
    assert answer["win_rate"]["rate"] == 0.75 and answer["win_rate"]["ties"] == 1
    # Changing the first vote replaces it: still two judgements, now one loss and one tie.
    client.put(
        f"/api/comparison-items/{items[0].id}/judgement", json={"choice": base, "comment": "Too stiff"}
    )
    assert (rate()["rate"], rate()["wins"], rate()["losses"], rate()["judged"]) == (0.25, 0, 1, 2)
    assert session.scalar(select(func.count()).select_from(Judgement)) == 2
    again = client.get(f"/api/comparisons/{comparison.id}/next-pair?item_id={items[0].id}").json()["pair"]
    assert (again["your_vote"], again["comment"]) == (base, "Too stiff")
    assert client.get(f"/api/comparisons/{comparison.id}/next-pair").json() == {
        "pair": None,
        "reviewed": 2,
        "total": 2,
    }
    page = client.get(f"/review/{comparison.id}?item={items[0].id}").text
    assert "your vote: " + ("A is better" if base == "A" else "B is better") in page
    assert (
        f"{adapter_win_rates(session, workspace_id, [comparison.adapter_id])[comparison.adapter_id].judged}"
        == "2"
    )


def test_ten_votes_give_a_win_rate_with_an_interval_and_who_judged(client_as, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, adapted_and_base(5))
    items = session.get(Comparison, comparison.id).items
    ann, bob = client_as("reviewer", email="ann@example.com"), client_as("editor", email="bob@example.com")
    for reviewer, wins in ((ann, 4), (bob, 3)):
        for n, item in enumerate(items):
            side = adapted_side(reviewer.user_id, item.id)
            choice = side if n < wins else ("B" if side == "A" else "A")
            assert (
                reviewer.put(
                    f"/api/comparison-items/{item.id}/judgement", json={"choice": choice}
                ).status_code
                == 200
            )
    rate = ann.get(f"/api/comparisons/{comparison.id}").json()
    assert (rate["win_rate"]["wins"], rate["win_rate"]["losses"], rate["win_rate"]["judged"]) == (7, 3, 10)
    assert round(rate["win_rate"]["low"], 3) == 0.397 and round(rate["win_rate"]["high"], 3) == 0.892
    assert sorted((r["name"], r["judgements"]) for r in rate["reviewers"]) == [("Ann", 5), ("Bob", 5)]
    page = ann.get(f"/review/{comparison.id}").text
    assert "You have judged all 5 pairs" in page
    assert "Adapted preferred in 70% of 10 judgements (95% confidence interval 40–89%)." in page
    listing = ann.get("/review").text
    assert "Adapted preferred in 70% of 10 judgements" in listing


def test_bad_answers_are_refused_with_a_reason(client, session, workspace_id):
    pairs = [Pair("Dear client.", "Hi.", "Dear client."), Pair("Dear client.", None, None)]
    comparison = make_compared_run(session, workspace_id, pairs, state="running")
    written, pending = session.get(Comparison, comparison.id).items
    bad = client.put(f"/api/comparison-items/{written.id}/judgement", json={"choice": "adapted"})
    assert bad.status_code == 422 and "Choose A, B" in bad.text
    long = client.put(
        f"/api/comparison-items/{written.id}/judgement", json={"choice": "A", "comment": "x" * 2001}
    )
    assert long.status_code == 422
    early = client.put(f"/api/comparison-items/{pending.id}/judgement", json={"choice": "A"})
    assert early.status_code == 422 and "still being written" in early.text
    page = client.post(f"/review/items/{written.id}/vote", data={"choice": "maybe"}, headers=HTMX).text
    assert "Choose A, B, about the same, or both bad." in page and "Pair 1 of 1" in page
    assert session.scalar(select(func.count()).select_from(Judgement)) == 0


def test_reviewers_vote_other_workspaces_get_404(client_as, session, workspace_id):
    comparison = make_compared_run(session, workspace_id, adapted_and_base(1))
    item_id = session.get(Comparison, comparison.id).items[0].id
    reviewer = client_as("reviewer")
    assert reviewer.get("/review").status_code == 200
    answer = reviewer.post(f"/review/items/{item_id}/vote", data={"choice": "same"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/review/{comparison.id}"
    outsider = client_as("admin", "elsewhere")
    assert outsider.get(f"/review/{comparison.id}").status_code == 404
    assert outsider.post(f"/review/items/{item_id}/vote", data={"choice": "A"}).status_code == 404
    assert outsider.put(f"/api/comparison-items/{item_id}/judgement", json={"choice": "A"}).status_code == 404
    assert outsider.get(f"/api/comparisons/{comparison.id}/next-pair").status_code == 404
    assert session.scalar(select(func.count()).select_from(Judgement)) == 1


def test_win_rates_per_adapter_for_the_library(client, session, workspace_id):
    first = make_compared_run(session, workspace_id, adapted_and_base(2))
    second = make_compared_run(session, workspace_id, adapted_and_base(1), dataset_name="Two", run_name="Two")
    item = session.get(Comparison, first.id).items[0]
    client.put(
        f"/api/comparison-items/{item.id}/judgement", json={"choice": adapted_side(client.user_id, item.id)}
    )
    rates = adapter_win_rates(session, workspace_id, [first.adapter_id, second.adapter_id])
    assert (rates[first.adapter_id].wins, rates[second.adapter_id].judged) == (1, 0)
    assert adapter_win_rates(session, workspace_id + 999, [first.adapter_id])[first.adapter_id].judged == 0
