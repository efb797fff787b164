"""The training benchmark's arms: B0 (TRL SFTTrainer as a user writes it), B1 (tuned plain PEFT), Lastmile.

Every arm trains LoRA (all linear layers, same rank, alpha and dropout) on the same examples in the
same optimizer steps: `step_order` is the order Lastmile's own loop draws them in, and the Trainer
arms read a dataset laid out in that order, sequentially. Tokens are counted from what each arm
actually fed its model (attention masks for the Trainer arms), so padding is never counted as work.
Each arm ends with `heldout_loss` on its trained model. `python -m bench.recipe_arms ARM SPEC OUT`
runs one arm in its own process, so peak memory is that arm's alone.
"""

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from app.training.presets import Hyperparameters
from bench.recipe_measures import heldout_loss, peak_rss_bytes
from worker.training import Progress, TrainingExample, train
from worker.training.batching import IGNORE, step_indices
from worker.training.data import load_tokenizer, prepare, user_message

EXAMPLES_PER_STEP = 8
GENERATION_PROMPTS = 20


@dataclass
class Spec:
    """One benchmark run's settings and data, the same for every arm."""

    model_dir: str
    out_dir: str
    examples: list[dict[str, str]]  # training pairs: instruction, input, output (steps x 8 of them)
    heldout: list[dict[str, str]]
    seed: int = 0
    max_length: int = 1024
    learning_rate: float = 2e-4
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    rows_per_pass: int = 2  # B1's and Lastmile's micro-batch; B0 keeps TRL's default of 8
    adapter_dir: str = ""  # the generation arm's adapter: the one the Lastmile arm wrote

    @property
    def steps(self) -> int:
        """Optimizer steps: one pass over the examples, 8 per step."""
        return -(-len(self.examples) // EXAMPLES_PER_STEP)

    def training(self) -> list[TrainingExample]:
        """The training pairs."""
        return [TrainingExample(**e) for e in self.examples]

    def heldout_examples(self) -> list[TrainingExample]:
        """The held-out pairs."""
        return [TrainingExample(**e) for e in self.heldout]

    def lora(self) -> Any:
        """The LoRA configuration every arm uses."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )


@dataclass
class Feed:
    """What an arm fed its model: token counts, real tokens per optimizer step, each batch's token ids."""

    real_tokens: int = 0
    answer_tokens: int = 0
    positions: int = 0
    step_tokens: list[int] = field(default_factory=list)
    batches: list[list[list[int]]] = field(default_factory=list)

    def steps_from_batches(self) -> None:
        """Fill step_tokens from the recorded rows, 8 to a step (a Trainer collates ahead of its steps)."""
        rows = [len(row) for batch in self.batches for row in batch]
        starts = range(0, len(rows), EXAMPLES_PER_STEP)
        self.step_tokens = [sum(rows[i : i + EXAMPLES_PER_STEP]) for i in starts]

    def record(self, batch: dict[str, torch.Tensor]) -> None:
        """Count a padded batch: real tokens from the attention mask, answer tokens from shifted labels."""
        mask = batch["attention_mask"].bool()
        self.real_tokens += int(mask.sum())
        self.answer_tokens += int((batch["labels"][:, 1:] != IGNORE).sum())
        self.positions += batch["input_ids"].numel()
        self.batches.append([row[m].tolist() for row, m in zip(batch["input_ids"], mask, strict=True)])


def step_order(n_examples: int, seed: int) -> list[int]:
    """Example indices in the order Lastmile's loop trains on them: step 0's eight, then step 1's, ..."""
    steps = -(-n_examples // EXAMPLES_PER_STEP)
    return [i for step in range(steps) for i in step_indices(n_examples, EXAMPLES_PER_STEP, seed, step)]


class _Recording:
    """A data collator that records every batch it makes into a Feed."""

    def __init__(self, collate: Any, feed: Feed) -> None:
        self.collate, self.feed = collate, feed

    def __call__(self, features: list) -> dict:
        batch = self.collate(features)
        self.feed.record(batch)
        return batch


@dataclass
class Clock:
    """Wall and CPU time (all threads of this process) from the training loop's start to its last step."""

    wall: float = 0.0
    cpu: float = 0.0
    _started: tuple[float, float] = (0.0, 0.0)

    def start(self) -> None:
        """Mark the loop's start."""
        self._started = (time.perf_counter(), time.process_time())

    def step_done(self) -> None:
        """Mark the end of an optimizer step; the last mark counts."""
        self.wall = time.perf_counter() - self._started[0]
        self.cpu = time.process_time() - self._started[1]


def _trainer_clock(clock: Clock) -> Any:
    """A Trainer callback driving `clock`: started with the training loop, marked after each step."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            clock.start()

        def on_step_end(self, args, state, control, **kwargs):
            clock.step_done()

    return StepClock()


def _numbers(steps: int, clock: Clock, feed: Feed, heldout: float) -> dict[str, Any]:
    """An arm's result."""
    return {
        "steps": steps,
        "train_seconds": clock.wall,
        "train_cpu_seconds": clock.cpu,
        "real_tokens": feed.real_tokens,
        "answer_tokens": feed.answer_tokens,
        "positions": feed.positions,
        "heldout_loss": heldout,
    }


def _trainer_result(trainer: Any, feed: Feed, spec: Spec, tokenizer: Any) -> dict[str, Any]:
    """Run a prepared Trainer and collect the arm's numbers."""
    clock = Clock()
    trainer.add_callback(_trainer_clock(clock))
    trainer.data_collator = _Recording(trainer.data_collator, feed)
    trainer.train()
    feed.steps_from_batches()
    heldout = heldout_loss(trainer.model, tokenizer, spec.heldout_examples(), spec.max_length)
    return _numbers(trainer.state.global_step, clock, feed, heldout)


def run_b0(spec: Spec, feed: Feed) -> dict[str, Any]:
    """TRL's SFTTrainer as its docs show it: conversational prompt/completion data, TRL's defaults."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    training = spec.training()
    rows = [
        {
            "prompt": [{"role": "user", "content": user_message(e.instruction, e.input)}],
            "completion": [{"role": "assistant", "content": e.output}],
        }
        for e in (training[i] for i in step_order(len(training), spec.seed))
    ]
    args = SFTConfig(
        output_dir=str(Path(spec.out_dir) / "b0"),
        num_train_epochs=1,
        per_device_train_batch_size=EXAMPLES_PER_STEP,
        learning_rate=spec.learning_rate,
        max_length=spec.max_length,
        use_cpu=True,
        bf16=False,
        # Not a speed setting: the benchmark's rows are already in Lastmile's step order (see step_order).
        train_sampling_strategy="sequential",
    )
    trainer = SFTTrainer(
        model=spec.model_dir, args=args, train_dataset=Dataset.from_list(rows), peft_config=spec.lora()
    )
    return _trainer_result(trainer, feed, spec, trainer.processing_class)


def run_b1(spec: Spec, feed: Feed) -> dict[str, Any]:
    """Trainer + get_peft_model: fp32, no gradient checkpointing, each batch padded to its longest row."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    tokenizer = load_tokenizer(Path(spec.model_dir))
    examples = prepare(tokenizer, spec.training(), spec.max_length).examples
    rows = [
        {"input_ids": list(e.ids), "labels": [IGNORE] * e.answer_start + list(e.ids[e.answer_start :])}
        for e in (examples[i] for i in step_order(len(examples), spec.seed))
    ]
    torch.manual_seed(spec.seed)
    base = AutoModelForCausalLM.from_pretrained(
        spec.model_dir, dtype=torch.float32, attn_implementation="sdpa"
    )
    args = TrainingArguments(
        output_dir=str(Path(spec.out_dir) / "b1"),
        num_train_epochs=1,
        per_device_train_batch_size=spec.rows_per_pass,
        gradient_accumulation_steps=EXAMPLES_PER_STEP // spec.rows_per_pass,
        learning_rate=spec.learning_rate,
        # Lastmile's schedule (cosine to a tenth, no warm-up at this length) and optimizer settings.
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": 0.1},
        weight_decay=0.0,
        max_grad_norm=1.0,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        train_sampling_strategy="sequential",
        save_strategy="no",
        report_to=[],
        seed=spec.seed,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=get_peft_model(base, spec.lora()),
        args=args,
        train_dataset=rows,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=IGNORE),
    )
    return _trainer_result(trainer, feed, spec, tokenizer)


def lastmile_hyperparameters(spec: Spec) -> Hyperparameters:
    """The worker's settings for this benchmark: one pass, 8 examples a step, a held-out check at the end."""
    return Hyperparameters(
        rank=spec.rank,
        alpha=spec.alpha,
        dropout=spec.dropout,
        learning_rate=spec.learning_rate,
        epochs=1,
        batch_size=spec.rows_per_pass,
        grad_accum=EXAMPLES_PER_STEP // spec.rows_per_pass,
        max_length=spec.max_length,
        seed=spec.seed,
        eval_every_steps=spec.steps,
        checkpoint_every_steps=spec.steps,
    )


def run_lastmile(spec: Spec, feed: Feed) -> dict[str, Any]:
    """The worker's own `train`, as the Celery task calls it; held-out loss on the adapter it wrote."""
    from peft import PeftModel

    from worker.training.config import pick_runtime
    from worker.training.model import load_base

    clock = Clock()

    def on_progress(progress: Progress) -> None:
        # The last report at step 0 (the base model's held-out loss) comes right before the first step;
        # a report without a held-out loss comes right after a step.
        if progress.step == 0:
            clock.start()
        elif progress.heldout_loss is None:
            clock.step_done()
            feed.step_tokens.append(progress.tokens_seen - feed.real_tokens)
            feed.real_tokens = progress.tokens_seen

    result = train(
        Path(spec.model_dir),
        spec.training(),
        spec.heldout_examples(),
        lastmile_hyperparameters(spec),
        Path(spec.out_dir) / "lastmile",
        on_progress=on_progress,
        should_stop=lambda: False,
    )
    metrics = result.metrics
    feed.answer_tokens = metrics["answer_tokens_seen"]
    feed.positions = metrics["positions_fed"]
    tokenizer = load_tokenizer(Path(spec.model_dir))
    base = load_base(Path(spec.model_dir), pick_runtime())
    model = PeftModel.from_pretrained(base, str(result.adapter_dir))
    heldout = heldout_loss(model, tokenizer, spec.heldout_examples(), spec.max_length)
    fast = {key: metrics[key] for key in ("packing", "head_only_loss", "segment_attention", "fused_lora")}
    return _numbers(metrics["steps"], clock, feed, heldout) | {
        "adapter_dir": str(result.adapter_dir),
        "step_seconds": metrics["train_seconds"],
        "fast_paths": fast,
    }


def run_generation(spec: Spec, feed: Feed) -> dict[str, Any]:
    """G0 against Lastmile's comparison path on held-out prompts, with the adapter the Lastmile arm wrote."""
    from bench.generation_arms import run_generation_arms

    prompts = [user_message(e.instruction, e.input) for e in spec.heldout_examples()][:GENERATION_PROMPTS]
    return run_generation_arms(Path(spec.model_dir), Path(spec.adapter_dir), prompts, max_new_tokens=128)


ARMS = {"b0": run_b0, "b1": run_b1, "lastmile": run_lastmile, "gen": run_generation}


def run_arm(name: str, spec: Spec, feed: Feed | None = None) -> dict[str, Any]:
    """Run arm `name` in this process; adds padding share and peak memory to its numbers."""
    feed = feed if feed is not None else Feed()
    result = ARMS[name](spec, feed)
    if "positions" in result:
        result["padding_share"] = 1 - result["real_tokens"] / result["positions"]
    result["peak_rss_bytes"] = peak_rss_bytes()
    return result


def main(argv: list[str]) -> None:
    """`python -m bench.recipe_arms ARM SPEC.json OUT.json`: one arm in a fresh process."""
    name, spec_path, out_path = argv
    spec = Spec(**json.loads(Path(spec_path).read_text()))
    Path(out_path).write_text(json.dumps(run_arm(name, spec)))


def write_spec(spec: Spec, path: Path) -> None:
    """Save `spec` for the arms' processes."""
    path.write_text(json.dumps(asdict(spec)))


if __name__ == "__main__":
    main(sys.argv[1:])
