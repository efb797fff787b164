"""Drafts from a base model and its LoRA adapters: one base load, batched generation, a stop reason per draft.

The base model is loaded once (safetensors, no remote code, exactly as training loads it) and adapters are
loaded onto it with PEFT. Base drafts run with the adapters switched off (`disable_adapter`), so the same
weights answer for both models; a batch that mixes base and adapted rows uses PEFT's `adapter_names`.
Prompts are rendered with the model's chat template as training renders them and left-padded into batches
by length; the decoding loop (decoding.py) gives each prompt the draft it gets alone, picked with the base
model's generation config (its end-of-text tokens, repetition penalty, n-gram ban, and top-k/top-p when
sampling). A draft ends at the end of the assistant's turn, when its answer's shape is complete (one line, one
JSON value: shapes.py), at its token limit, or when the repetition guard sees a loop (the loop is cut off).
"""

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from worker.generation.decoding import Sampling, decode
from worker.generation.shapes import FREE, finish
from worker.training.adapter_card import ADAPTER_CONFIG, ADAPTER_WEIGHTS
from worker.training.config import pick_runtime
from worker.training.data import TrainingExample, load_tokenizer, render
from worker.training.model import load_base

BASE = "__base__"  # PEFT's adapter name for "no adapter" in a mixed batch
MAX_ADAPTERS = 8  # adapters kept loaded on the base; the least recently used goes first
MAX_ROWS = 64
# Rows × (longest prompt + new tokens) per batch: bounds the attention cache (~46 kB a token for SmolLM2).
TOKEN_BUDGET = {"cpu": 32_768, "cuda": 524_288}
# eos: the answer ended (end of turn, or its shape was complete); length: its token limit; repetition: the
# guard saw a loop and the draft stops before it; too_long: the prompt fills the model's context.
STOPS = ("eos", "length", "repetition", "too_long")
# Separators a loop's first round may end with ("Rotterdam, Hamburg,"): they are trimmed with the loop.
TRAILING = " \t\r\n,;:-–—|"


class GenerationError(Exception):
    """A generation that cannot run; the message is shown to the user as is: what is wrong, what to do."""


@dataclass(frozen=True)
class Request:
    """One prompt (token ids) for one model: an adapter loaded with `use_adapter`, or None for the base; at
    most `limit` new tokens (the Decoding's max_new_tokens when None), in the answer shape `shape`."""

    prompt: tuple[int, ...]
    adapter: str | None = None
    limit: int | None = None
    shape: str = FREE


@dataclass(frozen=True)
class Draft:
    """What a model wrote, its new token ids (end of turn left out), and why it ended (see STOPS)."""

    text: str
    ids: tuple[int, ...]
    stop: str

    @property
    def tokens(self) -> int:
        """The draft's length in new tokens."""
        return len(self.ids)


@dataclass(frozen=True)
class Decoding:
    """How to pick tokens: greedy at temperature 0 (the same draft every time), else seeded sampling; at most
    `max_new_tokens` new tokens for a request without a limit of its own."""

    max_new_tokens: int
    temperature: float = 0.0
    seed: int = 0


