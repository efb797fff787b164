"""The answer-only loss: the output layer runs on the positions whose next token is learnt, nothing else.

A causal LM's forward computes logits for every position: vocabulary x hidden multiply-adds per token
(49k x 576 for SmolLM2, a fifth of the whole forward) and a logits tensor of vocabulary floats per
token. Prompt tokens and padding carry no loss, so here the decoder runs to hidden states, the
positions with a target are selected, and only those go through the output layer. Two quick checks
at the start of a run confirm, on the actual base model, that packing and the head-only path give the
same numbers as the plain forward; a model where they don't falls back to the plain path. The same
check decides whether packed rows go through segment attention (worker/training/attention.py) or
through transformers' SDPA with a block-diagonal mask.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from worker.training.attention import use_segment_attention
from worker.training.batching import IGNORE, MicroBatch, PaddedBatch, micro_batches
from worker.training.config import Runtime
from worker.training.data import TokenizedExample

# Packed and unpacked hidden states agree to ~1e-6 in fp32; bf16 needs a looser bound.
CHECK_TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 5e-2}


@dataclass(frozen=True)
class FastPaths:
    """Which speed-ups the base model supports, as checked: packed rows, output layer on targets only, and
    attention computed per packed example; `fused_lora` says whether the LoRA layers run fused."""

    packing: bool = True
    head_only: bool = True
    segment_attention: bool = False
    fused_lora: bool = False


def causal_lm_of(model: Any) -> Any:
    """The transformers causal LM inside a PEFT wrapper (LoRA layers included), or the model itself."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def target_losses(model: Any, batch: MicroBatch, head_only: bool = True) -> torch.Tensor:
    """Cross-entropy at each of the batch's target positions, in row order (fp32)."""
    lm = causal_lm_of(model)
    mask = batch.targets != IGNORE
    # use_cache=False matters: with a cache transformers ignores the restarting position ids and
    # packed examples would attend to each other.
    if head_only:
        hidden = lm.get_decoder()(
            input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False
        ).last_hidden_state
        logits = lm.get_output_embeddings()(hidden[mask])
    else:
        logits = lm(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False).logits[mask]
    return F.cross_entropy(logits.float(), batch.targets[mask], reduction="none")


def loss_sum(model: Any, batch: MicroBatch, head_only: bool = True) -> torch.Tensor:
    """Summed cross-entropy over the batch's target positions (fp32)."""
    return target_losses(model, batch, head_only).sum()


def full_logits_loss(model: Any, batch: MicroBatch) -> torch.Tensor:
    """Mean loss over target positions computed from the full logits tensor (the reference for tests)."""
    logits = model(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False).logits
    return F.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(), ignore_index=IGNORE)


def hf_padded_loss(model: Any, batch: PaddedBatch) -> torch.Tensor:
    """The standard recipe's loss: full forward with attention mask and labels (mean over the batch)."""
    return model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.labels).loss


def _close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> bool:
    """Whether two results agree within the tolerance of `dtype`."""
    return bool(torch.allclose(a.float(), b.float(), atol=CHECK_TOLERANCE.get(dtype, 1e-4), rtol=1e-3))


@torch.no_grad()
def check_fast_paths(
    model: Any, examples: Sequence[TokenizedExample], runtime: Runtime, pad_id: int
) -> FastPaths:
    """Try packing, segment attention and the head-only loss on two short examples against the plain forward.

    Leaves the model on segment attention when it gives the plain numbers, on SDPA otherwise.
    """
    short = sorted(examples, key=lambda e: len(e.ids))[:2]
    if len(short) < 2:
        return FastPaths()
    # Trimmed copies keep the check to a few dozen tokens whatever the data.
    trimmed = [
        TokenizedExample(e.ids[:48], min(e.answer_start, len(e.ids[:48]) - 1), e.source) for e in short
    ]
    was_training = model.training
    model.eval()
    try:
        with runtime.autocast():
            both = sum(len(e.ids) for e in trimmed)
            packed = micro_batches(trimmed, 1, pad_id, capacity=both)[0].to(runtime.device)
            alone = [micro_batches([e], 1, pad_id, pack=True)[0].to(runtime.device) for e in trimmed]
            # The reference: one example per row through the model's own attention.
            separate = sum(loss_sum(model, b, head_only=False) for b in alone)
            segments = use_segment_attention(model)
            packing = _close(loss_sum(model, packed, head_only=False), separate, runtime.dtype)
            if segments and not packing:
                segments = use_segment_attention(model, False)
                packing = _close(loss_sum(model, packed, head_only=False), separate, runtime.dtype)
            head_only = _close(
                loss_sum(model, alone[0], head_only=True), loss_sum(model, alone[0], False), runtime.dtype
            )
    finally:
        model.train(was_training)
    return FastPaths(packing=packing, head_only=head_only, segment_attention=segments)


@torch.no_grad()
def evaluate(
    model: Any, batches: Sequence[MicroBatch], runtime: Runtime, head_only: bool = True
) -> float | None:
    """Mean loss per answer token over `batches` (dropout off), or None when there is nothing to evaluate."""
    tokens = sum(batch.loss_tokens for batch in batches)
    if not tokens:
        return None
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for batch in batches:
            with runtime.autocast():
                total += loss_sum(model, batch.to(runtime.device), head_only).item()
    finally:
        model.train(was_training)
    return total / tokens
