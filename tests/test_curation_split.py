"""Tests for the deterministic, stratified train / held-out split."""

from collections import Counter

import pytest

from app.curation.records import ExampleRecord
from app.curation.split import assign_heldout, heldout_target


def records(count: int, kind: str = "draft", start: int = 1, included: bool = True) -> list[ExampleRecord]:
    """`count` train examples of one kind with consecutive ids."""
    return [
        ExampleRecord(i, kind, "Do it", "", f"Output {i}", included, "train", None, None)
        for i in range(start, start + count)
    ]


@pytest.mark.parametrize(
    ("total", "expected"), [(0, 0), (1, 0), (2, 1), (9, 1), (10, 5), (49, 5), (50, 5), (100, 10), (1000, 100)]
)
def test_heldout_target(total: int, expected: int) -> None:
    """About 10%, at least 5 from 10 examples on, at least 1 from 2 on, never everything."""
    assert heldout_target(total) == expected


def test_split_is_deterministic_and_depends_on_seed() -> None:
    """The same input gives the same split in any order; another seed picks other examples."""
    data = records(200)
    first = assign_heldout(data)
    assert assign_heldout(list(reversed(data))) == first
    assert Counter(first.values()) == {"train": 180, "heldout": 20}
    other = assign_heldout(data, seed=1)
    assert {i for i, s in other.items() if s == "heldout"} != {i for i, s in first.items() if s == "heldout"}


def test_split_is_stratified_per_kind() -> None:
    """Each kind gets its share of held-out examples."""
    data = records(300, "draft") + records(100, "classify", start=1000) + records(50, "extract", start=2000)
    splits = assign_heldout(data)
    kind_of = {r.id: r.kind for r in data}
    held = Counter(kind_of[i] for i, s in splits.items() if s == "heldout")
    assert held == {"draft": 30, "classify": 10, "extract": 5}


def test_minimum_and_never_all_heldout() -> None:
    """Twelve examples get the minimum of 5 held out; two examples keep one in training."""
    assert Counter(assign_heldout(records(12)).values()) == {"train": 7, "heldout": 5}
    assert Counter(assign_heldout(records(2)).values()) == {"train": 1, "heldout": 1}
    assert assign_heldout(records(1)) == {1: "train"}


def test_locked_examples_keep_their_split_and_count() -> None:
    """Locked examples are not in the result; locked held-out ones count towards the target."""
    data = records(100)
    locked = {r.id for r in data[:8]}
    data = [
        ExampleRecord(r.id, r.kind, r.instruction, r.input, r.output, True, "heldout", None, None)
        if r.id in locked
        else r
        for r in data
    ]
    splits = assign_heldout(data, locked_ids=locked)
    assert not locked & splits.keys()
    assert Counter(splits.values()) == {"train": 90, "heldout": 2}


def test_excluded_examples_are_left_out() -> None:
    """Only included examples get a split and count towards the target."""
    data = records(20) + records(30, start=100, included=False)
    splits = assign_heldout(data)
    assert set(splits) == set(range(1, 21))
    assert Counter(splits.values())["heldout"] == 5


def test_adding_examples_moves_few_existing_ones() -> None:
    """Growing from 200 to 220 examples keeps most held-out choices (hash ranks, not random draws)."""
    before = {i for i, s in assign_heldout(records(200)).items() if s == "heldout"}
    after = {i for i, s in assign_heldout(records(220)).items() if s == "heldout"}
    assert len(before & after) >= 15