class Engine:
    """A base model with its tokenizer and the adapters loaded onto it."""

    def __init__(self, model_dir: Path, model_name: str | None = None) -> None:
        """Load the tokenizer and base model in `model_dir` (raises TrainingError with a plain message)."""
        self.model_dir = Path(model_dir)
        self.runtime = pick_runtime()
        self.tokenizer = load_tokenizer(self.model_dir, model_name)
        self.model: Any = load_base(self.model_dir, self.runtime).eval()
        self.adapters: OrderedDict[str, int] = OrderedDict()  # name -> weights file mtime (ns)
        self.stop_ids = end_of_turn_ids(self.tokenizer, self.model.generation_config)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else min(self.stop_ids)
        self.context: int | None = getattr(self.model.config, "max_position_embeddings", None)
        self.damaged = False  # a failed adapter load may leave half-injected layers: reload before reuse
        self.pieces: dict[int, str] = {}  # token id -> its text, for the shape watchers

    def example_prompt(self, instruction: str, input: str) -> tuple[int, ...]:
        """Token ids of a held-out example's prompt, rendered exactly as training rendered it."""
        prompt, _answer = render(self.tokenizer, TrainingExample(instruction, input, ""))
        return self._ids(prompt)

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> tuple[int, ...]:
        """Token ids of chat `messages` with the assistant's turn opened (the chat template's own prompt)."""
        prompt = self.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        return self._ids(prompt)

    def _ids(self, text: str) -> tuple[int, ...]:
        """`text` as token ids; the template wrote the special tokens, so none are added."""
        return tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def use_adapter(self, name: str, folder: Path) -> str:
        """Load the adapter in `folder` as `name` unless it is loaded and unchanged; returns `name`."""
        from peft import PeftModel

        weights = Path(folder) / ADAPTER_WEIGHTS
        if not weights.is_file() or not (Path(folder) / ADAPTER_CONFIG).is_file():
            raise GenerationError(
                "This adapter's files are missing from the artifact store, so it cannot write drafts. "
                "Train it again from its dataset, or ask your administrator to restore the files."
            )
        stamp = weights.stat().st_mtime_ns
        if self.adapters.get(name) == stamp:
            self.adapters.move_to_end(name)
            return name
        try:
            if name in self.adapters:
                self.model.delete_adapter(name)
                del self.adapters[name]
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
            else:
                self.model = PeftModel.from_pretrained(self.model, str(folder), adapter_name=name)
        except (RuntimeError, ValueError, KeyError) as exc:
            self.damaged = True
            raise GenerationError(
                f"This adapter does not fit the base model {self.model_dir.name} ({type(exc).__name__}). "
                "It was probably trained on another base model: pick that one, or train it again."
            ) from exc
        self.model.eval()
        self.adapters[name] = stamp
        if self.model.active_adapter not in self.adapters:
            # PEFT keeps a deleted adapter as its active one, and every forward, base rows' too, looks its
            # settings up: a newly loaded adapter takes its place.
            self.model.set_adapter(name)
        while len(self.adapters) > MAX_ADAPTERS:
            self.drop_adapter(next(iter(self.adapters)))
        return name

    def drop_adapter(self, name: str) -> None:
        """Unload the adapter `name` (if loaded); another loaded adapter becomes PEFT's active one."""
        if name not in self.adapters:
            return
        self.model.delete_adapter(name)
        del self.adapters[name]
        if self.adapters and self.model.active_adapter not in self.adapters:
            self.model.set_adapter(next(reversed(self.adapters)))  # see use_adapter

    def generate(
        self,
        requests: Sequence[Request],
        decoding: Decoding,
        on_batch: Callable[[dict[int, Draft]], None] | None = None,
    ) -> list[Draft]:
        """A draft for each request, in order; `on_batch` gets {request index: draft} as each batch ends.

        Prompts are batched by length (little padding); a prompt the model cannot read whole gets an empty
        draft that ended "too_long".
        """
        drafts: dict[int, Draft] = {}
        fits = []
        for index, request in enumerate(requests):
            if self.context is not None and len(request.prompt) >= self.context:
                drafts[index] = Draft("", (), "too_long")
            else:
                fits.append(index)
        if drafts and on_batch is not None:
            on_batch(dict(drafts))
        fits.sort(key=lambda i: (len(requests[i].prompt), requests[i].adapter or ""))
        for batch in self._batches(fits, requests, decoding):
            done = dict(zip(batch, self._generate_batch([requests[i] for i in batch], decoding), strict=True))
            drafts.update(done)
            if on_batch is not None:
                on_batch(done)
        return [drafts[index] for index in range(len(requests))]

    def _limit(self, request: Request, decoding: Decoding) -> int:
        """New tokens the request may take: its own limit or the decoding's, within the model's context."""
        limit = request.limit if request.limit is not None else decoding.max_new_tokens
        return limit if self.context is None else min(limit, self.context - len(request.prompt))

    def _batches(
        self, order: list[int], requests: Sequence[Request], decoding: Decoding
    ) -> Iterator[list[int]]:
        """`order` (shortest prompt first) cut into batches that fit the token budget."""
        budget = TOKEN_BUDGET.get(self.runtime.device.type, TOKEN_BUDGET["cuda"])
        batch: list[int] = []
        for index in order:
            width = len(requests[index].prompt) + self._limit(requests[index], decoding)
            if batch and ((len(batch) + 1) * width > budget or len(batch) == MAX_ROWS):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch

    def _generate_batch(self, rows: list[Request], decoding: Decoding) -> list[Draft]:
        """Decode one batch of requests (sorted by prompt length)."""
        sampling = Sampling.of_model(self.model.generation_config, decoding.temperature, decoding.seed)
        with torch.inference_mode(), self.runtime.autocast(), self._adapters_for(rows) as names:
            ended = decode(
                self.model, [row.prompt for row in rows], pad_id=self.pad_id, device=self.runtime.device,
                limits=[self._limit(row, decoding) for row in rows], stop_ids=self.stop_ids,
                sampling=sampling, shapes=[row.shape for row in rows], piece=self.piece, adapter_names=names,
            )  # fmt: skip
        return [self._draft(ids, stop, row.shape) for (ids, stop), row in zip(ended, rows, strict=True)]

    def _draft(self, ids: list[int], stop: str, shape: str) -> Draft:
        """The draft of new tokens `ids`: its text in the answer's shape, a loop's last separator dropped."""
        # A byte-level model can write NUL, which PostgreSQL text cannot hold: it never belongs in a draft.
        text = finish(self.tokenizer.decode(ids, skip_special_tokens=True).replace("\x00", ""), shape)
        return Draft(text.rstrip(TRAILING) if stop == "repetition" else text, tuple(ids), stop)

    def piece(self, token: int) -> str:
        """The text of one token (kept: the shape watchers ask for every new token's)."""
        text = self.pieces.get(token)
        if text is None:
            text = self.pieces[token] = self.tokenizer.decode([token], skip_special_tokens=True)
        return text

    @contextlib.contextmanager
    def _adapters_for(self, rows: list[Request]) -> Iterator[list[str] | None]:
        """Set the model up for the batch's adapters; yields each row's adapter name for a mixed batch."""
        names = {row.adapter for row in rows}
        if names == {None}:
            with self.model.disable_adapter() if self.adapters else contextlib.nullcontext():
                yield None
        elif len(names) == 1:
            self.model.set_adapter(rows[0].adapter)
            yield None
        else:
            yield [row.adapter or BASE for row in rows]


