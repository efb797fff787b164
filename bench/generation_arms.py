"""Benchmark: Lastmile's comparison drafts (one base load, batched, base and adapted rows mixed) against G0.

G0 is the plain recipe people copy from the PEFT docs: load the base model, `generate` one prompt at a time,
then wrap it with `PeftModel.from_pretrained` and do the same for the adapted drafts. Both arms decode
greedily with the same prompts and limit; Lastmile's drafts must be G0's token for token (a draft the
repetition guard stopped must be the start of G0's). Model loading is not timed in either arm.

Run with `.venv/bin/python -m bench.generation_arms [--prompts 20] [--max-new-tokens 128] [--adapter DIR]`;
without --adapter it first trains a small adapter on the sample data (4 optimizer steps). It prints one JSON
object.
"""

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from worker.generation.engine import Decoding, Engine, Request
from worker.training.config import pick_runtime
from worker.training.data import user_message


def _timed(work: Any) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process) of calling `work`."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def g0_drafts(
    model_dir: Path, adapter_dir: Path, prompts: Sequence[str], max_new_tokens: int
) -> tuple[list[list[int]], float, float]:
    """G0's new token ids (base drafts, then adapted; cut at the end of turn), wall and CPU seconds."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    runtime = pick_runtime()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = (
        AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=runtime.dtype).to(runtime.device).eval()
    )
    eos = model.generation_config.eos_token_id
    stops = set(eos if isinstance(eos, list) else [eos])

    def answer_all(lm: Any) -> list[list[int]]:
        """Each prompt alone through `lm.generate`."""
        drafts = []
        for prompt in prompts:
            messages = [{"role": "user", "content": prompt}]
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
            ids = ids["input_ids"] if hasattr(ids, "keys") else ids
            with torch.no_grad():
                out = lm.generate(
                    ids.to(runtime.device), attention_mask=torch.ones_like(ids).to(runtime.device),
                    max_new_tokens=max_new_tokens, do_sample=False,
                )  # fmt: skip
            new = out[0, ids.shape[1] :].tolist()
            end = next((k for k, token in enumerate(new) if token in stops), len(new))
            drafts.append(new[:end])
        return drafts

    base, wall_base, cpu_base = _timed(lambda: answer_all(model))
    adapted_model = PeftModel.from_pretrained(model, str(adapter_dir)).eval()
    adapted, wall_adapted, cpu_adapted = _timed(lambda: answer_all(adapted_model))
    return base + adapted, wall_base + wall_adapted, cpu_base + cpu_adapted


def lastmile_drafts(
    model_dir: Path, adapter_dir: Path, prompts: Sequence[str], max_new_tokens: int
) -> tuple[list[Any], float, float]:
    """Lastmile's drafts (base for every prompt, then adapted), as the comparison task asks for them."""
    engine = Engine(model_dir)
    name = engine.use_adapter("bench", adapter_dir)
    ids = [engine.chat_prompt([{"role": "user", "content": prompt}]) for prompt in prompts]
    requests = [Request(p, None) for p in ids] + [Request(p, name) for p in ids]
    return _timed(lambda: engine.generate(requests, Decoding(max_new_tokens)))


def run_generation_arms(
    model_dir: Path, adapter_dir: Path, prompts: Sequence[str], max_new_tokens: int = 128
) -> dict[str, Any]:
    """Time G0 and Lastmile on the same prompts and check that their drafts agree token for token."""
    g0, g0_wall, g0_cpu = g0_drafts(model_dir, adapter_dir, prompts, max_new_tokens)
    ours, wall, cpu = lastmile_drafts(model_dir, adapter_dir, prompts, max_new_tokens)
    identical = all(
        list(draft.ids) == expected[: draft.tokens]
        and (draft.stop == "repetition" or draft.tokens == len(expected))
        for draft, expected in zip(ours, g0, strict=True)
    )
    g0_tokens, tokens = sum(map(len, g0)), sum(draft.tokens for draft in ours)
    stops: dict[str, int] = {}
    for draft in ours:
        stops[draft.stop] = stops.get(draft.stop, 0) + 1
    return {
        "prompts": len(prompts),
        "max_new_tokens": max_new_tokens,
        "g0_seconds": round(g0_wall, 2),
        "lastmile_seconds": round(wall, 2),
        "g0_cpu_seconds": round(g0_cpu, 2),
        "lastmile_cpu_seconds": round(cpu, 2),
        "g0_tokens": g0_tokens,
        "lastmile_tokens": tokens,
        "g0_tokens_per_s": round(g0_tokens / g0_wall, 1),
        "lastmile_tokens_per_s": round(tokens / wall, 1),
        "gen_vs_g0": round(g0_wall / wall, 2),
        "identical": identical,
        "stops": stops,
    }


def sample_prompts(count: int) -> list[str]:
    """`count` user messages from the sample data (client replies, tickets, bookings, a report)."""
    from tests.test_training_real_model import split

    training, heldout = split()
    return [user_message(e.instruction, e.input) for e in [*heldout, *training]][:count]


def quick_adapter(model_dir: Path, out: Path) -> Path:
    """A small adapter of the model in `model_dir` trained on the sample data (4 optimizer steps)."""
    from tests.test_training_real_model import HP, split
    from worker.training import train

    training, heldout = split()
    result = train(
        model_dir, training, heldout, HP, out, on_progress=lambda _p: None, should_stop=lambda: False
    )
    return result.adapter_dir


def main() -> None:
    """Parse the options, run both arms, print the result."""
    from tests.test_training_real_model import SMOLLM2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=SMOLLM2)
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        adapter = args.adapter or quick_adapter(args.model, Path(scratch))
        result = run_generation_arms(args.model, adapter, sample_prompts(args.prompts), args.max_new_tokens)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
