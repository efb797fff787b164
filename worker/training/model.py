"""Loading the base model (safetensors, no remote code) and wrapping it with a fresh LoRA adapter."""

from pathlib import Path
from typing import Any

import torch

from app.training.presets import Hyperparameters
from worker.training.config import Runtime, TrainingError


def load_base(model_dir: Path, runtime: Runtime) -> Any:
    """The causal LM in `model_dir` on the run's device, with SDPA attention (packing relies on its masks)."""
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir),
            use_safetensors=True,
            trust_remote_code=False,
            dtype=runtime.dtype,
            attn_implementation="sdpa",
        )
    except OSError as exc:
        raise TrainingError(
            f"The base model in {model_dir} could not be loaded ({exc}). Import the model again from the "
            "Models page."
        ) from exc
    return model.to(runtime.device)


def lora_config(hp: Hyperparameters) -> Any:
    """PEFT's LoRA settings for `hp` (target modules 'all-linear' or a comma-separated list of names)."""
    from peft import LoraConfig

    targets: str | list[str] = hp.target_modules
    if hp.target_modules.strip() != "all-linear":
        targets = [name.strip() for name in hp.target_modules.split(",") if name.strip()]
    return LoraConfig(
        r=hp.rank,
        lora_alpha=hp.alpha,
        lora_dropout=hp.dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def with_lora(base: Any, hp: Hyperparameters) -> Any:
    """The base model wrapped with a new LoRA adapter (seed torch first: A is random, B starts at zero)."""
    from peft import get_peft_model

    try:
        model = get_peft_model(base, lora_config(hp))
    except ValueError as exc:
        raise TrainingError(
            f"The target modules {hp.target_modules!r} do not match this base model's layers ({exc}). "
            "Use 'all-linear' or names of its linear layers."
        ) from exc
    # LoRA weights stay fp32 even over a bf16 base, so small updates are not rounded away.
    for parameter in model.parameters():
        if parameter.requires_grad:
            parameter.data = parameter.data.float()
    return model


def trainable_parameters(model: Any) -> dict[str, torch.nn.Parameter]:
    """The LoRA weights, by name (the only parameters the optimizer updates)."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def linear_shapes(model: Any) -> dict[str, tuple[int, int]]:
    """Module name -> (in, out) of each linear layer but the output layer; the web's size estimate uses it."""
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = lm.get_output_embeddings()
    # Under PEFT a targeted layer's original Linear is "<name>.base_layer"; LoRA's own A/B are left out.
    return {
        name.removesuffix(".base_layer"): (module.in_features, module.out_features)
        for name, module in lm.named_modules()
        if isinstance(module, torch.nn.Linear) and module is not head and ".lora_" not in name
    }
