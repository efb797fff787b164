"""Training runs on the tiny model: loss goes down, the adapter loads, cancel, checkpoints and resume."""

import json
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from app.training.estimate import estimate
from app.training.presets import Hyperparameters
from tests.tiny_model import tiny_model_dir
from worker.training import TrainingError, TrainingExample, train
from worker.training.checkpoints import complete_checkpoints, latest_checkpoint
from worker.training.config import physical_cores, pick_runtime
from worker.training.data import load_tokenizer, prepare
from worker.training.model import linear_shapes, load_base
from worker.training.session import lr_factor

TICKETS = [
    ("The invoice is wrong", "billing"),
    ("The container arrived late", "delivery"),
    ("The box was broken", "damage"),
    ("Where is my order", "delivery"),
]
TRAIN = [TrainingExample("Classify the ticket", text, label) for text, label in TICKETS * 4]
HELDOUT = [TrainingExample("Classify the ticket", text, label) for text, label in TICKETS[:2]]
# A high learning rate and no dropout: the tiny model memorises the labels in a few dozen steps.
FAST = Hyperparameters(
    learning_rate=1e-2, dropout=0.0, epochs=6, batch_size=2, grad_accum=2, max_length=128,
    eval_every_steps=6, checkpoint_every_steps=6,
)  # fmt: skip


class Recorder:
    """Collects progress reports; stops the run once `stop_after` optimizer steps are done."""

    def __init__(self, stop_after: int | None = None) -> None:
        """Record everything; request a stop after `stop_after` steps (None: never)."""
        self.reports = []
        self.stop_after = stop_after

    def __call__(self, progress) -> None:
        """on_progress."""
        self.reports.append(progress)

    def should_stop(self) -> bool:
        """should_stop."""
        done = max((r.step for r in self.reports), default=0)
        return self.stop_after is not None and done >= self.stop_after


def run(out: Path, hp: Hyperparameters = FAST, recorder: Recorder | None = None, **kwargs):
    """Train the tiny model on the tickets into `out`."""
    recorder = recorder or Recorder()
    return train(
        tiny_model_dir(), kwargs.pop("train_examples", TRAIN), HELDOUT, hp, out,
        on_progress=recorder, should_stop=recorder.should_stop, **kwargs,
    )  # fmt: skip


def test_training_lowers_the_loss_and_saves_an_adapter_that_changes_the_model(tmp_path: Path):
    from peft import PeftModel

    recorder = Recorder()
    result = run(tmp_path / "run", recorder=recorder, dataset_hash="abc123")

    assert result.state == "succeeded"
    history = result.metrics["loss_history"]
    assert len(history) == result.metrics["steps"] == 24
    assert history[-1][1] < 0.5 * history[0][1]
    assert result.heldout_loss_after < 0.5 * result.heldout_loss_before
    assert result.metrics["best_step"] in (6, 12, 18, 24)

    files = {p.name for p in result.adapter_dir.iterdir()}
    assert files == {"adapter_model.safetensors", "adapter_config.json", "README.md"}
    assert result.adapter_bytes == (result.adapter_dir / "adapter_model.safetensors").stat().st_size
    card = (result.adapter_dir / "README.md").read_text()
    assert "Dataset snapshot (sha256): abc123" in card and "Base model weights (sha256): " in card
    assert f"{result.heldout_loss_after:.4f}" in card
    assert json.loads((result.adapter_dir / "adapter_config.json").read_text())["r"] == 16
    assert not (tmp_path / "run" / "checkpoints").exists()  # only needed to resume

    # Progress: the base model's baseline first, then every step, held-out checks at 6, 12, 18, 24.
    assert recorder.reports[0].step == 0 and recorder.reports[0].heldout_loss == result.heldout_loss_before
    steps = [r.step for r in recorder.reports if r.heldout_loss is None]
    assert steps == list(range(1, 25))
    assert [r.step for r in recorder.reports if r.heldout_loss is not None] == [0, 6, 12, 18, 24]
    assert recorder.reports[-1].eta_seconds == 0 and recorder.reports[-1].tokens_per_second > 0
    assert all(r.total_steps == 24 for r in recorder.reports)

    # The saved adapter loads with PEFT on a fresh base model and changes its answers.
    tokenizer = load_tokenizer(tiny_model_dir())
    ids = torch.tensor([prepare(tokenizer, HELDOUT[:1], 128).examples[0].ids])
    base = load_base(tiny_model_dir(), pick_runtime())
    with torch.no_grad():
        before = base(input_ids=ids).logits
        adapted = PeftModel.from_pretrained(base, str(result.adapter_dir))(input_ids=ids).logits
    assert (adapted - before).abs().max() > 1e-2


def test_the_estimate_matches_the_real_run(tmp_path: Path):
    result = run(tmp_path / "run", Hyperparameters(**{**FAST.to_dict(), "epochs": 1}))
    tokenizer = load_tokenizer(tiny_model_dir())
    lengths = [len(e.ids) for e in prepare(tokenizer, TRAIN, 10_000).examples]
    base = load_base(tiny_model_dir(), pick_runtime())
    shapes = linear_shapes(base)
    assert len(shapes) == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers
    guess = estimate(lengths, FAST, 1000.0, sum(p.numel() for p in base.parameters()), shapes)
    assert guess.adapter_mb * 1e6 == pytest.approx(result.adapter_bytes, rel=0.10)
    assert guess.trainable_params == result.trainable_params
    assert guess.steps == result.metrics["steps"] * FAST.epochs
    assert guess.total_tokens == result.metrics["tokens_seen"] * FAST.epochs


