"""The regression guard after training: everyday instructions answered by the base and the adapted model.

The run task calls `check_general_writing` once the adapter is written and before the run is recorded as
succeeded, so the run page and the adapter library show the result as soon as the adapter appears. It
scores the bundled everyday instructions (app/evaluation/general_set.py) with both models: each reference
answer's loss per answer token, scored like the held-out checks (worker/training/evaluation.py: EvalSet;
the base model's losses come from the database's cache after the first run on that model), and, when it
warns, drafts of both models for the few instructions where the adapter's loss rose most. The decision and
its words are app/evaluation/regression_guard.py.

It runs on the generation engine (one base load, kept for the comparison task that follows), and never
fails a run: a guard that cannot run leaves the adapter without a check and logs why.
"""

import gc
import logging
import time
from pathlib import Path
from typing import Any

from app.evaluation.general_set import GeneralItem, general_set
from app.evaluation.regression_guard import EXAMPLES_SHOWN, judge, worst_items

log = logging.getLogger(__name__)
# The set's longest prompt + answer is ~300 tokens; this only bounds a tokenizer that writes far more.
MAX_LENGTH = 1024
# New tokens a shown draft may take: its reference's length x 1.5 (worker/generation/shapes.py), at most
# this; a longer draft is cut, which is enough to see what went wrong and keeps the guard cheap.
MAX_NEW_TOKENS = 160
# Rows per forward pass when scoring: the set's examples sorted by length, 8 of similar length at a time.
GUARD_ROWS = 8


def _drafts(engine: Any, items: list[GeneralItem], adapter: str, reference_tokens: list[int]) -> list[Any]:
    """(base draft, adapted draft) for each item, in one batched generation, each in its answer's shape."""
    from worker.generation.engine import Decoding, Request
    from worker.generation.shapes import length_budget, shape_for

    requests = []
    for item, tokens in zip(items, reference_tokens, strict=True):
        prompt = engine.example_prompt(item.instruction, item.input)
        limit, shape = length_budget([tokens], MAX_NEW_TOKENS), shape_for(item.kind, [item.output])
        requests += [Request(prompt, None, limit, shape), Request(prompt, adapter, limit, shape)]
    drafts = engine.generate(requests, Decoding(MAX_NEW_TOKENS))
    return [(drafts[2 * i], drafts[2 * i + 1]) for i in range(len(items))]


def score_general_writing(
    model_dir: Path, model_name: str | None, adapter_dir: Path, key: str, cache: Any = None
) -> dict:
    """The guard's result for the adapter in `adapter_dir` on the base model in `model_dir` (JSON-ready).

    `cache` keeps the base model's losses between runs (a LossCache: the database's in the run task).
    """
    from worker.generation.engine import engine_for
    from worker.training.batching import micro_batches
    from worker.training.data import prepare
    from worker.training.evaluation import EvalSet, base_losses, weights_identity
    from worker.training.loss import FastPaths

    started = time.monotonic()
    gc.collect()  # the training's model (PEFT layers hold reference cycles) goes before the engine loads one
    engine = engine_for(model_dir, model_name)
    items = list(general_set())
    prepared = prepare(engine.tokenizer, items, MAX_LENGTH)
    kept = [items[example.source] for example in prepared.examples]
    tokens = [example.answer_tokens for example in prepared.examples]
    # One example per row (the engine's model was not checked for packed rows as training's was), rows of
    # similar length together: GUARD_ROWS per pass keeps the padding to a few percent.
    fast = FastPaths(packing=False)
    rows = micro_batches(prepared.examples, GUARD_ROWS, engine.pad_id, pack=False)
    eval_set = EvalSet(prepared.examples, rows, fast.head_only)
    name = engine.use_adapter(key, adapter_dir)
    try:
        identity = weights_identity(model_dir)
        with engine.model.disable_adapter():
            base_sums, computed = base_losses(
                eval_set, engine.model, engine.runtime, cache, identity, engine.pad_id, fast
            )
        engine.model.set_adapter(name)
        adapted_sums = eval_set.losses(engine.model, engine.runtime)
        scored = time.monotonic()
        base = [total / count for total, count in zip(base_sums, tokens, strict=True)]
        adapted = [total / count for total, count in zip(adapted_sums, tokens, strict=True)]
        decision = judge(base, adapted, tokens)
        shown = worst_items(base, adapted, EXAMPLES_SHOWN)
        # Drafts are the evidence of a warning; an adapter that passes shows its numbers only, which keeps
        # the guard to the losses (about half its time) after a normal run.
        drafts = (
            _drafts(engine, [kept[i] for i in shown], name, [tokens[i] for i in shown])
            if decision.worse
            else []
        )
    finally:
        # The comparison loads the adapter again from its final folder: this copy would only take room.
        engine.drop_adapter(name)
    examples = [
        {
            "kind": kept[i].kind, "instruction": kept[i].instruction, "input": kept[i].input,
            "reference": kept[i].output, "base_loss": round(base[i], 4), "adapted_loss": round(adapted[i], 4),
        }
        for i in shown
    ]  # fmt: skip
    for example, (base_draft, adapted_draft) in zip(examples, drafts, strict=False):
        example |= {
            "base": base_draft.text, "adapted": adapted_draft.text,
            "base_stop": base_draft.stop, "adapted_stop": adapted_draft.stop,
        }  # fmt: skip
    done = time.monotonic()
    return decision.to_dict() | {
        "examples": examples,
        # Every item's numbers, in the set's order: a later threshold can be checked against stored runs.
        "base_losses": [round(value, 4) for value in base],
        "adapted_losses": [round(value, 4) for value in adapted],
        "base_cached": computed == 0,
        "loss_seconds": round(scored - started, 2),
        "draft_seconds": round(done - scored, 2),
        "seconds": round(done - started, 2),
    }


def check_general_writing(run_id: int, model_dir: Path, model: Any, result: Any, writer: Any) -> None:
    """Add the guard's result to a succeeded training result's metrics ("general_writing") for the catalog's
    base `model`; never raises for an ordinary error (the run keeps its adapter without a check), only for
    the worker's time limit."""
    if result.state != "succeeded" or result.adapter_dir is None:
        return
    from celery.exceptions import SoftTimeLimitExceeded

    from worker.loss_cache import DatabaseLossCache

    writer.lines.append(f"Checking everyday writing on {len(general_set())} general instructions.")
    writer.flush()
    try:
        found = score_general_writing(
            model_dir, model.name, result.adapter_dir, f"guard-run-{run_id}", DatabaseLossCache(model.id)
        )
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        log.exception("run %s: the general-writing check did not run; the adapter is kept without it", run_id)
        return
    result.metrics["general_writing"] = found
    change = round(100 * found["change"])
    verdict = "noticeably worse than the base model" if found["worse"] else "fine"
    writer.lines.append(f"Everyday writing: loss {change:+d}% against the base model ({verdict}).")
    writer.flush()
