"""Which technique gives which part of Lastmile's training speed: the same steps, one technique at a time.

Run with `.venv/bin/python -m bench.training_ablation [--steps 3] [--threads 1]`. One process, one model,
the training benchmark's data (bench/recipe_data.py) and its step order; each level trains the same
optimizer steps on the same adapter, levels taking turns step by step so changing load on
a shared machine hits them alike:

  padded      one example per row padded to the longest of 2, full logits, Hugging Face labels loss (B1)
  packed      + packed rows (block-diagonal SDPA mask), still full logits
  head-only   + the output layer on answer positions only
  segments    + attention per packed example (no mask, causal kernel)
  long-rows   + one row of up to 2 x the longest example per pass (no padding between rows)
  fused-lora  + LoRA layers in one autograd function, cheaper dropout masks (the worker's path)

CPU seconds (all threads of this process) are the steady measure on a busy machine; wall seconds too.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from app.training.presets import Hyperparameters
from bench.recipe_arms import EXAMPLES_PER_STEP
from bench.recipe_data import make_examples, split
from bench.training_recipes import MODEL_DIR
from worker.training.attention import use_segment_attention
from worker.training.batching import padded_batches, step_indices
from worker.training.config import Runtime
from worker.training.data import load_tokenizer, prepare
from worker.training.lora_fused import fuse_lora
from worker.training.loss import FastPaths, hf_padded_loss, loss_sum
from worker.training.model import load_base, trainable_parameters, with_lora
from worker.training.session import step_batches

LEVELS = ("padded", "packed", "head-only", "segments", "long-rows", "fused-lora")
ROWS_PER_PASS = 2


def _set_level(model: Any, level: str) -> None:
    """Switch the model's attention and LoRA layers to what `level` uses."""
    rank = LEVELS.index(level)
    use_segment_attention(model, rank >= LEVELS.index("segments"))
    fuse_lora(model, rank >= LEVELS.index("fused-lora"))


def _step(level: str, model: Any, optimizer: Any, chunk: list, pad_id: int) -> int:
    """One optimizer step on `chunk` the way `level` does it; returns the positions fed (padding included)."""
    optimizer.zero_grad(set_to_none=True)
    if level == "padded":
        batches = padded_batches(chunk, ROWS_PER_PASS, pad_id)
        answers = sum(b.loss_tokens for b in batches)
        for batch in batches:
            # The labels loss is a mean over the batch's answer tokens; weigh it back to a per-step mean.
            (hf_padded_loss(model, batch) * batch.loss_tokens / answers).backward()
    else:
        long_rows = LEVELS.index(level) >= LEVELS.index("long-rows")
        fast = FastPaths(segment_attention=long_rows)
        batches = step_batches(chunk, ROWS_PER_PASS, pad_id, fast)
        answers = sum(b.loss_tokens for b in batches)
        head_only = LEVELS.index(level) >= LEVELS.index("head-only")
        for batch in batches:
            (loss_sum(model, batch, head_only) / answers).backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    optimizer.step()
    return sum(b.input_ids.numel() for b in batches)


def measure(steps: int, threads: int) -> dict[str, dict[str, float]]:
    """Per level: CPU and wall seconds over steps 1..`steps` (step 0 warms up), tokens and positions."""
    torch.set_num_threads(threads)
    tokenizer = load_tokenizer(MODEL_DIR)
    training, _heldout = split(make_examples())
    examples = prepare(tokenizer, training[: 12 * EXAMPLES_PER_STEP], 1024).examples
    torch.manual_seed(0)
    model = with_lora(load_base(MODEL_DIR, Runtime(torch.device("cpu"), torch.float32)), Hyperparameters())
    model.train()
    params = list(trainable_parameters(model).values())
    # One model and optimizer for all levels: they compute the same function, and timing does not depend on
    # the weights' values, so each level simply takes its step where the previous one left the adapter.
    optimizer = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.0)
    totals = {level: {"cpu_seconds": 0.0, "wall_seconds": 0.0, "positions": 0} for level in LEVELS}
    real = 0
    for step in range(steps + 1):
        chunk = [examples[i] for i in step_indices(len(examples), EXAMPLES_PER_STEP, 0, step)]
        real += sum(len(e.ids) for e in chunk) if step else 0
        for level in LEVELS if step % 2 else reversed(LEVELS):
            _set_level(model, level)
            wall, cpu = time.perf_counter(), time.process_time()
            positions = _step(level, model, optimizer, chunk, tokenizer.pad_token_id)
            if step:
                totals[level]["cpu_seconds"] += time.process_time() - cpu
                totals[level]["wall_seconds"] += time.perf_counter() - wall
                totals[level]["positions"] += positions
    for total in totals.values():
        total["real_tokens"] = real
        total["tokens_per_cpu_second"] = real / total["cpu_seconds"]
    return totals


def main(argv: list[str] | None = None) -> None:
    """Measure the levels and print the table, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if not Path(MODEL_DIR, "model.safetensors").is_file():
        raise SystemExit("The bundled model is not imported: run `make setup` first.")
    totals = measure(args.steps, args.threads)
    base = totals["padded"]["cpu_seconds"]
    print(f"{'level':<12}{'cpu s':>8}{'wall s':>8}{'padding':>9}{'tok/cpu-s':>11}{'vs padded':>10}")
    for level, t in totals.items():
        padding = 1 - t["real_tokens"] / t["positions"]
        print(
            f"{level:<12}{t['cpu_seconds']:>8.1f}{t['wall_seconds']:>8.1f}{padding:>9.1%}"
            f"{t['tokens_per_cpu_second']:>11.1f}{base / t['cpu_seconds']:>9.2f}x"
        )
    print(json.dumps({"steps": args.steps, "threads": args.threads, "levels": totals}))


if __name__ == "__main__":
    main()
