"""LoRA linear layers in one autograd function on CPU: fewer passes over the activations, less saved memory.

PEFT computes `base(x) + lora_B(lora_A(dropout(x))) * scaling` as separate operations, each writing a
full (tokens x features) tensor: the dropped-out input, lora_B's output, its scaled copy and the sum,
and autograd keeps the dropped-out input for the backward pass. Here the scaling and the dropout's
rescaling go onto the small (tokens x rank) intermediate, lora_B's product is accumulated straight into
the base output by the matrix multiply (`addmm_`), and the backward pass keeps the input (shared by
q/k/v and by gate/up, so stored once) plus a one-byte keep mask instead of a dropped-out copy per
layer. The keep mask comes from 15-bit random numbers, four to a 64-bit draw, a third of the cost of
`bernoulli_`; the keep probability is p rounded to 1/32768 and the rescaling uses that exact value. Same
mathematics as PEFT otherwise, same parameters, so the adapter PEFT saves is unchanged.
"""

from functools import partial
from typing import Any

import torch

RANDOM_BITS = 15  # per mask entry: the low bits of an int16 lane of a random int64 (whose top bit is 0)


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> tuple[torch.Tensor, float]:
    """A bool mask keeping each entry with probability ~1-p, and that probability exactly."""
    levels = 1 << RANDOM_BITS
    dropped = round(p * levels)
    count = shape.numel()
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_()
    lanes = words.view(torch.int16)[:count].bitwise_and_(levels - 1)
    return lanes.ge(dropped).view(shape), 1 - dropped / levels


class LoraLinear(torch.autograd.Function):
    """y = x W^T (+ b) + scaling / P(keep) * ((x * keep) A^T) B^T, with W and b frozen."""

    @staticmethod
    def forward(ctx: Any, x, weight, bias, lora_a, lora_b, scaling: float, p: float):
        flat = x.reshape(-1, x.shape[-1])
        out = flat.mm(weight.t()) if bias is None else torch.addmm(bias, flat, weight.t())
        keep, kept_share = keep_mask(flat.shape, p, flat.device) if p > 0 else (None, 1.0)
        factor = scaling / kept_share
        hidden = (flat if keep is None else flat * keep).mm(lora_a.t()).mul_(factor)
        out.addmm_(hidden, lora_b.t())
        ctx.save_for_backward(flat, weight, lora_a, lora_b, hidden, keep)
        ctx.factor = factor
        return out.view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):
        flat, weight, lora_a, lora_b, hidden, keep = ctx.saved_tensors
        grad = grad_out.reshape(-1, grad_out.shape[-1])
        grad_b = grad.t().mm(hidden)
        grad_hidden = grad.mm(lora_b).mul_(ctx.factor)
        dropped = flat if keep is None else flat * keep
        grad_a = grad_hidden.t().mm(dropped)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad.mm(weight)
            if keep is None:
                grad_x.addmm_(grad_hidden, lora_a)
            else:
                grad_x.add_(grad_hidden.mm(lora_a).mul_(keep))
            grad_x = grad_x.view(*grad_out.shape[:-1], weight.shape[1])
        return grad_x, None, None, grad_a, grad_b, None, None


def _fused_forward(module: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    """The layer's forward through LoraLinear when it is a plain, active, unmerged LoRA; PEFT's otherwise."""
    adapters = [name for name in module.active_adapters if name in module.lora_A]
    plain = (
        not args
        and not kwargs
        and not module.disable_adapters
        and not module.merged
        and len(adapters) == 1
        and adapters[0] not in getattr(module, "lora_variant", {})
        and not module.base_layer.weight.requires_grad
        and x.dtype == module.base_layer.weight.dtype == module.lora_A[adapters[0]].weight.dtype
    )
    if not plain:
        return type(module).forward(module, x, *args, **kwargs)
    name = adapters[0]
    dropout = module.lora_dropout[name]
    p = dropout.p if module.training and isinstance(dropout, torch.nn.Dropout) else 0.0
    base = module.base_layer
    lora_a, lora_b = module.lora_A[name].weight, module.lora_B[name].weight
    return LoraLinear.apply(x, base.weight, base.bias, lora_a, lora_b, module.scaling[name], p)


def fuse_lora(model: Any, on: bool = True) -> int:
    """Route every PEFT LoRA Linear of `model` through LoraLinear (or back to PEFT's forward when `on` is
    False); returns how many layers were switched."""
    from peft.tuners.lora.layer import Linear

    count = 0
    for module in model.modules():
        # Exactly PEFT's Linear over an nn.Linear: subclasses (quantised layers) keep their own forward.
        plain_linear = type(module) is Linear and type(module.base_layer) is torch.nn.Linear
        if plain_linear and not module.fan_in_fan_out:
            if on:
                module.forward = partial(_fused_forward, module)
            else:
                module.__dict__.pop("forward", None)
            count += 1
    return count