def end_of_turn_ids(tokenizer: Any, generation_config: Any) -> set[int]:
    """Token ids that end the assistant's turn: the model's eos ids and the token its chat template closes
    a turn with (ChatML's <|im_end|>, Llama 3's <|eot_id|>, Gemma's <end_of_turn>)."""
    ids: set[int] = set()
    for value in (getattr(generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(v for v in value if isinstance(v, int))
    marker = "Lastmile"
    _prompt, answer = render(tokenizer, TrainingExample("Hello", "", marker))
    closing = tokenizer(answer.split(marker, 1)[-1], add_special_tokens=False)["input_ids"]
    if closing and (closing[0] in tokenizer.all_special_ids or closing[0] in tokenizer.added_tokens_decoder):
        ids.add(closing[0])
    if not ids:
        raise GenerationError(
            "The base model names no end-of-text token, so its drafts could not stop by themselves. Pick "
            "another instruct model."
        )
    return ids


_cached: Engine | None = None


def engine_for(model_dir: Path, model_name: str | None = None) -> Engine:
    """This process's engine for the model in `model_dir`: kept between jobs, so the next one does not reload
    the model; another model replaces it (one base model in memory at a time)."""
    global _cached
    if _cached is None or _cached.model_dir != Path(model_dir) or _cached.damaged:
        release_engine()
        _cached = Engine(model_dir, model_name)
    return _cached


def release_engine() -> None:
    """Drop the cached model (training needs the memory, or another base model is wanted)."""
    global _cached
    if _cached is None:
        return
    device = _cached.runtime.device
    _cached = None
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
