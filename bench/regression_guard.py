"""Where the regression guard's threshold comes from: normal adapters against deliberately overtrained ones.

Run with `.venv/bin/python -m bench.regression_guard [--arms quick,balanced,narrow,overtrained]`. Each arm
trains an adapter on the bundled SmolLM2-135M-Instruct with the worker's own `train`, then runs the worker's
own guard (worker/regression_guard.py) on it, and prints the loss on the everyday instructions, base vs
adapted, with the guard's cost next to the training time:

  quick        the Quick preset on the sample data's training examples (a normal adapter)
  balanced     the default (Balanced) preset on the same examples (a normal adapter)
  narrow       12 examples of one kind, 15 passes at the usual learning rate (memorises, a middle case)
  overtrained  the same 12 examples, 15 passes at 10x the usual learning rate (forgets general writing)

The threshold in app/evaluation/regression_guard.py must sit between the normal arms and the overtrained
one with margin; the numbers go to bench/RESULTS.md "## Regression guard (issue 14)".
"""

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.evaluation.regression_guard import THRESHOLD
from app.ingest.registry import parse_file
from app.ingest.types import Limits
from app.sample_data import sample_files
from app.settings import Settings
from app.training.estimate import SMOLLM2_135M_PARAMS
from app.training.presets import DataProfile, Hyperparameters, presets
from worker.training import TrainingExample, train
from worker.training.data import load_tokenizer, prepare

MODEL_DIR = Path(__file__).resolve().parent.parent / "data" / "models" / "smollm2-135m-instruct"
MODEL_NAME = "SmolLM2-135M-Instruct"
ARMS = ("quick", "balanced", "narrow", "overtrained")
NARROW_KIND_FILE = "client-replies.mbox"  # the narrow arms learn 12 email replies and nothing else


def sample_split() -> tuple[
    list[TrainingExample], list[TrainingExample], dict[str, list[TrainingExample]], Counter
]:
    """(training, held-out, training by file, training kinds) of the sample data, parsed like an upload;
    every tenth example of each file is held out, as a user splitting by hand would."""
    limits = Limits.from_settings(Settings())
    train_set: list[TrainingExample] = []
    heldout: list[TrainingExample] = []
    by_file: dict[str, list[TrainingExample]] = {}
    kinds: Counter = Counter()
    for name, data in sample_files():
        for parsed in parse_file(name, data, limits):
            for index, draft in enumerate(parsed.examples):
                if not draft.output.strip():
                    continue
                example = TrainingExample(draft.instruction, draft.input, draft.output)
                if index % 10 == 9:
                    heldout.append(example)
                else:
                    train_set.append(example)
                    kinds[draft.kind] += 1
                    by_file.setdefault(name.split("/")[0], []).append(example)
    return train_set, heldout, by_file, kinds


def arm_plan(arm: str) -> tuple[list[TrainingExample], list[TrainingExample], Hyperparameters]:
    """The examples and settings of one arm (the normal arms' settings are the product's presets)."""
    train_set, heldout, by_file, kinds = sample_split()
    if arm in ("quick", "balanced"):
        tokenizer = load_tokenizer(MODEL_DIR, MODEL_NAME)
        prepared = prepare(tokenizer, train_set, 8192).examples
        profile = DataProfile(
            [len(e.ids) for e in prepared], [e.answer_tokens for e in prepared], kinds, SMOLLM2_135M_PARAMS
        )
        return train_set, heldout, presets(profile)[arm]
    narrow = by_file[NARROW_KIND_FILE][:12]
    hp = Hyperparameters(
        epochs=15, batch_size=4, grad_accum=1, max_length=1024, eval_every_steps=0, checkpoint_every_steps=0
    )
    if arm == "overtrained":
        hp = replace(hp, learning_rate=10 * hp.learning_rate)
    return narrow, heldout[:4], hp


def _progress(arm: str) -> Any:
    """A progress callback that prints every tenth step (runs take long on a busy machine)."""

    def report(progress: Any) -> None:
        if progress.train_loss is not None and progress.step % 10 == 0:
            print(f"  [{arm}] step {progress.step}/{progress.total_steps}", flush=True)

    return report


