"""The regression guard after training: everyday instructions answered by the base and the adapted model.

The run task calls `check_general_writing` once the adapter is written and before the run is recorded as
succeeded, so the run page and the adapter library show the result as soon as the adapter appears. It
scores the bundled everyday instructions (app/evaluation/general_set.py) with both models: the loss per
answer token on each reference answer (the base model's losses are computed once per base model and set,
then read from a small file beside the model), and drafts of both models for the few instructions where
the adapter's loss rose most. The decision and its words are app/evaluation/regression_guard.py.

It runs on the generation engine (one base load, kept for the comparison task that follows), and never
fails a run: a guard that cannot run leaves the adapter without a check and logs why.
"""

import gc
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.evaluation.general_set import GeneralItem, general_set, general_set_sha256
from app.evaluation.regression_guard import EXAMPLES_SHOWN, judge, worst_items
from app.settings import get_settings

log = logging.getLogger(__name__)
# The set's longest prompt + answer is ~300 tokens; this only bounds a tokenizer that writes far more.
MAX_LENGTH = 1024
# New tokens for the shown drafts: the longest shown reference x 1.5, within these bounds.
MIN_NEW_TOKENS, MAX_NEW_TOKENS = 48, 256
CACHE_FOLDER = "general-set-loss"


def _weights_stamp(model_dir: Path) -> str:
    """What identifies the model's weights on this host: each safetensors file's name, size and mtime."""
    parts = sorted(
        f"{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
        for path in model_dir.glob("*.safetensors")
    )
    return f"{model_dir.resolve()}|{'|'.join(parts)}"


def _cache_path(model_dir: Path) -> Path:
    """The file holding the base model's per-item losses on this version of the set."""
    key = hashlib.sha256(f"{_weights_stamp(model_dir)}|{general_set_sha256()}".encode()).hexdigest()
    return get_settings().models_dir / CACHE_FOLDER / f"{key[:32]}.json"


def _read_cache(path: Path, items: int) -> list[float] | None:
    """Cached base losses, or None when missing, unreadable or for another number of items."""
    try:
        losses = json.loads(path.read_text())["losses"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [float(v) for v in losses] if isinstance(losses, list) and len(losses) == items else None


def _write_cache(path: Path, losses: list[float]) -> None:
    """Store the base losses (written to a temp file and renamed: a reader never sees half a file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"set_sha256": general_set_sha256(), "losses": losses}))
        os.replace(tmp, path)
    except OSError as exc:  # only a cache: the next run computes them again
        log.warning("the base model's general-set losses could not be cached: %s", exc)


def item_losses(engine: Any, examples: Sequence[Any], adapter: str | None) -> list[float]:
    """Mean loss per answer token of each tokenised example, with `adapter` active or the base model (None).

    One example per forward pass: a single row has no padding, and the per-item numbers pick the examples
    shown.
    """
    import contextlib

    from worker.training.batching import micro_batches
    from worker.training.loss import evaluate

    model = engine.model
    if adapter is None:
        switch = model.disable_adapter() if engine.adapters else contextlib.nullcontext()
    else:
        model.set_adapter(adapter)
        switch = contextlib.nullcontext()
    with switch:
        return [
            evaluate(model, micro_batches([example], 1, engine.pad_id), engine.runtime) or 0.0
            for example in examples
        ]


def _drafts(engine: Any, items: list[GeneralItem], adapter: str, reference_tokens: list[int]) -> list[Any]:
    """(base draft, adapted draft) for each item, in one batched generation."""
    from worker.generation.engine import Decoding, Request

    requests = []
    for item in items:
        prompt = engine.example_prompt(item.instruction, item.input)
        requests += [Request(prompt, None), Request(prompt, adapter)]
    budget = min(MAX_NEW_TOKENS, max(MIN_NEW_TOKENS, round(1.5 * max(reference_tokens, default=0))))
    drafts = engine.generate(requests, Decoding(budget))
    return [(drafts[2 * i], drafts[2 * i + 1]) for i in range(len(items))]


def score_general_writing(model_dir: Path, model_name: str | None, adapter_dir: Path, key: str) -> dict:
    """The guard's result for the adapter in `adapter_dir` on the base model in `model_dir` (JSON-ready)."""
    from worker.generation.engine import engine_for
    from worker.training.data import prepare

    started = time.monotonic()
    gc.collect()  # the training's model (PEFT layers hold reference cycles) goes before the engine loads one
    engine = engine_for(model_dir, model_name)
    items = list(general_set())
    prepared = prepare(engine.tokenizer, items, MAX_LENGTH)
    kept = [items[example.source] for example in prepared.examples]
    tokens = [example.answer_tokens for example in prepared.examples]
    cache = _cache_path(Path(model_dir))
    base = _read_cache(cache, len(kept))
    cached = base is not None
    name = engine.use_adapter(key, adapter_dir)
    try:
        if base is None:
            base = item_losses(engine, prepared.examples, None)
            _write_cache(cache, base)
        adapted = item_losses(engine, prepared.examples, name)
        decision = judge(base, adapted, tokens)
        shown = worst_items(base, adapted, EXAMPLES_SHOWN)
        drafts = _drafts(engine, [kept[i] for i in shown], name, [tokens[i] for i in shown])
    finally:
        # The adapter is loaded again from its final folder by the comparison: this copy would only take room.
        engine.model.delete_adapter(name)
        engine.adapters.pop(name, None)
    examples = [
        {
            "kind": kept[i].kind, "instruction": kept[i].instruction, "input": kept[i].input,
            "reference": kept[i].output, "base_loss": round(base[i], 4), "adapted_loss": round(adapted[i], 4),
            "base": base_draft.text, "adapted": adapted_draft.text,
            "base_stop": base_draft.stop, "adapted_stop": adapted_draft.stop,
        }
        for i, (base_draft, adapted_draft) in zip(shown, drafts, strict=True)
    ]  # fmt: skip
    return decision.to_dict() | {
        "examples": examples,
        "base_cached": cached,
        "seconds": round(time.monotonic() - started, 2),
    }


def check_general_writing(
    run_id: int, model_dir: Path, model_name: str | None, result: Any, writer: Any
) -> None:
    """Add the guard's result to a succeeded training result's metrics ("general_writing"); never raises
    for an ordinary error (the run keeps its adapter without a check), only for the worker's time limit."""
    if result.state != "succeeded" or result.adapter_dir is None:
        return
    from celery.exceptions import SoftTimeLimitExceeded

    writer.lines.append(f"Checking everyday writing on {len(general_set())} general instructions.")
    writer.flush()
    try:
        found = score_general_writing(model_dir, model_name, result.adapter_dir, f"guard-run-{run_id}")
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        log.exception(
            "run %s: the general-writing check could not run; the adapter is kept without it", run_id
        )
        return
    result.metrics["general_writing"] = found
    change = round(100 * found["change"])
    verdict = "noticeably worse than the base model" if found["worse"] else "fine"
    writer.lines.append(f"Everyday writing: loss {change:+d}% against the base model ({verdict}).")
    writer.flush()
