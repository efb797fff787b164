"""Benchmark (issue 6): Lastmile's training against the standard recipes side by side, and comparison drafts.

Run with `make bench` or `.venv/bin/python -m bench.training_recipes [--steps N] [--arms b1,lastmile]`.
On the bundled SmolLM2-135M-Instruct, the same seeded business-like pairs and the same LoRA (all linear
layers, r=16, alpha=32, dropout 0.05), each arm trains `--steps` optimizer steps of 8 examples in a process
of its own (so its peak memory is its own): B0 = TRL's SFTTrainer with its defaults, B1 = transformers
Trainer + PEFT tuned by hand, Lastmile = the worker's `train`. Then G0 (one prompt at a time, base then
adapted) against Lastmile's comparison path (bench/generation_arms.py), on Lastmile's adapter. Ratios
are measured in this one sitting, never asserted in tests. It prints a table and, as its last line, one
JSON object.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.recipe_arms import EXAMPLES_PER_STEP, Spec
from bench.recipe_data import make_examples, split
from bench.recipe_measures import CpuPeak, ModelShape, sgemm_gflops
from worker.training.data import load_tokenizer, prepare

MODEL_DIR = Path(__file__).resolve().parent.parent / "data" / "models" / "smollm2-135m-instruct"
TRAINING_ARMS = ("b0", "b1", "lastmile")


def run_in_subprocess(arm: str, spec: Spec, folder: Path) -> dict[str, Any]:
    """Run one arm in a fresh Python process; its numbers, or {'error': ...} with the end of its log."""
    spec_path, out_path, log_path = (folder / f"{arm}.{ext}" for ext in ("spec.json", "json", "log"))
    spec_path.write_text(json.dumps(asdict(spec)))
    started = time.perf_counter()
    with log_path.open("w") as log:
        code = subprocess.call(
            [sys.executable, "-m", "bench.recipe_arms", arm, str(spec_path), str(out_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
    wall = time.perf_counter() - started
    if code != 0 or not out_path.is_file():
        tail = log_path.read_text()[-1500:]
        return {"error": f"exit code {code}; see {log_path}", "log_tail": tail, "process_seconds": wall}
    return json.loads(out_path.read_text()) | {"process_seconds": wall}


def derived(result: dict[str, Any], flops: float, peak: CpuPeak) -> dict[str, Any]:
    """Rates from an arm's raw numbers; FLOPs are the same count (the work the data needs) for every arm."""
    seconds = result["train_seconds"]
    return {
        "tokens_per_second": result["real_tokens"] / seconds,
        "answer_tokens_per_second": result["answer_tokens"] / seconds,
        "answer_tokens_per_cpu_second": result["answer_tokens"] / result["train_cpu_seconds"],
        "gflops": flops / seconds / 1e9,
        "peak_fraction": flops / seconds / 1e9 / peak.gflops,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    """a / b rounded, or None when either is missing."""
    return round(a / b, 3) if a is not None and b else None


def summary(arms: dict[str, dict[str, Any]], generation: dict[str, Any] | None) -> dict[str, Any]:
    """The ratios the issue asks for (None where an arm did not run)."""

    def get(arm: str, key: str) -> float | None:
        return arms.get(arm, {}).get(key)

    ours = get("lastmile", "answer_tokens_per_second")
    heldout_b1, heldout_ours = get("b1", "heldout_loss"), get("lastmile", "heldout_loss")
    return {
        "train_vs_b0": _ratio(ours, get("b0", "answer_tokens_per_second")),
        "train_vs_b1": _ratio(ours, get("b1", "answer_tokens_per_second")),
        "heldout_loss_rel_diff": round((heldout_ours - heldout_b1) / heldout_b1, 4)
        if heldout_b1 and heldout_ours is not None
        else None,
        "peak_fraction": round(get("lastmile", "peak_fraction"), 3) if "lastmile" in arms else None,
        "gen_vs_g0": generation.get("gen_vs_g0") if generation else None,
        "gen_identical": generation.get("identical") if generation else None,
        "memory_vs_b0": _ratio(get("lastmile", "peak_rss_bytes"), get("b0", "peak_rss_bytes")),
        "train_vs_b0_cpu_time": _ratio(
            get("lastmile", "answer_tokens_per_cpu_second"), get("b0", "answer_tokens_per_cpu_second")
        ),
        "train_vs_b1_cpu_time": _ratio(
            get("lastmile", "answer_tokens_per_cpu_second"), get("b1", "answer_tokens_per_cpu_second")
        ),
    }


def print_table(arms: dict[str, dict[str, Any]]) -> None:
    """One row per training arm."""
    header = (
        f"{'arm':<9}{'steps':>6}{'tokens':>8}{'answer':>8}{'padding':>8}{'loop s':>8}{'cpu s':>8}"
        f"{'tok/s':>8}{'ans/s':>7}{'GFLOP/s':>8}{'% peak':>7}{'RSS GB':>7}{'held-out':>9}{'proc s':>7}"
    )
    print(header)
    for name, r in arms.items():
        if "error" in r:
            print(f"{name:<9} failed: {r['error']}\n{r['log_tail']}")
            continue
        print(
            f"{name:<9}{r['steps']:>6}{r['real_tokens']:>8}{r['answer_tokens']:>8}{r['padding_share']:>8.1%}"
            f"{r['train_seconds']:>8.1f}{r['train_cpu_seconds']:>8.1f}{r['tokens_per_second']:>8.1f}"
            f"{r['answer_tokens_per_second']:>7.1f}{r['gflops']:>8.1f}{r['peak_fraction']:>7.1%}"
            f"{r['peak_rss_bytes'] / 1e9:>7.2f}{r['heldout_loss']:>9.4f}{r['process_seconds']:>7.0f}"
        )


def main(argv: list[str] | None = None) -> None:
    """Run the arms and print the table, then the JSON summary as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps of 8 examples per arm")
    parser.add_argument("--arms", default="b0,b1,lastmile,gen", help="comma-separated: b0, b1, lastmile, gen")
    parser.add_argument("--examples", type=int, default=200, help="generated pairs, held-out ones included")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the arms' files and logs here")
    args = parser.parse_args(argv)
    if not (MODEL_DIR / "model.safetensors").is_file():
        sys.exit("The bundled model is not imported: run `make setup` first.")
    wanted = [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    folder = args.out or Path(tempfile.mkdtemp(prefix="lastmile-bench-"))
    folder.mkdir(parents=True, exist_ok=True)

    training, heldout = split(make_examples(args.examples, args.seed))
    training = training[: args.steps * EXAMPLES_PER_STEP]
    spec = Spec(
        model_dir=str(MODEL_DIR),
        out_dir=str(folder),
        examples=[asdict(e) for e in training],
        heldout=[asdict(e) for e in heldout],
        seed=args.seed,
    )
    peak = CpuPeak.of_this_machine()
    sgemm_before = sgemm_gflops()
    tokenized = prepare(load_tokenizer(MODEL_DIR), spec.training(), spec.max_length).examples
    flops = ModelShape.of(MODEL_DIR).training_flops(tokenized, spec.rank)
    load_before = os.getloadavg()[0]

    arms: dict[str, dict[str, Any]] = {}
    for arm in (a for a in TRAINING_ARMS if a in wanted):
        print(f"running {arm} ...", flush=True)
        result = run_in_subprocess(arm, spec, folder)
        arms[arm] = result if "error" in result else result | derived(result, flops, peak)
    generation = None
    adapter = arms.get("lastmile", {}).get("adapter_dir")
    if "gen" in wanted and adapter:
        print("running gen (G0 vs Lastmile comparison drafts) ...", flush=True)
        generation = run_in_subprocess("gen", Spec(**{**asdict(spec), "adapter_dir": adapter}), folder)
    sgemm_after = sgemm_gflops()

    print()
    print_table(arms)
    print(
        f"\nCPU fp32 peak: {peak.describe()} (cores: physical ids in /proc/cpuinfo; FMA width: its flags and "
        f"CPU family; clock: its 'cpu MHz'). A {1536}x{1536} fp32 matmul reached {sgemm_before:.0f} GFLOP/s "
        f"before the arms and {sgemm_after:.0f} after (load average {load_before:.1f} -> "
        f"{os.getloadavg()[0]:.1f}); above the nominal peak, it shows the clock boosting past 'cpu MHz'."
    )
    print(
        f"FLOPs: {flops / 1e12:.2f} TFLOP for the {len(tokenized)} examples (4 x frozen linear weights + "
        "6 x LoRA weights per token, 4 x output layer per answer token, causal attention per example), "
        "the same count for every arm."
    )
    if generation is not None:
        print("generation:", json.dumps(generation))
    result = summary({k: v for k, v in arms.items() if "error" not in v}, generation)
    result |= {
        "steps": args.steps,
        "peak_gflops": round(peak.gflops, 1),
        "sgemm_gflops": round(max(sgemm_before, sgemm_after), 1),
        "sgemm_fraction": _ratio(arms.get("lastmile", {}).get("gflops"), max(sgemm_before, sgemm_after)),
        "arms": {
            name: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k != "log_tail"}
            for name, r in arms.items()
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
