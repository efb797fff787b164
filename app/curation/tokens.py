"""Token counting with the base model's tokenizer (tokenizers library), or an estimate without it."""

import math
import threading
from pathlib import Path

from tokenizers import Tokenizer

# Typical English prose runs at about 4 characters per token with BPE vocabularies of this size.
CHARS_PER_TOKEN = 4

# Keyed by path and modification time, so a re-imported model's tokenizer replaces the old one.
_cache: dict[tuple[Path, int], "TokenCounter"] = {}
_cache_lock = threading.Lock()


def prompt_text(instruction: str, input: str) -> str:
    """What counts as the prompt: the instruction, a blank line and the input (when there is one)."""
    return f"{instruction}\n\n{input}" if input else instruction


class TokenCounter:
    """Counts tokens exactly with a loaded tokenizer, or estimates about 1 token per 4 characters."""

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        """Wrap a `tokenizers.Tokenizer`, or None for the estimate."""
        self._tokenizer = tokenizer

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


ESTIMATE = TokenCounter()


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
            counter = _cache[key] = TokenCounter(tokenizer)
        return counter