def test_micro_batch_split_does_not_change_the_trajectory(tmp_path: Path):
    # Same examples per step (4), split as 4 passes of 1 row or 1 pass of 4 rows: the answer tokens of
    # the whole step are weighted equally either way, so the losses agree.
    hp = Hyperparameters(**{**FAST.to_dict(), "epochs": 1})
    one_pass = run(tmp_path / "a", Hyperparameters(**{**hp.to_dict(), "batch_size": 4, "grad_accum": 1}))
    four_passes = run(tmp_path / "b", Hyperparameters(**{**hp.to_dict(), "batch_size": 1, "grad_accum": 4}))
    a = [loss for _step, loss in one_pass.metrics["loss_history"]]
    b = [loss for _step, loss in four_passes.metrics["loss_history"]]
    assert a == pytest.approx(b, rel=1e-5)


def test_should_stop_cancels_between_steps_without_an_adapter(tmp_path: Path):
    recorder = Recorder(stop_after=2)
    result = run(tmp_path / "run", recorder=recorder)
    assert result.state == "cancelled"
    assert result.adapter_dir is None and not (tmp_path / "run" / "adapter").exists()
    assert result.metrics["steps"] == 2
    assert max(r.step for r in recorder.reports) == 2


def test_a_resumed_run_follows_the_uninterrupted_trajectory(tmp_path: Path):
    hp = Hyperparameters(**{**FAST.to_dict(), "epochs": 2, "dropout": 0.1, "checkpoint_every_steps": 3})
    straight = run(tmp_path / "straight", hp)
    assert straight.metrics["steps"] == 8

    interrupted = run(tmp_path / "resumed", hp, recorder=Recorder(stop_after=5))
    assert interrupted.state == "cancelled"
    assert [step for step, _ in complete_checkpoints(tmp_path / "resumed" / "checkpoints")] == [3]
    # A kill while writing the next checkpoint leaves a hidden temp folder: it must be ignored.
    leftover = tmp_path / "resumed" / "checkpoints" / ".step-6.tmp-x1y2"
    leftover.mkdir()
    (leftover / "state.json").write_text("{")
    assert latest_checkpoint(tmp_path / "resumed").name == "step-3"

    resumed = run(tmp_path / "resumed", hp, resume_from=tmp_path / "resumed")
    assert resumed.state == "succeeded" and not leftover.exists()
    assert resumed.metrics["steps"] == 8
    # Steps 4-8 after the resume repeat the uninterrupted run: same data order, dropout draws, optimizer.
    losses = [loss for _step, loss in resumed.metrics["loss_history"]]
    assert losses == pytest.approx([loss for _step, loss in straight.metrics["loss_history"]], abs=1e-5)
    assert resumed.heldout_loss_after == pytest.approx(straight.heldout_loss_after, abs=1e-5)
    ours = load_file(resumed.adapter_dir / "adapter_model.safetensors")
    theirs = load_file(straight.adapter_dir / "adapter_model.safetensors")
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-5) for k in theirs)


def test_resuming_with_other_examples_is_refused(tmp_path: Path):
    hp = Hyperparameters(**{**FAST.to_dict(), "epochs": 1, "checkpoint_every_steps": 2})
    run(tmp_path / "run", hp, recorder=Recorder(stop_after=3))
    with pytest.raises(TrainingError, match="other examples or settings"):
        run(tmp_path / "run", hp, resume_from=tmp_path / "run", train_examples=TRAIN[:-1])


def test_resume_without_a_checkpoint_starts_from_the_beginning(tmp_path: Path):
    hp = Hyperparameters(**{**FAST.to_dict(), "epochs": 1})
    result = run(tmp_path / "run", hp, resume_from=tmp_path / "run")
    assert result.state == "succeeded" and result.metrics["steps"] == 4


def test_without_heldout_examples_the_last_step_is_kept(tmp_path: Path):
    hp = Hyperparameters(**{**FAST.to_dict(), "epochs": 1})
    result = train(
        tiny_model_dir(),
        TRAIN,
        [],
        hp,
        tmp_path / "run",
        on_progress=lambda p: None,
        should_stop=lambda: False,
    )
    assert result.state == "succeeded" and (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert result.heldout_loss_before is None and result.heldout_loss_after is None
    assert "| Held-out loss, base model | n/a |" in (result.adapter_dir / "README.md").read_text()


def test_invalid_settings_and_unusable_data_are_refused_before_training(tmp_path: Path):
    with pytest.raises(TrainingError, match="LoRA rank must be a whole number from 1 to 256"):
        run(tmp_path / "a", Hyperparameters(**{**FAST.to_dict(), "rank": 0}))
    too_long = [TrainingExample("Classify the ticket " * 40, "", "billing")]
    with pytest.raises(TrainingError, match="None of the 1 training examples can be used"):
        run(tmp_path / "b", train_examples=too_long)


def test_the_learning_rate_warms_up_then_decays_to_a_tenth():
    factors = [lr_factor(step, 100) for step in range(100)]
    assert factors[:5] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])  # 5% warmup
    assert factors[5] == pytest.approx(1.0)
    assert all(a >= b for a, b in pairwise(factors[5:]))
    assert factors[-1] == pytest.approx(0.1, abs=0.01)
    assert lr_factor(0, 4) == 1.0  # short runs start at the full rate (no wasted step)


def test_torch_uses_one_thread_per_physical_core():
    import os

    assert 1 <= physical_cores() <= (os.cpu_count() or 1)
