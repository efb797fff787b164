"""Token counting with the base model's tokenizer (tokenizers library), or an estimate without it."""

import json
import math
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

from app.settings import Settings
from app.training.estimate import SMOLLM2_TEMPLATE_TOKENS

# Typical English prose runs at about 4 characters per token with BPE vocabularies of this size.
CHARS_PER_TOKEN = 4

# How byte-level BPE ("Ġ") and SentencePiece ("▁") vocabularies mark a token that starts a word.
WORD_START_MARKS = ("Ġ", "▁")

# Keyed by path and modification time, so a re-imported model's tokenizer replaces the old one.
_cache: dict[tuple[Path, int], "TokenCounter"] = {}
_cache_lock = threading.Lock()


def prompt_text(instruction: str, input: str) -> str:
    """What counts as the prompt: the instruction, a blank line and the input (when there is one)."""
    return f"{instruction}\n\n{input}" if input else instruction


class TokenCounter:
    """Counts tokens exactly with a loaded tokenizer, or estimates about 1 token per 4 characters.

    `template_tokens` is what the model's chat template adds around one example (its system prompt and
    role markers), measured with the tokenizer when the template is next to it.
    """

    def __init__(
        self, tokenizer: Tokenizer | None = None, template_tokens: int = SMOLLM2_TEMPLATE_TOKENS
    ) -> None:
        """Wrap a `tokenizers.Tokenizer`, or None for the estimate."""
        self._tokenizer = tokenizer
        self.template_tokens = template_tokens

    @property
    def exact(self) -> bool:
        """True when counts come from the real tokenizer, False for the estimate."""
        return self._tokenizer is not None

    def count(self, texts: list[str]) -> list[int]:
        """The number of tokens in each text, in order."""
        if self._tokenizer is None:
            return [math.ceil(len(text) / CHARS_PER_TOKEN) for text in texts]
        if not texts:
            return []
        # Special tokens (BOS/EOS) belong to the chat template, which training counts on its own.
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def is_word(self, word: str) -> bool:
        """Whether `word` is a whole token of the vocabulary as a word after a space (False for the estimate).

        A BPE vocabulary of this size holds the common words of the languages it was trained on, so it
        doubles as a word list, e.g. to tell "fi-nancial" (a word broken at a line end) from "well-known".
        """
        if self._tokenizer is None:
            return False
        return any(self._tokenizer.token_to_id(space + word) is not None for space in WORD_START_MARKS)

    def rendered(self, examples: list[tuple[str, str, str]]) -> list[int]:
        """Tokens of each (instruction, input, output) as training renders it, chat template included."""
        texts = [
            text
            for instruction, input, output in examples
            for text in (prompt_text(instruction, input), output)
        ]
        counts = self.count(texts)
        return [counts[2 * i] + counts[2 * i + 1] + self.template_tokens for i in range(len(examples))]


ESTIMATE = TokenCounter()


def default_tokenizer_path(settings: Settings) -> Path:
    """Where the default base model's tokenizer.json is once the model is in the model cache."""
    return settings.models_dir / settings.default_model / "tokenizer.json"


def default_token_counter(settings: Settings) -> TokenCounter:
    """The default base model's counter (loaded and cached), or the estimate before the model is cached."""
    path = default_tokenizer_path(settings)
    return get_token_counter(path if path.is_file() else None)


def _chat_template(model_dir: Path) -> tuple[str, dict[str, Any]] | None:
    """The model's chat template and its tokenizer config, from the files saved beside tokenizer.json."""
    config_path = model_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: the default one renders training examples
        template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    if not template and (model_dir / "chat_template.jinja").is_file():
        template = (model_dir / "chat_template.jinja").read_text(encoding="utf-8")
    return (template, config) if isinstance(template, str) and template else None


def _special(config: dict[str, Any], key: str) -> str:
    """A special token from a tokenizer config, written as a string or as {"content": ...}."""
    value = config.get(key)
    return str(value.get("content", "")) if isinstance(value, dict) else str(value or "")


def measure_template_tokens(tokenizer: Tokenizer, model_dir: Path) -> int:
    """Tokens the model's chat template adds around an example with an empty prompt and answer.

    Rendered the way transformers renders chat templates (a sandboxed Jinja environment), so the web
    measures it without the ML stack. A template that cannot be rendered here counts as SmolLM2's.
    """
    found = _chat_template(model_dir)
    if found is None:
        return SMOLLM2_TEMPLATE_TOKENS
    template, config = found

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals.update(
        raise_exception=raise_exception, strftime_now=lambda fmt: datetime.now().strftime(fmt)
    )
    messages = [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]
    try:
        text = environment.from_string(template).render(
            messages=messages,
            add_generation_prompt=False,
            bos_token=_special(config, "bos_token"),
            eos_token=_special(config, "eos_token"),
        )
    except Exception:  # any template error: keep the known figure rather than fail the count
        return SMOLLM2_TEMPLATE_TOKENS
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def get_token_counter(tokenizer_path: Path | None) -> TokenCounter:
    """A counter for the tokenizer.json at `tokenizer_path` (cached per path), or the estimate if missing."""
    if tokenizer_path is None or not tokenizer_path.is_file():
        # Not cached: once the model is imported the file appears and exact counts take over.
        return ESTIMATE
    path = tokenizer_path.resolve()
    key = (path, path.stat().st_mtime_ns)
    with _cache_lock:
        counter = _cache.get(key)
        if counter is None:
            tokenizer = Tokenizer.from_file(str(path))
            # Counting must see whole texts: a truncation or padding setting saved with the
            # tokenizer would cap every count at the model's limit and hide "too long" examples.
            tokenizer.no_truncation()
            tokenizer.no_padding()
            template_tokens = measure_template_tokens(tokenizer, path.parent)
            counter = _cache[key] = TokenCounter(tokenizer, template_tokens)
        return counter
