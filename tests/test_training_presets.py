"""Presets land in the literature's step ranges; settings are validated; estimates add up."""

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
    Hyperparameters,
    describe,
    length_bucket,
    percentile,
    presets,
    total_steps,
    validate,
)

SMOLLM2 = Path(__file__).resolve().parent.parent / "data" / "models" / "smollm2-135m-instruct"


@pytest.mark.parametrize("n", [100, 150, 250, 400, 700, 1000])
def test_presets_land_in_the_step_ranges_for_100_to_1000_examples(n: int):
    chosen = presets(n, [300] * n)
    steps = {name: total_steps(n, hp) for name, hp in chosen.items()}
    assert 100 <= steps["balanced"] <= 300
    assert 100 <= steps["thorough"] <= 300
    assert 20 <= steps["quick"] < steps["balanced"] < steps["thorough"]
    for hp in chosen.values():
        assert (hp.rank, hp.alpha, hp.learning_rate, hp.target_modules) == (16, 32, 2e-4, "all-linear")
        assert 8 <= hp.examples_per_step <= 16
        assert validate(hp) == []
        assert 1 <= hp.eval_every_steps <= total_steps(n, hp)


def test_small_datasets_get_more_passes_but_never_past_the_cap():
    small, large = presets(100, [300] * 100), presets(1000, [300] * 1000)
    assert small["balanced"].epochs > large["balanced"].epochs
    assert presets(5, [300] * 5)["thorough"].epochs == 12  # capped: more would only memorise
    assert presets(5, [300] * 5)["quick"].epochs == 3


def test_max_length_follows_the_95th_percentile_in_buckets_within_the_context():
    lengths = [200] * 95 + [5000] * 5
    assert percentile(lengths, 0.95) == 200
    assert presets(100, lengths)["balanced"].max_length == 256
    assert presets(100, [600] * 100)["balanced"].max_length == 768
    assert presets(100, [1000] * 100)["balanced"].max_length == 1024
    assert presets(100, [5000] * 100, context_tokens=2048)["balanced"].max_length == 2048
    assert length_bucket(10, 8192) == 256 and length_bucket(1025, 8192) == 1536
    # Longer rows, fewer of them per pass: memory per forward pass stays about the same.
    assert (
        presets(100, [1000] * 100)["balanced"].batch_size < presets(100, [200] * 100)["balanced"].batch_size
    )


def test_each_preset_has_a_plain_english_line():
    chosen = presets(120, [300] * 120)
    line = describe("balanced", chosen["balanced"], 120)
    assert line.startswith("The recommended choice: 8 passes over your 120 examples")
    assert f"({total_steps(120, chosen['balanced'])} training steps)" in line
    assert "Good to check the data works" in describe("quick", chosen["quick"], 120)


def test_validate_names_each_field_and_the_allowed_range():
    errors = validate(
        Hyperparameters(rank=0, dropout=0.9, learning_rate=1.0, batch_size=0, target_modules="q_proj; DROP")
    )
    assert len(errors) == 5
    assert errors[0] == "LoRA rank must be a whole number from 1 to 256; it is 0. 16 suits most datasets."
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