class MemoryLossCache:
    """The base model's losses kept between the arms of this run (the product keeps them in its database)."""

    def __init__(self) -> None:
        """Empty."""
        self.known: dict[str, tuple[float, int]] = {}

    def get(self, keys: Any) -> dict[str, tuple[float, int]]:
        """The known losses among `keys`."""
        return {key: self.known[key] for key in keys if key in self.known}

    def put(self, values: dict[str, tuple[float, int]]) -> None:
        """Keep these losses."""
        self.known.update(values)


BASE_CACHE = MemoryLossCache()


def run_arm(arm: str, work: Path) -> dict[str, Any]:
    """Train the arm's adapter and run the guard on it; its numbers."""
    from worker.regression_guard import score_general_writing

    train_set, heldout, hp = arm_plan(arm)
    started, cpu = time.monotonic(), time.process_time()
    # On a busy machine an arm takes long: a run stopped half-way resumes from its checkpoint (--work-dir).
    result = train(
        MODEL_DIR, train_set, heldout, hp, work / arm, resume_from=work / arm,
        on_progress=_progress(arm), should_stop=lambda: False, model_name=MODEL_NAME,
    )  # fmt: skip
    train_seconds, train_cpu = time.monotonic() - started, time.process_time() - cpu
    cpu = time.process_time()
    guard = score_general_writing(MODEL_DIR, MODEL_NAME, result.adapter_dir, f"bench-{arm}", BASE_CACHE)
    guard_cpu = time.process_time() - cpu
    return {
        "arm": arm,
        "examples": len(train_set),
        "steps": result.metrics["steps"],
        "epochs": hp.epochs,
        "learning_rate": hp.learning_rate,
        "train_s": round(train_seconds, 1),
        # CPU seconds of this process (all threads): the steady measure of cost on a busy machine.
        "train_cpu_s": round(train_cpu, 1),
        "guard_cpu_s": round(guard_cpu, 1),
        "guard_cpu_share": round(guard_cpu / train_cpu, 4) if train_cpu else None,
        "guard_s": guard["seconds"],
        "guard_loss_s": guard.get("loss_seconds"),
        "guard_draft_s": guard.get("draft_seconds"),
        "base_cached": guard["base_cached"],
        "heldout_before": result.heldout_loss_before,
        "heldout_after": result.heldout_loss_after,
        "base_loss": guard["base_loss"],
        "adapted_loss": guard["adapted_loss"],
        "change": guard["change"],
        "rose": f"{guard['rose']}/{guard['items']}",
        "warns": guard["worse"],
        "example": guard["examples"][0],
    }


def main() -> None:
    """Run the arms asked for and print the table, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, from {', '.join(ARMS)}")
    parser.add_argument(
        "--work-dir", type=Path, help="keep the runs' checkpoints here (to resume); default temp"
    )
    args = parser.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    unknown = set(arms) - set(ARMS)
    if unknown:
        parser.error(f"unknown arms: {', '.join(sorted(unknown))}")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="lastmile-guard-bench-"))
    rows = []
    try:
        for arm in arms:
            rows.append(run_arm(arm, work))
            row = rows[-1]
            print(
                f"{row['arm']:<12} {row['examples']:>4} ex {row['steps']:>4} steps "
                f"lr {row['learning_rate']:g} "
                f"train {row['train_s']:>7.1f}s guard {row['guard_s']:>5.1f}s "
                f"(CPU {row['guard_cpu_s']:.0f} s = {100 * (row['guard_cpu_share'] or 0):.1f}% of training) "
                f"(base cached: {row['base_cached']}) held-out {row['heldout_before']:.3f}→"
                f"{row['heldout_after']:.3f} general {row['base_loss']:.3f}→{row['adapted_loss']:.3f} "
                f"({100 * row['change']:+.1f}%, rose on {row['rose']}) warns: {row['warns']}",
                flush=True,
            )
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    for row in rows:
        example = row.pop("example")
        print(f"\n[{row['arm']}] worst item: {example['instruction']}\n  base: {example['base'][:300]!r}")
        print(f"  adapted: {example['adapted'][:300]!r}")
    print(json.dumps({"threshold": THRESHOLD, "arms": rows}))


if __name__ == "__main__":
    main()
