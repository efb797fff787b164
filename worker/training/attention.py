"""Attention over packed rows, one example at a time: causal SDPA on each segment, no block-diagonal mask.

A packed row holds several examples whose position ids each restart at 0. transformers' SDPA path
turns that into a (rows x length x length) mask and the kernel then scores every pair in the row,
examples against each other included, only to mask them out. Here each segment of a row goes
through the fused causal kernel on its own, which scores only the pairs causal attention needs
(about sum(n^2)/2 instead of L^2 per row). Anything else (a padding mask, a KV cache in generation)
goes to the ordinary SDPA path unchanged.
"""

from typing import Any

import torch
import torch.nn.functional as F

NAME = "lastmile_segments"


def segment_bounds(position_ids: torch.Tensor) -> list[list[tuple[int, int]]]:
    """Per row, the (start, end) of each run of positions that restarts at 0."""
    length = position_ids.shape[-1]
    bounds = []
    for row in position_ids.reshape(-1, length):
        starts = (row == 0).nonzero().flatten().tolist()
        if not starts or starts[0] != 0:
            starts = [0, *starts]
        bounds.append(list(zip(starts, [*starts[1:], length], strict=True)))
    return bounds


def segment_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    position_ids: torch.Tensor | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention in transformers' interface: (batch, heads, length, dim) in, (batch, length, heads, dim) out.

    Falls back to SDPA for a padding mask, a KV cache (generation) or attention dropout.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    batch, _heads, length, _dim = query.shape
    plain = attention_mask is not None or position_ids is None or key.shape[2] != length or dropout
    if plain or length == 1:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    sizes = [
        [end - start for start, end in bounds] for bounds in segment_bounds(position_ids.expand(batch, -1))
    ]
    pieces = []
    # unbind/split (not slicing) keep the backward to one concatenation per tensor instead of a zero-filled
    # full-size gradient per segment.
    for row, (q_row, k_row, v_row) in enumerate(
        zip(query.unbind(0), key.unbind(0), value.unbind(0), strict=True)
    ):
        for q, k, v in zip(*(t.split(sizes[row], dim=1) for t in (q_row, k_row, v_row)), strict=True):
            out = F.scaled_dot_product_attention(
                q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), is_causal=True, scale=scaling, enable_gqa=True
            )
            pieces.append(out.transpose(1, 2))
    # Segments tile every row exactly, so the pieces laid end to end are the (batch, length) grid.
    return torch.cat(pieces, dim=1).view(batch, length, *pieces[0].shape[2:]), None


def _mask(*args: Any, attention_mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor | None:
    """No mask for unpadded input (segments come from the position ids); SDPA's own mask otherwise."""
    from transformers.masking_utils import sdpa_mask

    if attention_mask is None:
        return None
    return sdpa_mask(*args, attention_mask=attention_mask, **kwargs)


def use_segment_attention(model: Any, on: bool = True) -> bool:
    """Switch `model` (a transformers model, possibly inside PEFT) to segment attention, or back to SDPA.

    Returns whether segment attention is now in use (False where the model cannot switch).
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, segment_attention)
    AttentionMaskInterface.register(NAME, _mask)
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        lm.set_attn_implementation(NAME if on else "sdpa")
    except (AttributeError, ValueError, NotImplementedError):
        return False
    return lm.config._attn_implementation == NAME
