"""Benchmark: what held-out evaluation costs next to training, with the old evaluation as the baseline.

    .venv/bin/python -m bench.eval_cost [--datasets sample,aeslc-100] [--steps 3] [--json PATH]

Per dataset: the product's train / held-out split (app/curation/split.py, as a fresh import gets it) and the
default preset (Balanced, as the launch check computes it from the training examples' token lengths); then,
in one process on the bundled model with the run's LoRA and speed-ups, as the training loop sets them up:

- a training step: the median of --steps real optimizer steps, after one to warm up; the run's training time
  is its number of steps times that (every step of a run does the same work, up to the examples it draws);
- the old evaluation (before issue 14): every held-out example, in training's batches (step_batches), at
  every eval_every_steps step and once for the base model on every run;
- the new one (worker/training/evaluation.py): the plan's examples and interval, in packed passes of up to
  PASS_TOKENS; the base model's check on the first run on a model and snapshot, read from the database by
  every later run.

Each check's time is measured (median of two; a check reads the same passes every time). Printed per
dataset: training seconds, both evaluations' seconds and their share of the training time; the last line is
one JSON object. The datasets: `sample` (Brightwater, app/sample_data), `aeslc` (300 Enron emails → subject
lines, shared/quality; the product's 10 % held out) and `aeslc-100` (the same emails with 100 held out: the
upload of the issue, whose Balanced run checked 100 held-out examples every 15 steps).
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.quality import DATASETS

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "data" / "models" / "smollm2-135m-instruct"
AESLC = DATASETS["aeslc"][1]  # the file bench.quality uploads (prepared by bench.quality_data)


def load_dataset(key: str) -> tuple[list[Any], list[Any]]:
    """(training, held-out) examples of a dataset, split as the product splits a fresh import."""
    from app.curation.records import HELDOUT, TRAIN, ExampleRecord
    from app.curation.split import assign_heldout
    from tests.test_training_real_model import sample_examples

    if key == "sample":
        rows = [
            (e.kind, e.instruction, e.input, e.output)
            for examples in sample_examples().values()
            for e in examples
        ]
    else:
        lines = AESLC.read_text(encoding="utf-8").splitlines()
        rows = [("draft", r["instruction"], r["input"], r["output"]) for r in map(json.loads, lines)]
    rows = [row for row in rows if row[3].strip()]
    records = [ExampleRecord(i, *row, True, TRAIN, None, None) for i, row in enumerate(rows)]
    fraction = 100 / len(records) if key == "aeslc-100" else 0.1
    splits = assign_heldout(records, fraction=fraction)
    train = [r for r in records if splits[r.id] == TRAIN]
    heldout = [r for r in records if splits[r.id] == HELDOUT]
    return train, heldout


def default_preset(tokenizer: Any, train: list[Any]) -> Any:
    """The Balanced preset for these training examples, as the launch check computes it."""
    from collections import Counter

    from app.training.presets import REFERENCE_PARAMS, DataProfile, presets
    from worker.training.data import prepare

    prepared = prepare(tokenizer, train, 1 << 20).examples
    lengths, answers = [len(e.ids) for e in prepared], [e.answer_tokens for e in prepared]
    context = json.loads((MODEL_DIR / "config.json").read_text())["max_position_embeddings"]
    profile = DataProfile(lengths, answers, Counter(r.kind for r in train), REFERENCE_PARAMS, context)
    return presets(profile)["balanced"]


def _timed(work: Callable[[], Any]) -> float:
    """Seconds `work` took on the clock."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def measure(key: str, steps: int) -> dict[str, Any]:
    """Training step and both evaluations' checks on one dataset; the shares of a whole run."""
    import torch

    from app.training.presets import steps_per_epoch, total_steps
    from worker.training.config import pick_runtime
    from worker.training.data import load_tokenizer, prepare
    from worker.training.evaluation import EvalSet, checks_for, plan_checks
    from worker.training.lora_fused import fuse_lora
    from worker.training.loss import check_fast_paths, evaluate
    from worker.training.model import load_base, trainable_parameters, with_lora
    from worker.training.session import Session, step_batches, train_step

    train, heldout = load_dataset(key)
    runtime, tokenizer = pick_runtime(), load_tokenizer(MODEL_DIR)
    hp = default_preset(tokenizer, train)
    train_data, heldout_data = (
        prepare(tokenizer, train, hp.max_length),
        prepare(tokenizer, heldout, hp.max_length),
    )
    torch.manual_seed(hp.seed)
    model = with_lora(load_base(MODEL_DIR, runtime), hp)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    fast = check_fast_paths(model, train_data.examples, runtime, pad_id)
    fuse_lora(model)
    total, per_epoch = (
        total_steps(len(train_data.examples), hp),
        steps_per_epoch(len(train_data.examples), hp),
    )
    every = hp.eval_every_steps or per_epoch
    lengths = [len(e.ids) for e in heldout_data.examples]
    plan = plan_checks(lengths, train_data.real_tokens * total // per_epoch, total, every)
    old_batches = step_batches(heldout_data.examples, hp.batch_size, pad_id, fast)
    new_set = EvalSet.of([heldout_data.examples[i] for i in plan.examples], pad_id, fast)
    params = trainable_parameters(model)
    run = Session(
        hp=hp, runtime=runtime, model=model, params=params,
        optimizer=torch.optim.AdamW(list(params.values()), lr=hp.learning_rate, weight_decay=0.0),
        train_data=train_data, heldout=new_set, eval_every=plan.every, pad_id=pad_id, fast=fast,
        total=total, per_epoch=per_epoch, on_progress=lambda _p: None,
    )  # fmt: skip
    train_step(run, 0)  # the first step warms up (allocations, lazy imports)
    warm_tokens = run.state.tokens_seen
    step_seconds = statistics.median(_timed(lambda s=s: train_step(run, s)) for s in range(1, steps + 1))
    step_tokens = (run.state.tokens_seen - warm_tokens) / steps
    old_check = statistics.median(
        _timed(lambda: evaluate(model, old_batches, runtime, fast.head_only)) for _ in range(2)
    )
    new_check = statistics.median(_timed(lambda: new_set.losses(model, runtime)) for _ in range(2))
    # What a token read forward costs next to a token trained on (the plan assumes FORWARD_COST).
    check_tokens = sum(len(e.ids) for e in new_set.examples)
    forward_cost = (new_check / check_tokens) / (step_seconds / step_tokens)
    train_seconds = total * step_seconds
    old_checks, new_checks = checks_for(total, every) + 1, checks_for(total, plan.every)
    old_seconds = old_checks * old_check
    new_first, new_later = (new_checks + 1) * new_check, new_checks * new_check
    old = {
        "checks": old_checks, "examples": len(heldout_data.examples), "check_seconds": round(old_check, 2),
        "seconds": round(old_seconds, 1), "share": round(old_seconds / train_seconds, 4),
    }  # fmt: skip
    new = {
        "checks": new_checks, "every": plan.every, "examples": len(plan.examples),
        "check_seconds": round(new_check, 2), "first_run_seconds": round(new_first, 1),
        "first_run_share": round(new_first / train_seconds, 4), "later_run_seconds": round(new_later, 1),
        "later_run_share": round(new_later / train_seconds, 4),
    }  # fmt: skip
    return {
        "dataset": key, "train_examples": len(train_data.examples),
        "heldout_examples": len(heldout_data.examples), "steps": total,
        "step_seconds": round(step_seconds, 2), "train_seconds": round(train_seconds, 1),
        "old": old, "new": new, "old_over_new": round(old_seconds / new_first, 2) if new_first else None,
        "forward_cost": round(forward_cost, 3),
    }  # fmt: skip


def table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| dataset | train / held-out | steps | training | old: checks × examples | old eval | share "
        "| new: checks × examples | new eval (first run / later) | share (first / later) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        old, new = r["old"], r["new"]
        lines.append(
            f"| {r['dataset']} | {r['train_examples']} / {r['heldout_examples']} | {r['steps']} "
            f"| {r['train_seconds']:.0f} s | {old['checks']} × {old['examples']} | {old['seconds']:.0f} s "
            f"| {100 * old['share']:.1f} % | {new['checks']}+1 × {new['examples']} "
            f"| {new['first_run_seconds']:.0f} s / {new['later_run_seconds']:.0f} s "
            f"| {100 * new['first_run_share']:.1f} % / {100 * new['later_run_share']:.1f} % |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the options, measure each dataset, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", default="sample,aeslc-100", help="comma-separated: sample, aeslc, aeslc-100"
    )
    parser.add_argument(
        "--steps", type=int, default=3, help="training steps timed per dataset (after one warm-up)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = []
    for key in args.datasets.split(","):
        results.append(measure(key.strip(), args.steps))
        print(json.dumps(results[-1]), flush=True)
    print(table(results))
    summary = {"results": results, "seconds": round(time.monotonic() - started, 1)}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
