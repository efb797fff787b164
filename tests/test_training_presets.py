"""Presets follow the dataset (size, lengths, answers, model size); settings are checked; estimates add up."""

import json
import sys
from pathlib import Path

import pytest

from app.training.estimate import (
    SMOLLM2_135M_LINEAR_SHAPES,
    SMOLLM2_135M_PARAMS,
    duration_text,
    estimate,
    lora_parameters,
    targeted_shapes,
)
from app.training.presets import (
    PLANS,
    PRESET_NAMES,
    REFERENCE_LR,
    REFERENCE_PARAMS,
    DataProfile,
    Hyperparameters,
    describe,
    learning_rate,
    length_bucket,
    percentile,
    presets,
    rank_for,
    steps_per_epoch,
    total_steps,
    validate,
)

SMOLLM2 = Path(__file__).resolve().parent.parent / "data" / "models" / "smollm2-135m-instruct"


def profile(
    n: int, length: int = 300, answer: int = 120, params: int = REFERENCE_PARAMS, context: int = 8192
) -> DataProfile:
    """A dataset of `n` training examples of `length` rendered tokens, `answer` of them in the answer."""
    return DataProfile([length] * n, [answer] * n, {"draft": n}, params, context)


@pytest.mark.parametrize("n", [20, 100, 400, 1000, 5000])
def test_each_preset_follows_the_dataset_size(n: int):
    chosen = presets(profile(n))
    steps = {name: total_steps(n, hp) for name, hp in chosen.items()}
    passes = {name: steps[name] / steps_per_epoch(n, hp) for name, hp in chosen.items()}
    assert steps["quick"] < steps["balanced"] < steps["thorough"] or n >= 5000  # big sets: one full pass
    assert passes["balanced"] >= 1 and passes["thorough"] >= 2  # every example seen, thorough twice
    assert all(passes[name] <= PLANS[name].max_epochs for name in PRESET_NAMES)
    assert steps["quick"] >= PLANS["quick"].min_steps or passes["quick"] == PLANS["quick"].max_epochs
    for hp in chosen.values():
        assert hp.target_modules == "all-linear" and hp.alpha == 32
        assert hp.examples_per_step == (8 if n < 2000 else 16)
        assert validate(hp) == []
        assert 1 <= hp.eval_every_steps <= total_steps(n, hp)


def test_the_token_budget_sets_the_steps_small_sets_get_more_passes():
    small, large = presets(profile(100)), presets(profile(1000))
    assert small["balanced"].epochs > large["balanced"].epochs == 1
    # ~100k tokens at 8 examples of 300 tokens a step: 42 steps, i.e. 3.4 passes over 100 examples.
    assert total_steps(100, small["balanced"]) == 42 and small["balanced"].epochs == 4
    assert small["balanced"].max_steps == 42  # the last pass ends early
    # Quick on 1,000 examples stops inside the first pass; the line says so.
    quick = large["quick"]
    assert quick.epochs == 1 and total_steps(1000, quick) == 17 < steps_per_epoch(1000, quick)
    assert describe("quick", quick, 1000).startswith("A fast first try: 14% of one pass over your 1,000")
    assert presets(profile(5))["thorough"].epochs == 12  # capped: more would only memorise


def test_longer_examples_mean_fewer_steps_for_the_same_budget():
    short, long = presets(profile(200, length=150)), presets(profile(200, length=600))
    assert total_steps(200, short["balanced"]) > total_steps(200, long["balanced"])


def test_max_length_cuts_at_most_one_percent():
    lengths = [200] * 99 + [5000]
    assert percentile(lengths, 0.99) == 200
    assert presets(DataProfile(lengths))["balanced"].max_length == 256
    assert presets(DataProfile([200] * 95 + [900] * 5))["balanced"].max_length == 1024
    assert presets(profile(100, length=600))["balanced"].max_length == 768
    assert presets(profile(100, length=5000, context=2048))["balanced"].max_length == 2048
    assert length_bucket(10, 8192) == 256 and length_bucket(1025, 8192) == 1536
    # Longer rows, fewer of them per pass: memory per forward pass stays about the same.
    long_rows, short_rows = presets(profile(100, length=1000)), presets(profile(100, length=200))
    assert long_rows["balanced"].batch_size < short_rows["balanced"].batch_size


