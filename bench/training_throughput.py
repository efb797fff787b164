"""Benchmark: Lastmile's training step (packed rows, answer-only output layer) against the naive recipe.

Run with `.venv/bin/python -m bench.training_throughput [--steps N] [--max-length L]`. Both recipes train
LoRA on the bundled SmolLM2-135M-Instruct with the sample data, on the same examples per step: the naive
one pads each micro-batch of examples to its longest and computes the full logits tensor (the usual
Hugging Face `labels=` loss, averaged per micro-batch); ours packs the step's examples into rows and runs
the output layer on answer positions only. It prints a table and, as its last line, one JSON object.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from app.training.presets import Hyperparameters
from tests.test_training_real_model import SMOLLM2, split
from worker.training.batching import micro_batches, padded_batches, padding_share, step_indices
from worker.training.config import pick_runtime
from worker.training.data import load_tokenizer, prepare
from worker.training.loss import hf_padded_loss, loss_sum
from worker.training.model import load_base, trainable_parameters, with_lora

RECIPES = ("naive", "lastmile")


def _step(model: Any, optimizer: Any, params: list, chunk: list, recipe: str, hp: Hyperparameters, pad: int):
    """One optimizer step on `chunk` with `recipe`; returns the micro-batches it fed the model."""
    optimizer.zero_grad(set_to_none=True)
    if recipe == "naive":
        batches = padded_batches(chunk, hp.batch_size, pad)
        for batch in batches:
            (hf_padded_loss(model, batch) / len(batches)).backward()
    else:
        batches = micro_batches(chunk, hp.batch_size, pad)
        tokens = sum(b.loss_tokens for b in batches)
        for batch in batches:
            (loss_sum(model, batch) / tokens).backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    return batches


def measure(steps: int, hp: Hyperparameters) -> list[dict[str, Any]]:
    """Time both recipes on the same steps, alternating them so load on the machine hits both alike."""
    tokenizer = load_tokenizer(SMOLLM2)
    training, _heldout = split()
    examples = prepare(tokenizer, training, hp.max_length).examples
    torch.manual_seed(hp.seed)
    model = with_lora(load_base(SMOLLM2, pick_runtime()), hp)
    params = list(trainable_parameters(model).values())
    optimizer = torch.optim.AdamW(params, lr=hp.learning_rate)
    model.train()
    totals = {recipe: {"fed": [], "seconds": 0.0} for recipe in RECIPES}
    # Step 0 warms up (thread pools, allocator) and is not timed; steps 1..N are.
    for step in range(steps + 1):
        chunk = [examples[i] for i in step_indices(len(examples), hp.examples_per_step, hp.seed, step)]
        for recipe in RECIPES if step % 2 else reversed(RECIPES):
            started = time.monotonic()
            batches = _step(model, optimizer, params, chunk, recipe, hp, tokenizer.pad_token_id)
            if step:
                totals[recipe]["seconds"] += time.monotonic() - started
                totals[recipe]["fed"].extend(batches)
    results = []
    for recipe, total in totals.items():
        fed, seconds = total["fed"], total["seconds"]
        real, answer = sum(b.real_tokens for b in fed), sum(b.loss_tokens for b in fed)
        results.append(
            {
                "recipe": recipe,
                "steps": steps,
                "real_tokens": real,
                "answer_tokens": answer,
                "seconds": round(seconds, 1),
                "tokens_per_second": round(real / seconds, 1),
                "answer_tokens_per_second": round(answer / seconds, 1),
                "padding_share": round(padding_share(fed), 4),
            }
        )
    return results


def main(argv: list[str] | None = None) -> None:
    """Measure both recipes on the same steps and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args(argv)
    if not Path(SMOLLM2, "model.safetensors").is_file():
        sys.exit("The bundled model is not imported: run `make setup` first.")
    hp = Hyperparameters(epochs=1, batch_size=2, grad_accum=2, max_length=args.max_length)
    results = measure(args.steps, hp)
    print(f"{'recipe':<10}{'tokens/s':>10}{'answer tok/s':>14}{'padding':>9}{'seconds':>9}")
    for r in results:
        print(
            f"{r['recipe']:<10}{r['tokens_per_second']:>10}{r['answer_tokens_per_second']:>14}"
            f"{r['padding_share']:>9.1%}{r['seconds']:>9}"
        )
    speedup = results[1]["tokens_per_second"] / results[0]["tokens_per_second"]
    print(f"speed-up: {speedup:.2f}x")
    print(json.dumps({"results": results, "speedup": round(speedup, 2)}))


if __name__ == "__main__":
    main()
