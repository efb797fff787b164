"""Exact and near duplicate detection over examples (MinHash-style sketches with LSH banding).

Near duplicates are found in steps so that 10,000 examples of ~200 words take under two seconds
in plain Python (bench/health_10k.py): a one-permutation MinHash sketch of each text's word 3-grams,
bucketed by LSH bands, proposes candidate pairs; candidates whose sketches agree on too few bins
are dropped (cheap); rapidfuzz then confirms the rest on the actual text, so a hash collision can
never flag two different examples.
"""

import string
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations, pairwise, repeat
from operator import eq

from rapidfuzz import fuzz

from app.curation.normalise import content_hash
from app.curation.records import ExampleRecord

# 64 bins in 16 bands of 4: a pair whose 3-gram Jaccard similarity is 0.6 becomes a candidate with
# probability ~0.89, at 0.7 ~0.99, while unrelated texts (Jaccard < 0.1) almost never collide.
SKETCH_BINS = 64
BAND_ROWS = 4
SHINGLE_WORDS = 3
# Candidates must also agree on a quarter of all bins (an estimated word 3-gram overlap of ~25%).
MIN_AGREEING_BINS = 16
# Up to this many texts in one bucket every pair is a candidate; beyond it see _candidate_pairs.
FULL_PAIRS_BUCKET = 50
_BIN_MASK = SKETCH_BINS - 1
_BIN_INDEXES = range(SKETCH_BINS)
_BAND_INDEXES = range(SKETCH_BINS // BAND_ROWS)
# An odd 64-bit constant; multiplied by the borrowing distance it gives a borrowed value its own identity.
_ROTATION = 0x9E3779B97F4A7C15
# Punctuation (ASCII and the typographic marks word processors insert) becomes a space before
# splitting, so "report." and "report" are the same word; str.translate is much faster than a regex.
_PUNCTUATION_TO_SPACE = str.maketrans(
    {char: " " for char in string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00ab\u00bb"}
)


def exact_duplicate_groups(records: Iterable[ExampleRecord]) -> list[list[int]]:
    """Groups (>= 2 ids, ascending; groups ordered by first id) of examples with the same content hash."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for record in records:
        by_hash[content_hash(record.instruction, record.input, record.output)].append(record.id)
    return _sorted_groups(ids for ids in by_hash.values() if len(ids) > 1)


def near_duplicate_groups(records: Iterable[ExampleRecord], threshold: float = 0.85) -> list[list[int]]:
    """Groups of examples whose input+output text is at least `threshold` similar (0..1), exact ones included.

    Similarity is rapidfuzz's normalised Indel similarity on the texts' words (case and punctuation
    ignored); the instruction is left out because many examples legitimately share one ("Write the
    monthly client report").
    """
    return group_near_duplicates(
        ((record.id, words_of(f"{record.input}\n{record.output}")) for record in records), threshold
    )


def group_near_duplicates(items: Iterable[tuple[int, list[str]]], threshold: float = 0.85) -> list[list[int]]:
    """near_duplicate_groups over (id, words of input and output) pairs, for callers that split already."""
    ids_by_text: dict[str, list[int]] = defaultdict(list)
    words_by_text: dict[str, list[str]] = {}
    # By id, so that the same examples give the same groups whatever order they come in.
    for example_id, words in sorted(items, key=lambda item: item[0]):
        text = " ".join(words)
        ids_by_text[text].append(example_id)
        words_by_text.setdefault(text, words)
    texts = list(ids_by_text)
    vocabulary = Vocabulary()
    signatures = [sketch(words, vocabulary) for words in words_by_text.values()]
    parent = list(range(len(texts)))
    cutoff = threshold * 100
    for left, right in _candidate_pairs(signatures):
        root_left, root_right = _find(parent, left), _find(parent, right)
        # Already in one group through other pairs: confirming this pair would change nothing.
        if root_left == root_right:
            continue
        # Sharing one band can be luck (boilerplate like "Kind regards" wins the same bins in many
        # texts); the share of equal bins estimates the overlap, and is far cheaper than rapidfuzz.
        agreeing = sum(map(eq, signatures[left], signatures[right]))
        if agreeing >= MIN_AGREEING_BINS and fuzz.ratio(texts[left], texts[right], score_cutoff=cutoff):
            parent[max(root_left, root_right)] = min(root_left, root_right)
    members: dict[int, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        members[_find(parent, index)].extend(ids_by_text[text])
    return _sorted_groups(ids for ids in members.values() if len(ids) > 1)


def words_of(text: str) -> list[str]:
    """The casefolded words of `text`, punctuation removed (what near duplicate detection compares)."""
    # NFKC as in content_hash, so every exact duplicate is also a (perfect) near duplicate.
    return unicodedata.normalize("NFKC", text).translate(_PUNCTUATION_TO_SPACE).casefold().split()


class Vocabulary(dict[str, int]):
    """Numbers words in order of first appearance (deterministic, unlike str hashes across processes)."""

    def __missing__(self, word: str) -> int:
        """Give an unseen word the next number."""
        number = self[word] = len(self)
        return number


def sketch(words: list[str], vocabulary: Vocabulary) -> list[int]:
    """One-permutation MinHash sketch (SKETCH_BINS values) of the word 3-grams of `words`.

    Words become integers through `vocabulary` (shared across one run) so that the sketch does not
    depend on Python's per-process string hash seed: the same data gives the same groups every time.
    """
    ids = list(map(vocabulary.__getitem__, words))
    if len(ids) >= SHINGLE_WORDS:
        shingles = zip(*(ids[offset:] for offset in range(SHINGLE_WORDS)), strict=False)
    else:
        # Too short for 3-grams: the whole (possibly empty) word sequence is the only shingle.
        shingles = iter([tuple(ids)])
    # Hashes of int tuples are deterministic. Fed from the largest down, each bin ends up holding
    # its smallest hash: the one-permutation MinHash value of that bin (repeats change nothing).
    hashes = sorted(map(hash, shingles), reverse=True)
    bins = dict(zip(map(_BIN_MASK.__and__, hashes), hashes, strict=True))
    signature = list(map(bins.get, _BIN_INDEXES))
    if len(bins) < SKETCH_BINS:
        _densify(signature, bins)
    return signature


def _densify(signature: list[int | None], bins: dict[int, int]) -> None:
    """Fill empty bins from the next non-empty bin (rotation densification), so short texts still band."""
    for index, value in enumerate(signature):
        if value is None:
            distance = 1
            while (index + distance) % SKETCH_BINS not in bins:
                distance += 1
            # The offset keeps a borrowed value distinct from the one it was borrowed from.
            signature[index] = bins[(index + distance) % SKETCH_BINS] ^ (distance * _ROTATION)


def _candidate_pairs(signatures: Sequence[list[int]]) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose signatures agree on every row of at least one LSH band, sorted."""
    first_in_bucket: dict[tuple[int, ...], int] = {}
    later_in_bucket: dict[tuple[int, ...], list[int]] = defaultdict(list)
    band_count = len(_BAND_INDEXES)
    for index, signature in enumerate(signatures):
        rows = iter(signature)
        # zip over one iterator BAND_ROWS times cuts the signature into bands; the band number
        # leads the key so equal values in different bands do not collide.
        keys = list(zip(_BAND_INDEXES, *([rows] * BAND_ROWS), strict=True))
        # setdefault through map runs in C: most texts open every bucket they land in, and only
        # the rare collisions need Python-level work.
        firsts = list(map(first_in_bucket.setdefault, keys, repeat(index, band_count)))
        if firsts.count(index) != band_count:
            for key, first in zip(keys, firsts, strict=True):
                if first != index:
                    later_in_bucket[key].append(index)
    pairs: set[tuple[int, int]] = set()
    for key, later in later_in_bucket.items():
        bucket = [first_in_bucket[key], *later]
        if len(bucket) <= FULL_PAIRS_BUCKET:
            pairs.update(combinations(bucket, 2))
        else:
            # A big bucket is a big cluster of copies (chance collisions stay small): pairing each
            # member with the first and with its neighbour links the cluster in linear time.
            pairs.update((bucket[0], member) for member in bucket[1:])
            pairs.update(pairwise(bucket[1:]))
    return sorted(pairs)


def _find(parent: list[int], index: int) -> int:
    """The root of `index` in the union-find forest, compressing the path on the way."""
    root = index
    while parent[root] != root:
        root = parent[root]
    while parent[index] != root:
        parent[index], index = root, parent[index]
    return root


def _sorted_groups(groups: Iterable[list[int]]) -> list[list[int]]:
    """Each group sorted ascending, the groups ordered by their first id."""
    return sorted((sorted(group) for group in groups), key=lambda group: group[0])
