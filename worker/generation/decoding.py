"""The decoding loop: a batch of prompts runs until each row ends, and ended rows leave the batch.

Hugging Face's `generate` keeps computing a row that ended until the last row of its batch ends; drafts
differ a lot in length (a one-word label next to a page-long email), so most of that work would be wasted.
Here a row leaves the batch, and its attention cache, as soon as it ends. Prompts of equal length are read
together without padding and their caches joined, left-padded, for decoding (padding a batch to its longest
prompt would compute every pad position of every layer). Each step feeds the model what `generate` feeds it
(the new tokens, the 2-D attention mask, position ids counted from the mask, logits of the last position
only) and picks the next token with the same logits processors, so a draft is token for token the one
`generate` writes for the prompt alone, until the repetition guard or the answer's shape ends it.
"""

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from worker.generation.repetition import LoopGuard
from worker.generation.shapes import COMPLETE, FREE, watch


@dataclass(frozen=True)
class Sampling:
    """How the next token is picked: greedy at temperature 0 (the same draft every time), else seeded
    sampling; the base model's own settings (its generation config) where it sets them."""

    temperature: float = 0.0
    seed: int = 0
    repetition_penalty: float | None = None
    no_repeat_ngram_size: int | None = None
    top_k: int | None = None
    top_p: float | None = None

    @classmethod
    def of_model(cls, generation_config: Any, temperature: float = 0.0, seed: int = 0) -> "Sampling":
        """The settings the model's generation config sets (others stay off), at `temperature`."""

        def value(name: str) -> Any:
            return getattr(generation_config, name, None) if generation_config is not None else None

        return cls(
            temperature=temperature,
            seed=seed,
            repetition_penalty=value("repetition_penalty"),
            no_repeat_ngram_size=value("no_repeat_ngram_size"),
            top_k=value("top_k"),
            top_p=value("top_p"),
        )

    def processors(self) -> Any:
        """transformers' logits processors for these settings, in `generate`'s order (empty when none apply).

        The repetition penalty and the n-gram ban apply to greedy drafts too (as in `generate`); top-k and
        top-p only when sampling.
        """
        from transformers.generation.logits_process import (
            LogitsProcessorList,
            NoRepeatNGramLogitsProcessor,
            RepetitionPenaltyLogitsProcessor,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
        )

        chain = LogitsProcessorList()
        if self.repetition_penalty is not None and self.repetition_penalty != 1.0:
            chain.append(RepetitionPenaltyLogitsProcessor(self.repetition_penalty))
        if self.no_repeat_ngram_size:
            chain.append(NoRepeatNGramLogitsProcessor(self.no_repeat_ngram_size))
        if self.temperature > 0:
            if self.temperature != 1.0:
                chain.append(TemperatureLogitsWarper(self.temperature))
            if self.top_k:
                chain.append(TopKLogitsWarper(self.top_k))
            if self.top_p is not None and self.top_p < 1.0:
                chain.append(TopPLogitsWarper(self.top_p))
        return chain


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator) -> torch.Tensor:
    """The next token of each row from its processed logits: the most likely one, or a sample."""
    if temperature <= 0:
        return torch.argmax(logits, dim=-1)
    probabilities = torch.softmax(logits, dim=-1)
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


# A loop's cut moves back to the start of its line when that is at most this many tokens back.
LINE_SNAP = 8


