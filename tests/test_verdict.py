"""The comparison's verdict in plain words (pure): helped, did not help, hurt, not clear, too few, waiting."""

import pytest

from app.evaluation.verdict import MIN_CASES, RunFacts, mean_interval, t95, verdict

FACTS = RunFacts(train_count=48, preset="quick", model_name="SmolLM2 135M Instruct")


def _label(base: float, adapted: float) -> str:
    """The per-example label as the comparison service gives it (2 chrF points make a clear difference)."""
    return "better" if adapted - base >= 2 else "worse" if base - adapted >= 2 else "even"


def _verdict(gains: list[tuple[float, float]], facts: RunFacts = FACTS, **options):
    return verdict(gains, [_label(b, a) for b, a in gains], facts, total=len(gains), **options)


def test_students_t_and_the_interval_of_a_mean():
    assert t95(1) == 12.706 and t95(9) == 2.262 and t95(30) == 2.042
    assert t95(60) == pytest.approx(2.000, abs=0.002) and t95(1000) == pytest.approx(1.962, abs=0.002)
    interval = mean_interval([10.0, 12.0, 14.0, 16.0])
    # mean 13, sd 2.582, t(3) = 3.182: 13 ± 4.1
    assert (interval.mean, interval.low, interval.high) == (13.0, 8.9, 17.1)
    assert mean_interval([5.0]).low == mean_interval([5.0]).high == 5.0


def test_an_adapter_that_helped_says_in_how_many_cases():
    gains = [(10.0 + i % 5, 18.0 + i % 7) for i in range(34)] + [(20.0, 15.0)] * 2 + [(12.0, 12.5)] * 4
    found = _verdict(gains)
    assert found.kind == "helped"
    assert found.headline == (
        "The adapted model's drafts are closer to what your company wrote in 34 of 40 held-out cases."
    )
    assert "The base model's drafts were closer in 2, and 4 were about even." in found.detail
    assert (found.cases, found.better, found.worse, found.even) == (40, 34, 2, 4)
    assert found.gain.low > 0 and found.adapted.mean > found.base.mean
    assert found.advice == []


def test_no_clear_help_on_enough_examples_says_so_and_what_to_try():
    gains = [(15.0, 19.0), (19.0, 15.0), (15.0, 15.5), (14.0, 13.0)] * 10
    found = _verdict(gains, RunFacts(train_count=48, preset="quick", heldout_loss_before=2.0,
                                     heldout_loss_after=2.1))  # fmt: skip
    assert found.kind == "no_help"
    assert found.headline == (
        "The adapter did not clearly help: its drafts are closer to what your company wrote in 10 of 40 "
        "held-out cases, the base model's in 10."
    )
    assert "chance alone gives on 40 examples" in found.detail
    assert "The held-out loss did not fall either" in found.detail
    tips = " ".join(found.advice)
    assert "this run learnt from 48" in tips and "the Balanced preset" in tips and "larger base model" in tips


def test_an_adapter_that_made_drafts_worse_is_named_as_such():
    gains = [(20.0 + i % 3, 12.0 + i % 4) for i in range(25)]
    found = _verdict(gains, RunFacts(train_count=500, preset="thorough", model_name="Tiny"))
    assert found.kind == "hurt" and found.gain.high < 0
    assert found.headline.startswith("The adapter made the drafts worse: the base model's drafts are closer")
    assert "in 25 of 25 held-out cases" in found.headline
    tips = " ".join(found.advice)
    # Plenty of examples and the longest preset already: those two tips would not help.
    assert "Add more examples" not in tips and "preset" not in tips
    assert "larger base model than Tiny" in tips and "Bad reference" in tips


def test_too_few_held_out_examples_give_no_verdict():
    gains = [(10.0, 20.0), (10.0, 18.0), (11.0, 19.0), (12.0, 9.0)]
    found = _verdict(gains)
    assert found.kind == "too_few" and len(gains) < MIN_CASES
    assert found.headline == "Too few held-out examples to tell: 4."
    assert "closer to what your company wrote in 3 of 4 held-out cases" in found.detail
    assert "Hold out more examples" in found.advice[0]


def test_a_small_positive_but_uncertain_gain_is_not_clear_yet():
    gains = [(12.0, 20.0), (18.0, 11.0), (14.0, 16.0), (15.0, 14.0)] * 3
    found = _verdict(gains)
    assert found.kind == "unclear" and found.gain.low < 0 < found.gain.mean
    assert found.headline.startswith("Not clear yet: the adapted model's drafts are closer")
    assert any("Hold out more examples" in tip for tip in found.advice)


def test_while_drafts_are_written_the_verdict_waits():
    found = verdict([(1.0, 2.0)], ["even"], FACTS, total=40, writing=True)
    assert found.kind == "waiting" and "all 40 held-out examples" in found.headline
    assert found.detail == "1 of 40 are done so far." and found.base is None
