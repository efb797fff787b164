"""Four optimizer steps on the bundled SmolLM2-135M-Instruct with the sample data lower the held-out loss."""

from pathlib import Path

import pytest

from app.ingest.registry import parse_file
from app.ingest.types import ExampleDraft, Limits
from app.sample_data import sample_files
from app.settings import Settings
from app.training.estimate import SMOLLM2_135M_PARAMS, estimate
from app.training.presets import Hyperparameters
from worker.training import TrainingExample, train
from worker.training.data import load_tokenizer, prepare

SMOLLM2 = Path(__file__).resolve().parent.parent / "data" / "models" / "smollm2-135m-instruct"
# 4 examples per step (2 rows per pass, 2 passes), one pass over 16 examples: 4 optimizer steps.
HP = Hyperparameters(
    learning_rate=5e-4, epochs=1, batch_size=2, grad_accum=2, max_length=384,
    eval_every_steps=4, checkpoint_every_steps=4,
)  # fmt: skip


def sample_examples() -> dict[str, list[ExampleDraft]]:
    """The sample data's examples by file, parsed like an upload."""
    limits = Limits.from_settings(Settings())
    by_file: dict[str, list[ExampleDraft]] = {}
    for name, data in sample_files():
        for parsed in parse_file(name, data, limits):
            by_file.setdefault(name.split("/")[0], []).extend(parsed.examples)
    return by_file


def split() -> tuple[list[TrainingExample], list[TrainingExample]]:
    """16 training and 6 held-out examples: client replies, ticket classes, booking extractions, a report."""
    files = sample_examples()
    replies, tickets = files["client-replies.mbox"], files["support-tickets.csv"]
    bookings, reports = files["booking-extraction.jsonl"], files["reports"]
    heldout = [*replies[:2], *tickets[:2], *bookings[:2]]
    longest_report = max(reports, key=lambda e: len(e.output))
    training = [*replies[2:8], *tickets[2:9], *bookings[2:4], longest_report]
    return [TrainingExample(e.instruction, e.input, e.output) for e in training], [
        TrainingExample(e.instruction, e.input, e.output) for e in heldout
    ]


@pytest.mark.slow
@pytest.mark.skipif(
    not (SMOLLM2 / "model.safetensors").is_file(),
    reason="the bundled SmolLM2-135M-Instruct is not imported: run `make setup` (or `lastmile import-model`)",
)
def test_a_few_steps_on_smollm2_lower_the_heldout_loss(tmp_path: Path):
    training, heldout = split()
    assert len(training) == 16 and len(heldout) == 6
    reports = []
    result = train(
        SMOLLM2, training, heldout, HP, tmp_path / "run",
        on_progress=reports.append, should_stop=lambda: False, model_name="SmolLM2-135M-Instruct",
    )  # fmt: skip
    metrics = result.metrics

    assert result.state == "succeeded" and metrics["steps"] == 4
    assert result.heldout_loss_after < result.heldout_loss_before
    assert metrics["packing"] and metrics["head_only_loss"]
    assert result.cut_examples == 1  # the longest monthly report is longer than 384 tokens
    # The estimate the web shows before the run matches the real adapter within 10%.
    lengths = [len(e.ids) for e in prepare(load_tokenizer(SMOLLM2), training, 10_000).examples]
    guess = estimate(lengths, HP, metrics["tokens_per_second"], SMOLLM2_135M_PARAMS)
    assert guess.adapter_mb * 1e6 == pytest.approx(result.adapter_bytes, rel=0.10)
    assert guess.total_tokens == metrics["tokens_seen"] and guess.cut_examples == 1
    assert "SmolLM2-135M-Instruct" in (result.adapter_dir / "README.md").read_text()

    answer_rate = metrics["answer_tokens_seen"] / metrics["train_seconds"]
    print(
        f"\nSmolLM2-135M, 4 steps x 4 examples, max_length 384: "
        f"{metrics['tokens_per_second']:.0f} real tokens/s, "
        f"{answer_rate:.0f} answer tokens/s, padding share {metrics['padding_share']:.1%}, "
        f"held-out loss {result.heldout_loss_before:.3f} -> {result.heldout_loss_after:.3f}, "
        f"train {metrics['train_seconds']:.0f} s, wall {metrics['wall_seconds']:.0f} s, "
        f"adapter {result.adapter_bytes / 1e6:.1f} MB (estimated {guess.adapter_mb:.1f} MB)"
    )
