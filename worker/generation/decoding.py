"""The decoding loop: a batch of prompts runs until each row ends, and ended rows leave the batch.

Hugging Face's `generate` keeps computing a row that ended until the last row of its batch ends; drafts
differ a lot in length (a one-word label next to a page-long email), so most of that work would be wasted.
Here a row leaves the batch, and its attention cache, as soon as it ends. Prompts of equal length are read
together without padding and their caches joined, left-padded, for decoding (padding a batch to its longest
prompt would compute every pad position of every layer). Each step feeds the model what `generate` feeds it
(the new tokens, the 2-D attention mask, position ids counted from the mask, logits of the last position
only), so a greedy draft is token for token the one `generate` writes for the prompt alone.
"""

from collections.abc import Collection, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from worker.generation.repetition import ends_in_loop


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator) -> torch.Tensor:
    """The next token of each row: the most likely one, or a sample at `temperature`."""
    if temperature <= 0:
        return torch.argmax(logits, dim=-1)
    probabilities = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(1)


def _forward(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any, names: Any
):
    """Last-position logits of each row (fp32); the model appends the rows' keys and values to `cache`."""
    extra = {"adapter_names": names} if names is not None else {}
    out = model(
        input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True,
        logits_to_keep=1, **extra,
    )  # fmt: skip
    return out.logits[:, -1].float()


def _runs(prompts: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """(start, end) of each run of consecutive prompts of equal length."""
    runs, start = [], 0
    for end in range(1, len(prompts) + 1):
        if end == len(prompts) or len(prompts[end]) != len(prompts[start]):
            runs.append((start, end))
            start = end
    return runs


def prefill(
    model: Any, prompts: Sequence[Sequence[int]], names: list[str] | None, pad_id: int, device: torch.device
) -> tuple[torch.Tensor, Any, torch.Tensor]:
    """Read the prompts: (last-position logits, attention cache, 2-D mask), the batch left-padded."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    width = max(len(prompt) for prompt in prompts)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    plain = all(type(layer) is DynamicLayer for layer in DynamicCache(config=model.config).layers)
    if not plain:
        # Sliding-window or recurrent layers keep a cache that cannot be padded after the fact.
        ids = torch.tensor([[pad_id] * (width - len(p)) + list(p) for p in prompts], device=device)
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
        cache = DynamicCache(config=model.config)
        return _forward(model, ids, mask, positions, cache, names), cache, mask
    logits, pieces = [], []
    for start, end in _runs(prompts):
        ids = torch.tensor([list(p) for p in prompts[start:end]], device=device)
        positions = torch.arange(ids.shape[1], device=device).expand_as(ids)
        cache = DynamicCache(config=model.config)
        part = names[start:end] if names is not None else None
        logits.append(_forward(model, ids, torch.ones_like(ids), positions, cache, part))
        pieces.append(cache)
    layers = []
    for index in range(len(pieces[0].layers)):
        keys, values = zip(*((c.layers[index].keys, c.layers[index].values) for c in pieces), strict=True)
        layers.append(
            (
                torch.cat([F.pad(k, (0, 0, width - k.shape[-2], 0)) for k in keys]),
                torch.cat([F.pad(v, (0, 0, width - v.shape[-2], 0)) for v in values]),
            )
        )
    return torch.cat(logits), DynamicCache(ddp_cache_data=layers), mask


def decode(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    pad_id: int,
    device: torch.device,
    max_new_tokens: int,
    stop_ids: Collection[int],
    temperature: float = 0.0,
    seed: int = 0,
    adapter_names: list[str] | None = None,
) -> list[tuple[list[int], str]]:
    """(new token ids, why the row ended) for each prompt (token ids, sorted by length for little padding).

    A row ends at a token in `stop_ids` (left out of its ids; "eos"), when its newest tokens loop
    ("repetition"), or after `max_new_tokens` ("length"). `adapter_names` names each row's adapter for a
    PEFT model serving a mixed batch.
    """
    logits, cache, mask = prefill(model, prompts, adapter_names, pad_id, device)
    positions = torch.tensor([[len(p)] for p in prompts], device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    stops = torch.tensor(sorted(stop_ids), device=device)
    rows = torch.arange(len(prompts))  # the prompt each live row answers
    new = torch.empty((len(prompts), 0), dtype=torch.long, device=device)
    results: list[tuple[list[int], str]] = [([], "length")] * len(prompts)
    names = adapter_names
    for step in range(max_new_tokens):
        token = _pick(logits, temperature, generator)
        new = torch.cat([new, token[:, None]], dim=1)
        eos = torch.isin(token, stops)
        looping = ends_in_loop(new) & ~eos
        ended = eos | looping if step + 1 < max_new_tokens else torch.ones_like(eos)
        for k in ended.nonzero().flatten().tolist():
            tokens = new[k].tolist()
            stop = "eos" if eos[k] else "repetition" if looping[k] else "length"
            results[int(rows[k])] = (tokens[:-1] if stop == "eos" else tokens, stop)
        if bool(ended.all()):
            break
        if bool(ended.any()):
            keep = (~ended).nonzero().flatten()
            cache.batch_select_indices(keep)
            rows, new, token = rows[keep.cpu()], new[keep], token[keep]
            mask, positions = mask[keep], positions[keep]
            names = [names[k] for k in keep.tolist()] if names is not None else None
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        logits = _forward(model, token[:, None], mask, positions, cache, names)
        positions = positions + 1
    return results
