"""Packed rows and the answer-only loss give the same numbers as the plain way, with less padding."""

import pytest
import torch

from app.training.presets import Hyperparameters
from tests.tiny_model import tiny_model_dir
from worker.training.batching import (
    epoch_order,
    micro_batches,
    pack_rows,
    padded_batches,
    padding_share,
    step_indices,
)
from worker.training.config import pick_runtime
from worker.training.data import TrainingExample, load_tokenizer, prepare
from worker.training.loss import check_fast_paths, full_logits_loss, hf_padded_loss, loss_sum
from worker.training.model import load_base, with_lora

TEXTS = [
    ("Classify the ticket", "The invoice is wrong", "billing"),
    ("Reply to the client", "The container arrived late because of a storm", "Dear client, we apologise."),
    ("Summarise the monthly report for the board", "", "Revenue grew; costs stayed the same."),
    ("Extract the port", "Booking reference 123 from Hamburg to Rotterdam on Monday", "Rotterdam"),
    ("Say hello", "", "Hello"),
    ("Classify the ticket", "The order is damaged", "damage"),
]


@pytest.fixture(scope="module")
def setup():
    """The tiny model with a fresh LoRA adapter (B moved off zero so it matters), its tokenizer and data."""
    runtime = pick_runtime()
    tokenizer = load_tokenizer(tiny_model_dir())
    torch.manual_seed(0)
    model = with_lora(load_base(tiny_model_dir(), runtime), Hyperparameters())
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.1)
    model.eval()
    examples = prepare(tokenizer, [TrainingExample(*t) for t in TEXTS], 512).examples
    return model, tokenizer, examples


def test_first_fit_decreasing_fills_rows_without_exceeding_the_capacity():
    lengths = [5, 3, 3, 2, 7, 1]
    rows = pack_rows(lengths, 7)
    assert sorted(i for row in rows for i in row) == list(range(6))
    assert all(sum(lengths[i] for i in row) <= 7 for row in rows)
    assert rows == [[4], [0, 3], [1, 2, 5]]


def test_the_data_order_is_a_seeded_shuffle_per_epoch_and_steps_cover_each_example_once():
    assert epoch_order(10, 0, 0) == epoch_order(10, 0, 0)
    assert epoch_order(10, 0, 0) != epoch_order(10, 0, 1)
    assert epoch_order(10, 0, 0) != epoch_order(10, 1, 0)
    for epoch in range(2):
        seen = [i for step in range(epoch * 3, epoch * 3 + 3) for i in step_indices(10, 4, 0, step)]
        assert sorted(seen) == list(range(10))  # steps of 4, 4 and 2 examples
    assert len(step_indices(10, 4, 0, 2)) == 2


def test_packing_wastes_far_less_than_padding_each_example_to_the_longest(setup):
    _model, tokenizer, _examples = setup
    pad = tokenizer.pad_token_id
    # Answers of very different lengths, in an order that mixes short and long, as real data does.
    answers = ["Fine. " * n for n in (1, 40, 5, 60, 3, 20, 2, 35)]
    examples = prepare(tokenizer, [TrainingExample("Reply", "", a) for a in answers], 512).examples
    packed = micro_batches(examples, 2, pad)
    naive = padded_batches(examples, 2, pad)
    assert sum(b.real_tokens for b in packed) == sum(b.real_tokens for b in naive)
    assert sum(b.examples for b in packed) == len(examples)
    assert padding_share(packed) < padding_share(naive) / 2
    # Length grouping alone (one example per row, longest first) already beats the naive order.
    assert padding_share(micro_batches(examples, 2, pad, pack=False)) < padding_share(naive)
    # No row is longer than the longest example: attention never costs more than in a padded batch.
    assert max(b.input_ids.shape[1] for b in packed) == max(len(e.ids) for e in examples)


def test_packed_rows_give_the_same_loss_as_one_example_at_a_time(setup):
    model, tokenizer, examples = setup
    pad = tokenizer.pad_token_id
    with torch.no_grad():
        alone = sum(loss_sum(model, micro_batches([e], 1, pad)[0]).item() for e in examples)
        # One long row holding all six examples: the block-diagonal mask must keep them apart.
        one_row = micro_batches(examples, 1, pad, capacity=sum(len(e.ids) for e in examples))
        assert len(one_row) == 1 and one_row[0].input_ids.shape[0] == 1
        packed = loss_sum(model, one_row[0]).item()
        grouped = sum(loss_sum(model, b).item() for b in micro_batches(examples, 3, pad))
    assert packed == pytest.approx(alone, rel=1e-5)
    assert grouped == pytest.approx(alone, rel=1e-5)


def test_packed_examples_would_leak_into_each_other_with_the_kv_cache_on(setup):
    model, tokenizer, examples = setup
    batch = micro_batches(examples[:2], 1, tokenizer.pad_token_id, capacity=1000)[0]
    lm = model.get_base_model()
    with torch.no_grad():
        safe = lm(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False).logits
        leaky = lm(input_ids=batch.input_ids, position_ids=batch.position_ids).logits
    # Why loss_sum passes use_cache=False: with a cache, transformers ignores the restarting positions.
    assert not torch.allclose(safe, leaky, atol=1e-3)


def test_output_layer_on_answer_positions_only_equals_the_full_logits_loss(setup):
    model, tokenizer, examples = setup
    for batch in micro_batches(examples, 3, tokenizer.pad_token_id):
        with torch.no_grad():
            head_only = loss_sum(model, batch, head_only=True) / batch.loss_tokens
            plain = loss_sum(model, batch, head_only=False) / batch.loss_tokens
            reference = full_logits_loss(model, batch)
        assert head_only.item() == pytest.approx(reference.item(), rel=1e-5)
        assert plain.item() == pytest.approx(reference.item(), rel=1e-5)
    # And the standard Hugging Face recipe (padded rows, attention mask, labels) agrees on the same data.
    padded = padded_batches(examples, len(examples), tokenizer.pad_token_id)[0]
    packed = micro_batches(examples, len(examples), tokenizer.pad_token_id)
    with torch.no_grad():
        ours = sum(loss_sum(model, b).item() for b in packed) / padded.loss_tokens
        theirs = hf_padded_loss(model, padded).item()
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_the_start_of_run_check_finds_both_fast_paths_working_on_a_llama_model(setup):
    model, tokenizer, examples = setup
    fast = check_fast_paths(model, examples, pick_runtime(), tokenizer.pad_token_id)
    assert fast.packing and fast.head_only
