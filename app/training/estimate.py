"""Before a run starts: how long it will take, how big the adapter will be, and how many examples get cut.

Pure arithmetic for the web (no torch). Throughput and layer shapes come from the worker, which measures
tokens per second and records the base model's linear layer shapes once per base model; the shapes of the
bundled SmolLM2-135M-Instruct are a constant here, computed from its config.
"""

import math
from dataclasses import dataclass

from app.training.presets import Hyperparameters, steps_per_epoch, total_steps

BYTES_PER_WEIGHT = 4  # LoRA weights are trained and saved in fp32, even when the base runs in bf16
# A forward pass for a held-out check costs about a third of a training step's forward + backward.
EVAL_COST_SHARE = 1 / 3
# Loading the base model, tokenising and writing the adapter: a fixed cost on top of the steps.
STARTUP_SECONDS = 15.0
# What SmolLM2's chat template adds around one example (its default system prompt and role markers).
SMOLLM2_TEMPLATE_TOKENS = 32


def llama_linear_shapes(
    hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, head_dim: int
) -> dict[str, tuple[int, int]]:
    """Module name -> (in_features, out_features) of every linear layer LoRA can target in a Llama model.

    The output layer (lm_head) is left out: PEFT's "all-linear" never adapts it.
    """
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    per_layer = {
        "self_attn.q_proj": (hidden, q_out),
        "self_attn.k_proj": (hidden, kv_out),
        "self_attn.v_proj": (hidden, kv_out),
        "self_attn.o_proj": (q_out, hidden),
        "mlp.gate_proj": (hidden, intermediate),
        "mlp.up_proj": (hidden, intermediate),
        "mlp.down_proj": (intermediate, hidden),
    }
    return {f"model.layers.{i}.{name}": shape for i in range(layers) for name, shape in per_layer.items()}


SMOLLM2_135M_LINEAR_SHAPES = llama_linear_shapes(
    hidden=576, intermediate=1536, layers=30, heads=9, kv_heads=3, head_dim=64
)
SMOLLM2_135M_PARAMS = 134_515_008


@dataclass(frozen=True)
class Estimate:
    """The numbers shown before a run starts; `summary()` says them in business terms."""

    seconds: float
    adapter_mb: float
    cut_examples: int
    total_tokens: int  # tokens the model trains on over all epochs (after cutting)
    steps: int
    max_length: int
    trainable_params: int
    trainable_share: float  # trainable / base parameters

    def summary(self) -> str:
        """E.g. 'about 4 minutes on this machine; adapter ~19 MB; 3 examples will be cut at 1,024 tokens'."""
        parts = [f"{duration_text(self.seconds)} on this machine", f"adapter ~{self.adapter_mb:.0f} MB"]
        if self.cut_examples:
            noun = "example" if self.cut_examples == 1 else "examples"
            parts.append(f"{self.cut_examples:,} {noun} will be cut at {self.max_length:,} tokens")
        return "; ".join(parts)


def duration_text(seconds: float) -> str:
    """A rounded duration for people: 'under a minute', 'about 4 minutes', 'about 2.5 hours'."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"
    hours = round(seconds / 3600, 1)
    return f"about {hours:g} hours"


def targeted_shapes(
    layer_shapes: dict[str, tuple[int, int]], target_modules: str
) -> dict[str, tuple[int, int]]:
    """The layers LoRA adapts: all of them for 'all-linear', else those whose name ends in a listed name."""
    if target_modules.strip() == "all-linear":
        return dict(layer_shapes)
    wanted = [name.strip() for name in target_modules.split(",") if name.strip()]
    return {
        module: shape
        for module, shape in layer_shapes.items()
        if any(module == name or module.endswith(f".{name}") for name in wanted)
    }


def lora_parameters(layer_shapes: dict[str, tuple[int, int]], hp: Hyperparameters) -> int:
    """Trainable LoRA weights: rank x (in + out) for every targeted layer (A is r x in, B is out x r)."""
    return hp.rank * sum(i + o for i, o in targeted_shapes(layer_shapes, hp.target_modules).values())


def estimate(
    token_counts: list[int],
    hp: Hyperparameters,
    tokens_per_second: float,
    params: int,
    layer_shapes: dict[str, tuple[int, int]] = SMOLLM2_135M_LINEAR_SHAPES,
    heldout_token_counts: list[int] | None = None,
) -> Estimate:
    """Time, adapter size and cut examples of a run on examples of `token_counts` rendered tokens.

    `tokens_per_second` is the worker's measured training throughput for this base model (real tokens,
    padding excluded); `params` is the base model's parameter count (for the trainable share).
    Held-out checks are included when their token counts are given.
    """
    cut = sum(1 for count in token_counts if count > hp.max_length)
    per_epoch = sum(min(count, hp.max_length) for count in token_counts)
    steps = total_steps(len(token_counts), hp)
    # A step limit ends the run inside its last pass: count the share of the passes it trains.
    passes = steps / steps_per_epoch(len(token_counts), hp) if token_counts else 0
    trained_tokens = round(per_epoch * passes)
    speed = max(tokens_per_second, 1e-9)
    seconds = STARTUP_SECONDS + trained_tokens / speed
    if heldout_token_counts and steps:
        every = hp.eval_every_steps or max(1, steps // hp.epochs)
        checks = math.ceil(steps / every) + 1  # plus the base model's baseline at step 0
        heldout = sum(min(count, hp.max_length) for count in heldout_token_counts)
        seconds += checks * heldout * EVAL_COST_SHARE / speed
    trainable = lora_parameters(layer_shapes, hp)
    return Estimate(
        seconds=seconds,
        adapter_mb=trainable * BYTES_PER_WEIGHT / 1e6,
        cut_examples=cut,
        total_tokens=trained_tokens,
        steps=steps,
        max_length=hp.max_length,
        trainable_params=trainable,
        trainable_share=trainable / params if params else 0.0,
    )
