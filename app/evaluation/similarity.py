"""How close a draft is to the reference: chrF similarity and length, per draft."""

from functools import lru_cache
from typing import Any

from app.curation.duplicates import words_of


@lru_cache(maxsize=1)
def _chrf_metric() -> Any:
    """sacrebleu's chrF with precision and recall weighted alike (character 6-grams, β = 1), built once."""
    # Imported on first use: sacrebleu pulls in numpy (~0.4 s) which the web should not pay at start-up.
    from sacrebleu.metrics import CHRF

    # Not sacrebleu's default β = 2, which weighs recall twice: a base draft that pastes the whole email
    # scored better than a right subject line (AESLC, bench.quality: 22.6 vs 27.5 under β = 2, a tie
    # per example; 16.6 vs 29.0 under β = 1, where ROUGE-L F1 gives 14.9 vs 30.0). A reader judges both
    # what a draft leaves out and what it adds.
    return CHRF(beta=1)


@lru_cache(maxsize=16384)
def chrf(hypothesis: str, reference: str) -> float:
    """chrF of `hypothesis` against `reference`, 0 (nothing shared) to 100 (the same text), 1 decimal.

    Cached: the comparison page asks again on every poll, and the texts of a finished draft never change.
    """
    if not hypothesis.strip() or not reference.strip():
        return 100.0 if hypothesis.strip() == reference.strip() else 0.0
    return round(_chrf_metric().sentence_score(hypothesis, [reference]).score, 1)


def word_count(text: str) -> int:
    """How many words `text` has (punctuation is not a word)."""
    return len(words_of(text))


def length_ratio(draft: str, reference: str) -> float | None:
    """The draft's length in words as a share of the reference's (1.0 = as long); None without reference."""
    words = word_count(reference)
    return word_count(draft) / words if words else None