@dataclass
class RowState:
    """One prompt's draft while it is written: its tokens, the repetition guard and its shape's watcher."""

    limit: int
    watcher: Any
    guard: LoopGuard
    tokens: list[int]

    def step(self, token: int, eos: bool, piece: Callable[[int], str]) -> str | None:
        """Take the next token; why the draft ends here, or None while it goes on."""
        if eos:
            return "eos"
        self.tokens.append(token)
        text = piece(token)
        if self.guard.feed(token, "\n" in text):
            return "repetition"
        if self.watcher is not None:
            verdict = self.watcher.feed(text)
            if verdict:
                # A closed answer ends like an end of turn; a JSON key written again is the fields looping.
                return "eos" if verdict == COMPLETE else "repetition"
        if len(self.tokens) >= self.limit:
            return "repetition" if self.guard.settle() else "length"
        return None

    def kept(self, stop: str, piece: Callable[[int], str]) -> list[int]:
        """The draft's tokens: without the loop when the guard ended it."""
        keep = self.guard.keep
        if stop != "repetition" or keep is None:
            return self.tokens
        tokens = self.tokens
        # A cycle's rounds start wherever its tokens first repeat, which may be inside a word ("Roterdam
        # Rotterdam Rotterdam" repeats from "terdam"): the cut moves back to the start of that word, and to
        # the start of its line when that is a few tokens back ("[Your Name]\n[Your Company Name]\n[Your
        # Company Name]" repeats from " Name]"): the draft keeps whole lines of the loop's first round.
        cut = keep
        while 0 < keep < len(tokens) and _inside_word(piece(tokens[keep - 1]), piece(tokens[keep])):
            keep -= 1
        back = range(keep, max(0, keep - LINE_SNAP), -1)
        keep = next((k for k in back if "\n" in piece(tokens[k - 1])), keep)
        # A draft that loops from its first word ("KhKhKh...") keeps its first round rather than nothing.
        return tokens[: keep or cut]


def _inside_word(before: str, after: str) -> bool:
    """Whether the boundary between two tokens' texts falls inside a word."""
    return bool(before) and bool(after) and before[-1].isalnum() and after[0].isalnum()


def decode(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    pad_id: int,
    device: torch.device,
    limits: Sequence[int],
    stop_ids: Collection[int],
    sampling: Sampling = Sampling(),
    shapes: Sequence[str] | None = None,
    piece: Callable[[int], str] = str,
    adapter_names: list[str] | None = None,
) -> list[tuple[list[int], str]]:
    """(new token ids, why the row ended) for each prompt (token ids, sorted by length for little padding).

    A row ends at a token in `stop_ids` (left out of its ids; "eos"), when its answer's shape is complete
    ("eos": its line ended, its JSON value closed; `piece` gives a token's text), when it loops
    ("repetition": its ids stop before the loop), or after its limit of new tokens ("length").
    `adapter_names` names each row's adapter for a PEFT model serving a mixed batch.
    """
    shapes = shapes or [FREE] * len(prompts)
    states = [
        RowState(limit, watch(shape), LoopGuard(), []) for limit, shape in zip(limits, shapes, strict=True)
    ]
    logits, cache, mask = prefill(model, prompts, adapter_names, pad_id, device)
    positions = torch.tensor([[len(p)] for p in prompts], device=device)
    generator = torch.Generator(device=device).manual_seed(sampling.seed)
    processors = sampling.processors()
    # The processors read each row's whole sequence so far, prompt included, as `generate` gives it them.
    history = torch.tensor([[pad_id] * (mask.shape[1] - len(p)) + list(p) for p in prompts], device=device)
    stops = torch.tensor(sorted(stop_ids), device=device)
    rows = list(range(len(prompts)))  # the prompt each live row answers
    results: list[tuple[list[int], str]] = [([], "length")] * len(prompts)
    names = adapter_names
    while rows:
        token = _pick(processors(history, logits) if processors else logits, sampling.temperature, generator)
        eos = torch.isin(token, stops).tolist()
        live = []
        for k, (row, value) in enumerate(zip(rows, token.tolist(), strict=True)):
            state = states[row]
            stop = state.step(value, eos[k], piece) if state.limit > 0 else "length"
            if stop is None:
                live.append(k)
            else:
                results[row] = (state.kept(stop, piece), stop)
        if not live:
            break
        if len(live) < len(rows):
            keep = torch.tensor(live, device=device)
            cache.batch_select_indices(keep)
            token, mask, positions, history = token[keep], mask[keep], positions[keep], history[keep]
            names = [names[k] for k in live] if names is not None else None
            rows = [rows[k] for k in live]
        history = torch.cat([history, token[:, None]], dim=1) if processors else history
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        logits = _forward(model, token[:, None], mask, positions, cache, names)
        positions = positions + 1
    return results
