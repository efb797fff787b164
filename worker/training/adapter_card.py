"""The finished adapter folder: PEFT's safetensors weights and config, and a README card with lineage."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.training.presets import Hyperparameters
from worker.training.checkpoints import atomic_dir

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
CARD = "README.md"
MANIFEST = "lastmile-model.json"  # written by worker.model_store next to an imported model


@dataclass(frozen=True)
class BaseModelInfo:
    """Which base model an adapter was trained on: its name, where it came from, and a hash of its weights."""

    name: str
    source: str
    weights_sha256: str


def base_model_info(model_dir: Path, name: str | None = None) -> BaseModelInfo:
    """Name, source and weights hash of the model in `model_dir` (the hash pins the exact revision)."""
    source = str(model_dir)
    manifest = model_dir / MANIFEST
    if manifest.is_file():
        source = json.loads(manifest.read_text()).get("source", source)
    digest = hashlib.sha256()
    for path in sorted(model_dir.glob("*.safetensors")):
        with open(path, "rb") as handle:
            while chunk := handle.read(8 * 1024 * 1024):
                digest.update(chunk)
    return BaseModelInfo(name or model_dir.name, source, digest.hexdigest())


def _number(value: Any, decimals: int = 0) -> str:
    """A metric for the card with thousands separators and `decimals` decimals; None as 'n/a'."""
    if value is None:
        return "n/a"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.{decimals}f}"
    return str(value)


def model_card(base: BaseModelInfo, dataset_hash: str, hp: Hyperparameters, metrics: dict[str, Any]) -> str:
    """The README.md of an adapter: lineage, hyperparameters and results, readable by people."""
    share = f"{100 * metrics.get('trainable_share', 0.0):.2f}%"
    rows = [
        ("Held-out loss, base model", _number(metrics.get("heldout_loss_before"), 4)),
        ("Held-out loss, with this adapter", _number(metrics.get("heldout_loss_after"), 4)),
        ("Best step (kept)", _number(metrics.get("best_step"))),
        ("Optimizer steps", _number(metrics.get("steps"))),
        ("Training examples", _number(metrics.get("train_examples"))),
        ("Held-out examples", _number(metrics.get("heldout_examples"))),
        ("Examples cut at max length", _number(metrics.get("cut_examples"))),
        ("Examples left out (prompt too long)", _number(metrics.get("dropped_examples"))),
        ("Tokens trained on", _number(metrics.get("tokens_seen"))),
        ("Answer tokens (with a loss)", _number(metrics.get("answer_tokens_seen"))),
        ("Trainable parameters", _number(metrics.get("trainable_params"))),
        ("Trainable share of the model", share),
        ("Training time (s)", _number(metrics.get("train_seconds"), 1)),
        ("Wall time (s)", _number(metrics.get("wall_seconds"), 1)),
        ("Tokens per second", _number(metrics.get("tokens_per_second"), 1)),
    ]
    lines = [
        "---",
        "library_name: peft",
        f"base_model: {base.name}",
        "tags: [lora, lastmile]",
        "---",
        "",
        f"# LoRA adapter for {base.name}",
        "",
        "Trained with Lastmile on a frozen dataset snapshot. Load it with "
        "`PeftModel.from_pretrained(base_model, this_folder)`.",
        "",
        "## Lineage",
        "",
        f"- Base model: {base.name}",
        f"- Base model source: {base.source}",
        f"- Base model weights (sha256): {base.weights_sha256}",
        f"- Dataset snapshot (sha256): {dataset_hash or 'n/a'}",
        "",
        "## Hyperparameters",
        "",
        "| Setting | Value |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in hp.to_dict().items()),
        "",
        "## Results",
        "",
        "| Metric | Value |",
        "| --- | --- |",
        *(f"| {label} | {value} |" for label, value in rows),
        "",
    ]
    return "\n".join(lines)


def write_adapter(model: Any, target: Path, card: str) -> int:
    """Save the PEFT adapter (safetensors) and card into `target` atomically; returns the weights' size."""
    with atomic_dir(target) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        # PEFT writes a generic card of its own; ours replaces it.
        (tmp / CARD).write_text(card)
    return (target / ADAPTER_WEIGHTS).stat().st_size