def test_learning_rate_follows_the_model_size_and_the_batch():
    assert learning_rate(REFERENCE_PARAMS, 8) == REFERENCE_LR
    assert 1e-4 <= learning_rate(7_000_000_000, 8) <= 2e-4  # the literature's LoRA rate for 7B models
    assert learning_rate(REFERENCE_PARAMS, 16) == pytest.approx(REFERENCE_LR * 2**0.5, rel=0.05)
    assert learning_rate(10**12, 8) == 5e-5 and learning_rate(10**6, 16) == 2e-3  # kept in a sane range
    assert presets(profile(100, params=1_700_000_000))["balanced"].learning_rate < REFERENCE_LR


def test_rank_follows_the_answer_tokens():
    assert [rank_for(tokens) for tokens in (2_000, 49_999, 50_000, 499_999, 5_000_000)] == [8, 8, 16, 16, 32]
    assert presets(profile(100, answer=10))["balanced"].rank == 8
    assert presets(profile(1000, answer=120))["balanced"].rank == 16
    # Without answer counts, half of each example is taken as answer.
    assert presets(DataProfile([1000] * 2000))["balanced"].rank == 32


def test_each_preset_has_a_plain_english_line():
    chosen = presets(profile(120))
    line = describe("balanced", chosen["balanced"], 120)
    assert line.startswith("The recommended choice: 2.8 passes over your 120 examples")
    assert f"({total_steps(120, chosen['balanced'])} training steps)" in line
    assert "Good to check the data works" in describe("quick", chosen["quick"], 120)
    whole = Hyperparameters(epochs=3, batch_size=4, grad_accum=2)
    assert describe("thorough", whole, 80).startswith("Trains longest, 3 passes over your 80 examples (30 ")


def test_a_step_limit_ends_the_run_inside_its_last_pass():
    hp = Hyperparameters(epochs=3, batch_size=4, grad_accum=2, max_steps=25)
    assert steps_per_epoch(80, hp) == 10 and total_steps(80, hp) == 25
    assert total_steps(80, Hyperparameters(epochs=3, batch_size=4, grad_accum=2)) == 30
    guess = estimate([100] * 80, hp, tokens_per_second=100.0, params=SMOLLM2_135M_PARAMS)
    assert guess.total_tokens == 2.5 * 80 * 100 and guess.steps == 25
    assert validate(Hyperparameters(max_steps=-1))[0].startswith("Step limit must be")


def test_validate_names_each_field_and_the_allowed_range():
    errors = validate(
        Hyperparameters(rank=0, dropout=0.9, learning_rate=1.0, batch_size=0, target_modules="q_proj; DROP")
    )
    assert len(errors) == 5
    assert (
        errors[0] == "LoRA rank must be a whole number from 1 to 256; it is 0. 8 to 32 suits most datasets."
    )
    assert any(e.startswith("Dropout must be a number from 0 to 0.5; it is 0.9") for e in errors)
    assert any(e.startswith("Learning rate must be") for e in errors)
    assert any(e.startswith("Batch size must be") for e in errors)
    assert any(e.startswith("Target modules must be 'all-linear'") for e in errors)
    assert validate(Hyperparameters(target_modules="q_proj, v_proj")) == []
    assert validate(Hyperparameters(max_length=4096), context_tokens=2048)[0].startswith("Maximum length")
    assert validate(Hyperparameters(epochs=2.5)) != []  # a whole number is needed


