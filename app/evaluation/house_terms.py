"""House terms: words and phrases your training examples use often and the base model rarely writes
(product names, set phrases), and how often each model's drafts use them."""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from math import ceil

from app.curation.duplicates import words_of

MAX_WORDS = 3
# A term must appear in at least this share of the training outputs (and in at least 2 of them) ...
MIN_TRAIN_SHARE = 0.03
# ... and in at most this share of the base drafts, and at most a third of its training share.
MAX_BASE_SHARE = 0.1
# Words that never make a phrase a house term on their own, nor start or end one ("the", "of").
_STOPWORD_TEXT = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just let me
more most my myself no nor not now of off on once only or other our ours ourselves out over own re
same she should so some such than that the their theirs them themselves then there these they this
those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves s t d ll m ve"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Where a phrase ends: sentence and clause punctuation, line breaks, dashes between words.
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”\n]+|\s[-–—]+\s")


@dataclass(frozen=True)
class HouseTerm:
    """A term, the share of training outputs that use it, and how many drafts of each model use it."""

    term: str
    train_share: float
    base_uses: int
    adapted_uses: int


def terms_of(text: str, max_words: int = MAX_WORDS) -> set[str]:
    """The distinct 1- to `max_words`-word terms of `text` worth considering (no stopword at either end).

    Terms stay within a clause: "covers it. Kind regards" gives no "it kind".
    """
    found = set()
    for clause in _CLAUSE_BREAK.split(text):
        words = words_of(clause)
        for size in range(1, max_words + 1):
            for start in range(len(words) - size + 1):
                gram = words[start : start + size]
                if gram[0] in STOPWORDS or gram[-1] in STOPWORDS or any(w.isdigit() for w in gram):
                    continue
                if size == 1 and len(gram[0]) < 3:
                    continue
                found.add(" ".join(gram))
    return found


def document_frequency(texts: Iterable[str]) -> tuple[Counter[str], int]:
    """How many of `texts` use each term, and how many texts there were."""
    counts: Counter[str] = Counter()
    total = 0
    for text in texts:
        counts.update(terms_of(text))
        total += 1
    return counts, total


def house_terms(
    train: tuple[Counter[str], int], base_drafts: list[str], adapted_drafts: list[str], limit: int = 12
) -> list[HouseTerm]:
    """The terms frequent in the training outputs and rare in the base drafts, most distinctive first.

    `train` is `document_frequency` of the training outputs. A term is dropped when a longer one holds
    it and is used almost as often ("brightwater" under "brightwater promise"): the phrase says more.
    """
    counts, total = train
    if not total or not base_drafts:
        return []
    minimum = max(2, ceil(MIN_TRAIN_SHARE * total))
    base_counts = document_frequency(base_drafts)[0]
    scored = []
    for term, uses in counts.items():
        train_share, base_share = uses / total, base_counts[term] / len(base_drafts)
        if uses >= minimum and base_share <= min(MAX_BASE_SHARE, train_share / 3):
            scored.append((train_share - base_share, term))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    covered = _covered_by_longer({term for _, term in scored}, counts)
    chosen: list[str] = []
    for _, term in scored:
        if covered.get(term, 0) >= 0.8 * counts[term] or any(_overlap(term, other) for other in chosen):
            continue
        chosen.append(term)
        if len(chosen) == limit:
            break
    adapted_counts = document_frequency(adapted_drafts)[0]
    return [HouseTerm(t, counts[t] / total, base_counts[t], adapted_counts[t]) for t in chosen]


def _covered_by_longer(candidates: set[str], counts: Counter[str]) -> dict[str, int]:
    """For each candidate, the largest use count of a longer candidate that holds it."""
    covered: dict[str, int] = {}
    for term in candidates:
        words = term.split()
        for size in range(1, len(words)):
            for start in range(len(words) - size + 1):
                part = " ".join(words[start : start + size])
                covered[part] = max(covered.get(part, 0), counts[term])
    return covered


def _overlap(term: str, other: str) -> bool:
    """Whether two terms share two words in a row ("promise covers" in "brightwater promise covers")."""
    return bool(set(pairwise(term.split())) & set(pairwise(other.split())))
