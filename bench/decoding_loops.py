"""Benchmark: looping drafts with the old decoding and with the new one, same adapter, same held-out examples.

    .venv/bin/python -m bench.decoding_loops --adapter DIR [--data JSONL] [--before OLD_TREE] [--json PATH]

The held-out examples come from --data (JSON lines with instruction, input, output, kind and split, as
the sample data's snapshot holds them) or, without it, from the sample data split as a fresh import is.
Both arms answer every held-out example with the base model and with the adapter in --adapter:

- old: the decoding as it was before issue 14, run from the tree in --before in a child process (its own
  engine: greedy, 256 new tokens for every kind, its exact-cycle guard keeping the loop's text);
- new: this tree's comparison path (worker/generation_task.py: answer shapes and length budgets per kind,
  the base model's generation config, the repetition guard that cuts a loop off).

A draft counts as looping when bench/quality_metrics.py's detector (the same one bench.quality uses, which
reads the final text and knows nothing of the guard) finds three similar blocks in a row in it. Printed: per
arm and model, looping drafts, stop reasons, JSON validity of extractions and the seconds taken; the last
line is one JSON object.
"""

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.quality_metrics import has_loop

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "data" / "models" / "smollm2-135m-instruct"
OLD_MAX_NEW_TOKENS = 256  # the old comparison's setting, the same for every kind
# The old arm, run in the old tree: its engine, its Decoding, the prompts as it renders them.
OLD_ARM = """
import json, sys, time
from pathlib import Path
from worker.generation.engine import Decoding, Engine, Request
model_dir, adapter, items_path, out = sys.argv[1:5]
items = json.loads(Path(items_path).read_text())
engine = Engine(Path(model_dir))
name = engine.use_adapter("bench", Path(adapter))
requests = []
for item in items:
    prompt = engine.example_prompt(item["instruction"], item["input"])
    requests += [Request(prompt, None), Request(prompt, name)]
started = time.monotonic()
drafts = engine.generate(requests, Decoding(int(sys.argv[5])))
seconds = time.monotonic() - started
Path(out).write_text(json.dumps({"seconds": seconds, "drafts": [[d.text, d.stop, d.tokens] for d in drafts]}))
"""


def heldout_items(data: Path | None) -> list[dict[str, str]]:
    """The held-out examples: from a JSON-lines file with a split field, or the sample data split."""
    if data is not None:
        rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [row for row in rows if row.get("split") == "heldout"]
    from bench.eval_cost import load_dataset

    _train, heldout = load_dataset("sample")
    return [
        {"kind": r.kind, "instruction": r.instruction, "input": r.input, "output": r.output} for r in heldout
    ]


def new_arm(adapter: Path, items: list[dict[str, str]]) -> dict[str, Any]:
    """Drafts of this tree's comparison path: shapes, budgets, generation config, the guard."""
    from app.settings import get_settings
    from worker.generation.engine import Decoding, Engine, Request
    from worker.generation_task import answer_plans

    engine = Engine(MODEL_DIR)
    name = engine.use_adapter("bench", adapter)
    bound = get_settings().comparison_max_new_tokens
    plans = answer_plans(engine, [(item["kind"], item["output"]) for item in items], bound)
    requests = []
    for item in items:
        prompt, plan = engine.example_prompt(item["instruction"], item["input"]), plans[item["kind"]]
        for adapter in (None, name):
            requests.append(Request(prompt, adapter, plan.max_new_tokens, plan.shape))
    started = time.monotonic()
    drafts = engine.generate(requests, Decoding(bound))
    return {
        "seconds": time.monotonic() - started,
        "drafts": [[d.text, d.stop, d.tokens] for d in drafts],
        "plans": {kind: asdict(plan) for kind, plan in plans.items()},
    }


def old_arm(before: Path, adapter: Path, items: list[dict[str, str]], work: Path) -> dict[str, Any]:
    """Drafts of the old tree's engine, in a child process whose imports come from that tree."""
    items_path, out = work / "items.json", work / "old.json"
    items_path.write_text(json.dumps(items))
    command = [sys.executable, "-c", OLD_ARM, str(MODEL_DIR), str(adapter), str(items_path), str(out)]
    subprocess.run([*command, str(OLD_MAX_NEW_TOKENS)], cwd=before, check=True)
    return json.loads(out.read_text())


def summarise(arm: dict[str, Any], items: list[dict[str, str]]) -> dict[str, Any]:
    """Looping drafts, stop reasons and extraction validity per model."""
    from app.evaluation.task_scores import parse_json

    summary: dict[str, Any] = {"seconds": round(arm["seconds"], 1)}
    for side, offset in (("base", 0), ("adapted", 1)):
        drafts = arm["drafts"][offset::2]
        extracts = [d for d, item in zip(drafts, items, strict=True) if item["kind"] == "extract"]
        looping = [
            item["instruction"][:60] for (text, *_), item in zip(drafts, items, strict=True) if has_loop(text)
        ]
        summary[side] = {
            "looping": len(looping),
            "looping_examples": looping,
            "stops": dict(Counter(stop for _text, stop, _tokens in drafts)),
            "tokens": sum(tokens for _text, _stop, tokens in drafts),
            "valid_json": f"{sum(parse_json(text)[0] for text, _s, _t in extracts)} of {len(extracts)}",
        }  # fmt: skip
    return summary


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run both arms, print the counts."""
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--adapter", type=Path, required=True, help="a LoRA adapter folder of the bundled model"
    )
    parser.add_argument("--data", type=Path, help="JSON lines with a split field (default: the sample data)")
    parser.add_argument("--before", type=Path, help="a tree with the old decoding (e.g. /work/before)")
    parser.add_argument("--json", type=Path, help="also write the results (and every draft) to this file")
    args = parser.parse_args(argv)
    items = heldout_items(args.data)
    results: dict[str, Any] = {"heldout": len(items), "kinds": dict(Counter(item["kind"] for item in items))}
    arms: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as work:
        if args.before is not None:
            arms["old"] = old_arm(args.before, args.adapter, items, Path(work))
        arms["new"] = new_arm(args.adapter, items)
    for key, arm in arms.items():
        results[key] = summarise(arm, items)
        print(key, json.dumps(results[key]), flush=True)
    if args.json:
        args.json.write_text(
            json.dumps(results | {"drafts": {k: a["drafts"] for k, a in arms.items()}}, indent=1)
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
