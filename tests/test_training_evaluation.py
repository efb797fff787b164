"""Cheap held-out evaluation: per-example losses from packed rows equal each example alone, the base model's
losses are read back by a later run (a dict and the real database), and the checks' plan stays within its
share of the training time."""

from pathlib import Path

import pytest
import torch

from app.training.presets import Hyperparameters
from tests.run_helpers import register_tiny
from tests.test_training_loop import HELDOUT, TRAIN, Recorder
from tests.tiny_model import tiny_model_dir
from worker.loss_cache import DatabaseLossCache
from worker.training import TrainingExample, train
from worker.training.batching import micro_batches
from worker.training.config import pick_runtime
from worker.training.data import load_tokenizer, prepare
from worker.training.evaluation import (
    EVAL_SHARE,
    FORWARD_COST,
    MIN_CHECKS,
    MIN_EXAMPLES,
    EvalSet,
    base_losses,
    checks_for,
    loss_key,
    plan_checks,
    weights_identity,
)
from worker.training.loss import FastPaths, check_fast_paths, full_logits_loss
from worker.training.model import load_base

REPLIES = [
    TrainingExample("Reply to the client", f"Where is order {n}?", f"Dear client, order {n} ships on Monday.")
    for n in range(7)
]
HP = Hyperparameters(
    learning_rate=1e-2, dropout=0.0, epochs=2, batch_size=2, grad_accum=2, max_length=128,
    eval_every_steps=4, checkpoint_every_steps=100,
)  # fmt: skip


class DictCache:
    """A LossCache in memory that counts what it was asked for."""

    def __init__(self) -> None:
        """Empty."""
        self.values: dict[str, tuple[float, int]] = {}
        self.hits = 0

    def get(self, keys):
        """Known values among keys."""
        found = {key: self.values[key] for key in keys if key in self.values}
        self.hits += len(found)
        return found

    def put(self, values):
        """Keep values (the first one stays)."""
        for key, value in values.items():
            self.values.setdefault(key, value)


@pytest.fixture(scope="module")
def tiny():
    """The tiny model, its tokenizer and the held-out examples tokenised."""
    runtime = pick_runtime()
    tokenizer = load_tokenizer(tiny_model_dir())
    model = load_base(tiny_model_dir(), runtime).eval()
    examples = prepare(tokenizer, [*HELDOUT, *REPLIES], 128).examples
    return model, tokenizer, runtime, examples


def test_packed_per_example_losses_equal_each_example_alone(tiny):
    model, tokenizer, runtime, examples = tiny
    fast = check_fast_paths(model, examples, runtime, tokenizer.pad_token_id)
    assert fast.packing and fast.head_only
    packed = EvalSet.of(examples, tokenizer.pad_token_id, fast)
    assert len(packed.batches) == 1 and packed.batches[0].padded_tokens == 0  # one row, no padding
    sums = packed.losses(model, runtime)
    with torch.no_grad():
        alone = [
            full_logits_loss(model, micro_batches([e], 1, tokenizer.pad_token_id)[0]).item() * e.answer_tokens
            for e in examples
        ]
    assert sums == pytest.approx(alone, rel=1e-4)
    assert packed.mean(sums) == pytest.approx(sum(alone) / sum(e.answer_tokens for e in examples), rel=1e-4)
    # Without segment attention (transformers' own masks) the numbers are the same.
    plain = EvalSet.of(examples, tokenizer.pad_token_id, FastPaths(segment_attention=False))
    assert plain.losses(model, runtime) == pytest.approx(alone, rel=1e-4)


def test_base_losses_are_computed_once_and_read_back(tiny):
    model, tokenizer, runtime, examples = tiny
    cache, identity = DictCache(), weights_identity(tiny_model_dir())
    first_set = EvalSet.of(examples[:4], tokenizer.pad_token_id)
    first, computed = base_losses(first_set, model, runtime, cache, identity, tokenizer.pad_token_id)
    assert computed == 4 and len(cache.values) == 4
    # A later set sharing three examples computes only the new ones.
    later_set = EvalSet.of(examples[1:6], tokenizer.pad_token_id)
    later, computed = base_losses(later_set, model, runtime, cache, identity, tokenizer.pad_token_id)
    assert computed == 2 and cache.hits == 3
    assert later[:3] == first[1:4] and later == pytest.approx(later_set.losses(model, runtime), rel=1e-5)
    # Another model, or the same example cut at another length, is another key.
    assert loss_key("other weights", examples[0]) != loss_key(identity, examples[0])
    whole = examples[len(HELDOUT)]
    cut = prepare(tokenizer, [REPLIES[0]], len(whole.ids) - 2).examples[0]
    assert cut.cut and loss_key(identity, cut) != loss_key(identity, whole)