def test_hyperparameters_round_trip_through_a_stored_dict():
    hp = Hyperparameters(rank=8, epochs=5)
    stored = json.loads(json.dumps(hp.to_dict()))
    assert Hyperparameters.from_dict({**stored, "from_a_newer_version": 1}) == hp


def test_the_smollm2_adapter_size_follows_from_its_layer_shapes():
    # 30 layers x (q 576+576, k 576+192, v 576+192, o 576+576, gate/up 576+1536 twice, down 1536+576).
    assert len(SMOLLM2_135M_LINEAR_SHAPES) == 30 * 7
    assert lora_parameters(SMOLLM2_135M_LINEAR_SHAPES, Hyperparameters()) == 16 * 30 * 10_176 == 4_884_480
    only_attention = Hyperparameters(target_modules="q_proj,v_proj")
    assert len(targeted_shapes(SMOLLM2_135M_LINEAR_SHAPES, only_attention.target_modules)) == 60
    assert lora_parameters(SMOLLM2_135M_LINEAR_SHAPES, only_attention) == 16 * 30 * (1152 + 768)


def test_the_estimate_in_business_terms():
    hp = Hyperparameters(epochs=2, batch_size=4, grad_accum=2, max_length=1024)
    counts = [500] * 97 + [2000] * 3
    guess = estimate(counts, hp, tokens_per_second=100.0, params=SMOLLM2_135M_PARAMS)
    assert guess.cut_examples == 3
    assert guess.total_tokens == 2 * (97 * 500 + 3 * 1024)
    assert guess.steps == 2 * 13
    assert guess.seconds == pytest.approx(15 + guess.total_tokens / 100.0)
    assert guess.adapter_mb == pytest.approx(4_884_480 * 4 / 1e6)
    assert guess.trainable_share == pytest.approx(4_884_480 / SMOLLM2_135M_PARAMS)
    assert (
        guess.summary()
        == "about 17 minutes on this machine; adapter ~20 MB; 3 examples will be cut at 1,024 tokens"
    )
    with_checks = estimate(counts, hp, 100.0, SMOLLM2_135M_PARAMS, heldout_token_counts=[300] * 10)
    # 2 epochs -> a check after each and one for the base model: 3 checks of 3,000 tokens at a third the cost.
    assert with_checks.seconds == pytest.approx(guess.seconds + 3 * 3000 / 3 / 100.0)
    one = estimate([100, 2000], hp, 1000.0, SMOLLM2_135M_PARAMS)
    assert one.summary().endswith("1 example will be cut at 1,024 tokens")
    assert [duration_text(s) for s in (20, 65, 240, 5400, 9000)] == [
        "under a minute", "about 1 minute", "about 4 minutes", "about 1.5 hours", "about 2.5 hours",
    ]  # fmt: skip


@pytest.mark.skipif(not (SMOLLM2 / "config.json").is_file(), reason="bundled model not imported (make setup)")
def test_the_smollm2_shapes_constant_matches_the_real_model():
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from worker.training.model import linear_shapes

    # Built on the meta device: the real module tree without loading a single weight.
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(SMOLLM2))
    assert linear_shapes(model) == SMOLLM2_135M_LINEAR_SHAPES
    assert sum(p.numel() for p in model.parameters()) == SMOLLM2_135M_PARAMS


def test_the_web_side_never_imports_torch():
    import subprocess

    code = "import sys, app.training.presets, app.training.estimate; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_choosing_passes_or_batch_yourself_drops_the_presets_step_limit():
    from app.services.run_launch import with_overrides

    preset = presets(profile(1000))["quick"]
    assert preset.max_steps > 0
    assert with_overrides({"epochs": 2}, preset).max_steps == 0  # 2 whole passes, as asked
    assert with_overrides({"learning_rate": 5e-4}, preset).max_steps == preset.max_steps
    assert with_overrides({"epochs": 2, "max_steps": 30}, preset).max_steps == 30
    assert with_overrides(None, preset) is preset
