"""The training benchmark is honest: padding is not counted as work, every arm trains on the same examples in
the same steps, the held-out loss is one computation for all arms, and Lastmile's faster paths compute what
PEFT and transformers compute. Runs on the tiny model; speed itself is never asserted here."""

from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from app.training.presets import Hyperparameters
from bench.recipe_arms import EXAMPLES_PER_STEP, Feed, Spec, lastmile_hyperparameters, run_arm, step_order
from bench.recipe_data import make_examples, split
from bench.recipe_measures import heldout_loss
from tests.tiny_model import tiny_model_dir
from worker.training.attention import segment_attention, segment_bounds, use_segment_attention
from worker.training.batching import IGNORE, micro_batches, step_indices
from worker.training.config import pick_runtime
from worker.training.data import load_tokenizer, prepare
from worker.training.lora_fused import fuse_lora
from worker.training.loss import loss_sum
from worker.training.model import load_base, with_lora

STEPS = 2


@pytest.fixture(scope="module")
def arms(tmp_path_factory) -> tuple[Spec, dict[str, dict], dict[str, Feed]]:
    """All three training arms run in this process on the tiny model, on 16 short generated pairs.

    The learning rate is the smallest the form accepts, so every arm ends at (nearly) the same adapter and
    their held-out losses must agree if, and only if, they are computed the same way.
    """
    tokenizer = load_tokenizer(tiny_model_dir())
    pairs = make_examples(80, seed=3)
    lengths = [len(e.ids) for e in prepare(tokenizer, pairs, 100_000).examples]
    short = [pair for pair, n in zip(pairs, lengths, strict=True) if n < 300]
    training, heldout = split(short[: STEPS * EXAMPLES_PER_STEP + 4], heldout=4)
    spec = Spec(
        model_dir=str(tiny_model_dir()),
        out_dir=str(tmp_path_factory.mktemp("bench")),
        examples=[asdict(e) for e in training],
        heldout=[asdict(e) for e in heldout],
        max_length=512,
        learning_rate=1e-7,
    )
    feeds = {name: Feed() for name in ("b0", "b1", "lastmile")}
    results = {name: run_arm(name, spec, feed) for name, feed in feeds.items()}
    return spec, results, feeds


def _tokenized(spec: Spec) -> list:
    """Lastmile's tokenisation of the benchmark's training pairs."""
    return prepare(load_tokenizer(Path(spec.model_dir)), spec.training(), spec.max_length).examples


def test_a_padded_batch_counts_only_the_tokens_its_attention_mask_keeps():
    feed = Feed()
    feed.record(
        {
            "input_ids": torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0]]),
            "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]),
            "labels": torch.tensor([[IGNORE, IGNORE, 7, 8], [IGNORE, 6, IGNORE, IGNORE]]),
        }
    )
    assert (feed.real_tokens, feed.answer_tokens, feed.positions) == (6, 3, 8)
    assert feed.batches == [[[5, 6, 7, 8], [5, 6]]]


def test_every_arm_counts_real_tokens_only_and_reports_its_padding(arms):
    spec, results, _feeds = arms
    examples = _tokenized(spec)
    real, answers = sum(len(e.ids) for e in examples), sum(e.answer_tokens for e in examples)
    for name, result in results.items():
        assert result["steps"] == STEPS, name
        assert (result["real_tokens"], result["answer_tokens"]) == (real, answers), name
        assert result["positions"] >= real
        assert result["padding_share"] == pytest.approx(1 - real / result["positions"])
    # Mixed lengths: padding to the longest in a batch wastes positions, packing wastes fewer.
    assert (
        results["b0"]["padding_share"] > results["b1"]["padding_share"] > results["lastmile"]["padding_share"]
    )


def test_every_arm_trains_on_the_same_examples_in_the_same_steps(arms):
    spec, _results, feeds = arms
    examples = _tokenized(spec)
    hp = lastmile_hyperparameters(spec)
    assert (hp.examples_per_step, hp.seed, hp.epochs) == (EXAMPLES_PER_STEP, spec.seed, 1)
    # Lastmile's loop draws step s from step_indices(n, 8, seed, s); the Trainer arms read step_order.
    expected = [
        [list(examples[i].ids) for i in step_indices(len(examples), EXAMPLES_PER_STEP, spec.seed, step)]
        for step in range(STEPS)
    ]
    assert step_order(len(examples), spec.seed) == [
        i for step in range(STEPS) for i in step_indices(len(examples), EXAMPLES_PER_STEP, spec.seed, step)
    ]
    for name in ("b0", "b1"):
        rows = [row for batch in feeds[name].batches for row in batch]
        fed = [rows[s * EXAMPLES_PER_STEP : (s + 1) * EXAMPLES_PER_STEP] for s in range(STEPS)]
        # B0 tokenises with TRL's own code, yet the token ids are Lastmile's, row for row.
        assert fed == expected, name
    per_step = [sum(len(ids) for ids in step) for step in expected]
    assert {name: feed.step_tokens for name, feed in feeds.items()} == dict.fromkeys(feeds, per_step)