def test_a_later_run_reads_the_base_models_heldout_loss(tmp_path: Path):
    cache = DictCache()
    first_reports, later_reports = Recorder(), Recorder()
    first = train(
        tiny_model_dir(), [*TRAIN, *REPLIES], HELDOUT + REPLIES[:3], HP, tmp_path / "a",
        on_progress=first_reports, should_stop=first_reports.should_stop, base_cache=cache,
    )  # fmt: skip
    assert len(cache.values) == 5 and cache.hits == 0
    # Another run on the same data and model (another seed) computes no base loss: it is read back.
    later = train(
        tiny_model_dir(), [*TRAIN, *REPLIES], HELDOUT + REPLIES[:3], HP.from_dict(HP.to_dict() | {"seed": 3}),
        tmp_path / "b", on_progress=later_reports, should_stop=later_reports.should_stop, base_cache=cache,
    )  # fmt: skip
    assert cache.hits == 5 and later.heldout_loss_before == first.heldout_loss_before
    assert "known from an earlier run" in later_reports.reports[0].message
    assert "known" not in first_reports.reports[0].message
    metrics = first.metrics
    assert metrics["heldout_loss_examples"] == metrics["heldout_examples"] == 5
    assert metrics["eval_every_steps"] >= HP.eval_every_steps and metrics["eval_seconds"] > 0
    # The share is of unrounded seconds; the stored seconds are rounded to hundredths.
    share = metrics["eval_seconds"] / metrics["train_seconds"]
    assert 0 < metrics["eval_share"] == pytest.approx(share, abs=0.01 / metrics["train_seconds"])


def test_the_database_keeps_base_losses_per_model(session, workspace_id):
    model = register_tiny(session)
    cache = DatabaseLossCache(model.id)
    assert cache.get(["a", "b"]) == {}
    cache.put({"a": (12.5, 5), "b": (3.0, 2)})
    cache.put({"a": (99.0, 9)})  # stored meanwhile by another run: the first value stays
    assert cache.get(["a", "b", "c"]) == {"a": (12.5, 5), "b": (3.0, 2)}
    assert DatabaseLossCache(model.id + 1).get(["a"]) == {}
    keys = [f"k{n}" for n in range(1200)]  # more than one query's worth
    cache.put({key: (1.0, 1) for key in keys})
    assert len(cache.get(keys)) == 1200


def _cost(plan, heldout: list[int], total_steps: int) -> int:
    """Tokens all checks of a plan read, the base model's check included."""
    return (checks_for(total_steps, plan.every) + 1) * sum(heldout[i] for i in plan.examples)


def test_checks_run_as_asked_when_they_fit_the_budget():
    heldout, train_tokens = [300] * 6, 160 * 300 * 3
    plan = plan_checks(heldout, train_tokens, total_steps=60, every_asked=6)
    assert plan.examples == tuple(range(6)) and plan.every == 6
    assert _cost(plan, heldout, 60) * FORWARD_COST <= EVAL_SHARE * train_tokens


@pytest.mark.parametrize(
    ("n_heldout", "n_train", "epochs", "steps", "every"),
    [(100, 150, 8, 152, 15), (60, 240, 4, 60, 6), (300, 1200, 2, 150, 15), (40, 60, 1, 8, 1)],
)
def test_checks_are_fewer_or_smaller_when_they_would_cost_too_much(n_heldout, n_train, epochs, steps, every):
    lengths = [200 + (37 * i) % 400 for i in range(n_heldout)]
    train_tokens = epochs * n_train * 400
    plan = plan_checks(lengths, train_tokens, steps, every)
    checks = checks_for(steps, plan.every)
    assert plan.every >= every  # never more often than asked
    if len(plan.examples) > min(MIN_EXAMPLES, n_heldout):  # the budget rules unless the minimum set does
        assert _cost(plan, lengths, steps) * FORWARD_COST <= EVAL_SHARE * train_tokens
    assert checks >= 1 and (checks >= MIN_CHECKS or len(plan.examples) <= MIN_EXAMPLES)
    assert len(plan.examples) == len(set(plan.examples)) and list(plan.examples) == sorted(plan.examples)
    assert plan == plan_checks(lengths, train_tokens, steps, every)  # the same plan on resume
