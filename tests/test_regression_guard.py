"""The regression guard's decision and words (pure), and the bundled everyday instructions it asks."""

import pytest

from app.evaluation.general_set import general_set, general_set_sha256
from app.evaluation.regression_guard import THRESHOLD, describe, judge, mean_loss, worst_items


def test_the_general_set_is_varied_complete_and_stable():
    items = general_set()
    assert 30 <= len(items) <= 60
    assert len({item.id for item in items}) == len(items)
    assert len({item.instruction for item in items}) == len(items)
    kinds = {item.kind for item in items}
    assert {"explain", "summarise", "list", "rewrite", "email", "arithmetic"} <= kinds
    assert all(item.instruction.strip() and item.output.strip() for item in items)
    # References are short, complete answers: the guard's forward passes stay cheap.
    assert all(1 <= len(item.output.split()) <= 140 for item in items)
    assert general_set_sha256() == general_set_sha256() and len(general_set_sha256()) == 64


def test_the_mean_weighs_each_item_by_its_answer_tokens():
    assert mean_loss([1.0, 4.0], [3, 1]) == pytest.approx(1.75)
    assert mean_loss([], []) == 0.0


def test_a_rise_above_the_threshold_is_noticeably_worse_and_below_it_is_not():
    tokens = [10, 30, 20]
    base = [2.0, 2.0, 2.0]
    worse = judge(base, [2.9, 2.7, 2.8], tokens)
    assert worse.worse and worse.change == pytest.approx(0.3833, abs=1e-4) and worse.rose == 3
    assert (worse.items, worse.base_loss, worse.threshold) == (3, 2.0, THRESHOLD)
    kept = judge(base, [2.1, 1.9, 2.05], tokens)
    assert not kept.worse and kept.rose == 2 and kept.change == pytest.approx(0.0, abs=0.01)
    # Exactly at the threshold is not above it; a stricter threshold flags the same numbers.
    edge = judge([1.0], [1.0 + THRESHOLD], [5])
    assert not edge.worse
    assert judge(base, [2.1, 2.1, 2.1], tokens, threshold=0.04).worse
    assert judge(base, [1.5, 1.5, 1.5], tokens).change < 0
    with pytest.raises(ValueError):
        judge([1.0, 2.0], [1.0], [3, 4])
    with pytest.raises(ValueError):
        judge([], [], [])


def test_the_examples_shown_are_where_the_loss_rose_most():
    base = [1.0, 1.0, 1.0, 1.0, 1.0]
    adapted = [1.1, 2.5, 0.9, 1.8, 2.5]
    assert worst_items(base, adapted, 3) == [1, 4, 3]  # a tie keeps the earlier item first
    assert worst_items(base, adapted, 10) == [1, 4, 3, 0, 2]


def _stored(change: float, worse: bool) -> dict:
    """A guard result as the worker stores it."""
    base = 1.6
    example = {
        "kind": "email", "instruction": "Write a short email", "input": "", "reference": "Hi Mark,",
        "base_loss": 1.5, "adapted_loss": 2.6, "base": "Hi Mark, could we", "adapted": "Dear client,",
        "base_stop": "eos", "adapted_stop": "repetition",
    }  # fmt: skip
    return {
        "items": 42, "base_loss": base, "adapted_loss": base * (1 + change), "change": change, "rose": 35,
        "threshold": THRESHOLD, "worse": worse, "examples": [example], "seconds": 9.5, "base_cached": True,
    }  # fmt: skip


def test_the_words_say_how_much_worse_and_what_to_try():
    view = describe(_stored(0.38, True))
    assert view["worse"] and view["change_percent"] == 38
    assert view["headline"] == (
        "This adapter writes general text noticeably worse than the base model: on 42 everyday "
        "instructions its loss rose 38% (1.60 → 2.21)."
    )
    assert "Look at these examples" in view["detail"]
    assert any("fewer passes" in tip for tip in view["advice"])
    assert any("learning rate" in tip for tip in view["advice"])
    assert any("varied examples" in tip for tip in view["advice"])
    assert view["examples"][0]["adapted"] == "Dear client,"


def test_the_words_for_an_adapter_that_kept_its_general_writing():
    view = describe(_stored(0.03, False))
    assert not view["worse"] and view["advice"] == []
    assert "General writing is intact" in view["headline"] and "rose 3%" in view["headline"]
    assert f"more than {round(100 * THRESHOLD)}%" in view["detail"]
    assert "fell 2%" in describe(_stored(-0.02, False))["headline"]
    assert "did not change" in describe(_stored(0.001, False))["headline"]
    assert describe(None) is None and describe({}) is None


def test_a_stored_result_is_judged_again_with_todays_threshold():
    stored = _stored(THRESHOLD + 0.02, False) | {"threshold": THRESHOLD + 0.1}  # checked under a laxer line
    view = describe(stored)
    assert view["worse"] and view["threshold"] == THRESHOLD
    assert not describe(_stored(THRESHOLD - 0.01, True))["worse"]