def test_the_heldout_loss_is_one_computation_for_every_arm(arms):
    spec, results, _feeds = arms
    losses = [results[name]["heldout_loss"] for name in ("b0", "b1", "lastmile")]
    assert max(losses) - min(losses) < 1e-4
    # And that computation is the plain Hugging Face loss over the held-out answers, one example at a time.
    tokenizer = load_tokenizer(Path(spec.model_dir))
    model = load_base(Path(spec.model_dir), pick_runtime()).eval()
    total = tokens = 0
    with torch.no_grad():
        for example in prepare(tokenizer, spec.heldout_examples(), spec.max_length).examples:
            ids = torch.tensor([example.ids])
            labels = torch.full_like(ids, IGNORE)
            labels[0, example.answer_start :] = ids[0, example.answer_start :]
            total += model(input_ids=ids, labels=labels).loss.item() * example.answer_tokens
            tokens += example.answer_tokens
    assert heldout_loss(model, tokenizer, spec.heldout_examples(), spec.max_length) == pytest.approx(
        total / tokens, rel=1e-5
    )
    assert losses[0] == pytest.approx(total / tokens, rel=1e-4)


@pytest.fixture()
def lora_model():
    """The tiny model with LoRA whose B is off zero, so the adapter changes every layer's output."""
    torch.manual_seed(0)
    model = with_lora(load_base(tiny_model_dir(), pick_runtime()), Hyperparameters(dropout=0.0))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.1)
    tokenizer = load_tokenizer(tiny_model_dir())
    pairs = make_examples(40, seed=5)
    examples = [e for e in prepare(tokenizer, pairs, 512).examples if len(e.ids) < 200][:5]
    # Rows twice the longest example: several examples share a row.
    capacity = 2 * max(len(e.ids) for e in examples)
    return model, micro_batches(examples, 2, tokenizer.pad_token_id, capacity=capacity)


def _loss_and_grads(model, batches) -> tuple[float, torch.Tensor]:
    """Summed loss over `batches` and the LoRA gradients, flattened."""
    model.zero_grad(set_to_none=True)
    total = 0.0
    for batch in batches:
        loss = loss_sum(model, batch)
        loss.backward()
        total += loss.item()
    return total, torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_segment_attention_and_fused_lora_give_peft_and_sdpa_numbers(lora_model):
    model, batches = lora_model
    assert any(b.examples > b.input_ids.shape[0] for b in batches)  # some rows hold several examples
    reference, reference_grads = _loss_and_grads(model, batches)
    assert use_segment_attention(model)
    assert fuse_lora(model) == 14  # 7 linear layers x 2 layers
    loss, grads = _loss_and_grads(model, batches)
    assert loss == pytest.approx(reference, rel=1e-5)
    # fp32 rounding differs in the order of the sums; a wrong gradient would be off by its own size.
    assert torch.allclose(grads, reference_grads, rtol=1e-4, atol=1e-5 * reference_grads.abs().max().item())


def test_fused_lora_dropout_drops_the_share_asked_and_rescales_what_it_keeps():
    from peft import LoraConfig, get_peft_model

    class One(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(64, 8, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.proj(x)

    torch.manual_seed(0)
    model = get_peft_model(One(), LoraConfig(r=4, lora_alpha=8, lora_dropout=0.25, target_modules=["proj"]))
    layer = model.base_model.model.proj
    with torch.no_grad():
        layer.base_layer.weight.zero_()
        layer.lora_A["default"].weight.fill_(1.0)
        layer.lora_B["default"].weight.fill_(1.0)
    fuse_lora(model)
    x = torch.ones(4000, 64, requires_grad=True)
    out = model(x)
    # Each output is scaling (2) x rank (4) x (kept inputs) / 0.75: its mean is 8 x 64, as without dropout.
    kept = out[:, 0] / (2 * 4 / 0.75)
    assert kept.mean().item() == pytest.approx(0.75 * 64, rel=0.01)
    assert torch.allclose(kept, kept.round(), atol=1e-3)  # whole numbers of kept inputs
    out.sum().backward()
    # The input gradient is W (zero) plus the LoRA path through the kept inputs only: 0 exactly where dropped.
    dropped_share = (x.grad == 0).float().mean().item()
    assert dropped_share == pytest.approx(0.25, abs=0.01)
    model.eval()
    assert torch.equal(model(x[:3]), torch.full((3, 8), 2.0 * 4 * 64))  # no dropout when evaluating


def test_segments_follow_the_restarting_positions_and_fall_back_to_sdpa_with_a_mask():
    positions = torch.tensor([[0, 1, 2, 0, 1, 0], [0, 1, 2, 3, 4, 5]])
    assert segment_bounds(positions) == [[(0, 3), (3, 5), (5, 6)], [(0, 6)]]
    q, k, v = torch.randn(2, 4, 6, 8), torch.randn(2, 2, 6, 8), torch.randn(2, 2, 6, 8)

    class Module:
        num_key_value_groups, is_causal = 2, True

    out, _ = segment_attention(Module(), q, k, v, None, position_ids=positions)
    # The second row is one example: the plain causal result.
    sdpa = torch.nn.functional.scaled_dot_product_attention
    plain = sdpa(q[1:], k[1:], v[1:], is_causal=True, enable_gqa=True)
    assert torch.allclose(out[1], plain[0].transpose(0, 1), atol=1e-6)
    # The first row's second example does not see the first one.
    alone = sdpa(q[:1, :, 3:5], k[:1, :, 3:5], v[:1, :, 3:5], is_causal=True, enable_gqa=True)
    assert torch.allclose(out[0, 3:5], alone[0].transpose(0, 1), atol=1e-6)
    mask = torch.ones(2, 1, 6, 6, dtype=torch.bool).tril()
    masked, _ = segment_attention(Module(), q, k, v, mask, position_ids=positions)
    assert torch.allclose(masked[1], plain[0].transpose(0, 1), atol=1e-6)
