"""Examples rendered with the base model's own chat template into token ids, with the answer's loss span.

The prompt (system prompt the template may add, the user's message and the assistant header) is
tokenised on its own and the answer after it, exactly as generation later sees them: the model reads
the prompt and produces the rest. The loss covers the answer tokens only.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from worker.training.config import TrainingError


class ExampleLike(Protocol):
    """Anything with an instruction, an input and an output (TrainingExample, app's ExampleRecord)."""

    instruction: str
    input: str
    output: str


@dataclass(frozen=True)
class TrainingExample:
    """One example as the training loop takes it."""

    instruction: str
    input: str
    output: str


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids of one rendered example; ids[answer_start:] are the answer (the tokens with a loss)."""

    ids: tuple[int, ...]
    answer_start: int
    source: int  # index in the list given to `prepare`
    cut: bool = False  # the answer's end was dropped to fit max_length

    @property
    def answer_tokens(self) -> int:
        """How many tokens carry a loss."""
        return len(self.ids) - self.answer_start


@dataclass
class PreparedData:
    """Tokenised examples, and which inputs were cut or dropped (indices into the list given)."""

    examples: list[TokenizedExample]
    cut: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)

    @property
    def real_tokens(self) -> int:
        """All tokens of all examples (one pass)."""
        return sum(len(example.ids) for example in self.examples)

    def fingerprint(self) -> str:
        """A hash of the exact token sequences: a checkpoint only resumes on the same data."""
        digest = hashlib.sha256()
        for example in self.examples:
            digest.update(json.dumps([example.answer_start, example.ids]).encode())
        return digest.hexdigest()


def user_message(instruction: str, input: str) -> str:
    """The user's turn: the instruction, a blank line and the input (when there is one)."""
    return f"{instruction}\n\n{input}" if input else instruction


def load_tokenizer(model_dir: Path, model_name: str | None = None) -> Any:
    """The base model's tokenizer; refuses a model without a chat template (a base, not an instruct model)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=False)
    if not getattr(tokenizer, "chat_template", None):
        name = model_name or Path(model_dir).name
        raise TrainingError(
            f"{name} has no chat template; Lastmile needs an instruct/chat model. Pick an instruct version "
            "of the model (its name usually ends in -Instruct or -Chat)."
        )
    return tokenizer


def render(tokenizer: Any, example: ExampleLike) -> tuple[str, str]:
    """(prompt, answer) text of one example in the model's chat template; prompt + answer is the full chat."""
    messages = [{"role": "user", "content": user_message(example.instruction, example.input)}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": example.output}], tokenize=False
    )
    if not full.startswith(prompt):
        # Some templates rewrite earlier turns once an answer follows; then the answer's span is unknown.
        raise TrainingError(
            "The base model's chat template renders the prompt differently once an answer follows, so "
            "Lastmile cannot tell the answer apart for training. Pick another instruct model."
        )
    return prompt, full[len(prompt) :]


def tokenize(tokenizer: Any, example: ExampleLike, source: int, max_length: int) -> TokenizedExample | None:
    """One example as token ids cut to `max_length` (the answer's end goes first); None if no answer fits."""
    prompt, answer = render(tokenizer, example)
    # The template writes its own special tokens; the tokenizer must not add a second BOS.
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = [*prompt_ids, *answer_ids][:max_length]
    if len(ids) <= len(prompt_ids):
        return None
    return TokenizedExample(
        tuple(ids), len(prompt_ids), source, cut=len(ids) < len(prompt_ids) + len(answer_ids)
    )


def prepare(tokenizer: Any, examples: Sequence[ExampleLike], max_length: int) -> PreparedData:
    """Tokenise every example; counts those cut at `max_length` and drops those whose answer would not fit."""
    prepared = PreparedData(examples=[])
    for index, example in enumerate(examples):
        tokenized = tokenize(tokenizer, example, index, max_length)
        if tokenized is None:
            prepared.dropped.append(index)
            continue
        if tokenized.cut:
            prepared.cut.append(index)
        prepared.examples.append(tokenized)
    return prepared


def _examples(count: int, what: str) -> str:
    """'1 training example was' / '3 training examples were'."""
    return f"{count} {what} example was" if count == 1 else f"{count} {what} examples were"


def dropped_message(data: PreparedData, max_length: int, what: str = "training") -> str | None:
    """A sentence about cut and dropped examples for the progress messages, or None when there are none."""
    parts = []
    if data.cut:
        parts.append(f"{_examples(len(data.cut), what)} cut at {max_length:,} tokens (end of the answer)")
    if data.dropped:
        parts.append(
            f"{_examples(len(data.dropped), what)} left out: the prompt alone is longer than "
            f"{max_length:,} tokens; shorten it or raise the maximum length"
        )
    return "; ".join(parts) + "." if parts else None
