"""Deterministic, stratified train / held-out assignment."""

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from app.curation.records import HELDOUT, TRAIN, ExampleRecord


def heldout_target(total: int, fraction: float = 0.1, minimum: int = 5) -> int:
    """How many of `total` included examples should be held out: ~fraction, >= minimum when there is room."""
    if total < 2:
        return 0
    target = round(total * fraction)
    # With fewer than 2 x minimum examples, `minimum` would eat too much of the training data;
    # one held-out example still lets a reviewer compare the models on something.
    target = max(target, minimum) if total >= 2 * minimum else max(target, 1)
    return min(target, total - 1)  # never everything held out


def _rank(example_id: int, seed: int) -> int:
    """A stable pseudo-random rank for an example (same id and seed, same rank, in every process)."""
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _quotas(sizes: dict[str, int], target: int) -> dict[str, int]:
    """Share `target` among kinds in proportion to size (largest remainder); each kind keeps one in train."""
    total = sum(sizes.values())
    exact = {kind: target * size / total for kind, size in sizes.items()} if total else {}
    quotas = {kind: min(int(share), max(sizes[kind] - 1, 0)) for kind, share in exact.items()}
    # Hand out what rounding down left over, biggest remainders first; a kind with room only.
    order = sorted(exact, key=lambda kind: (-(exact[kind] - int(exact[kind])), -sizes[kind], kind))
    left = target - sum(quotas.values())
    while left > 0:
        room = [kind for kind in order if quotas[kind] < sizes[kind] - 1]
        if not room:
            break
        for kind in room[:left]:
            quotas[kind] += 1
        left = target - sum(quotas.values())
    return quotas


def assign_heldout(
    records: Iterable[ExampleRecord],
    fraction: float = 0.1,
    minimum: int = 5,
    seed: int = 0,
    locked_ids: set[int] | None = None,
) -> dict[int, str]:
    """New split ('train'|'heldout') for each unlocked included example; locked ones keep theirs.

    Per kind, about `fraction` is held out (stratified), the examples chosen by a hash of id and seed:
    the same data always gives the same split, and adding examples moves few of the existing ones.
    """
    locked = locked_ids or set()
    by_kind: dict[str, list[ExampleRecord]] = defaultdict(list)
    for record in records:
        if record.included:
            by_kind[record.kind].append(record)
    total = sum(len(group) for group in by_kind.values())
    target = heldout_target(total, fraction, minimum)
    quotas = _quotas({kind: len(group) for kind, group in by_kind.items()}, target)
    splits: dict[int, str] = {}
    for kind, group in by_kind.items():
        locked_heldout = sum(1 for record in group if record.id in locked and record.split == HELDOUT)
        unlocked = sorted((r for r in group if r.id not in locked), key=lambda r: (_rank(r.id, seed), r.id))
        wanted = max(quotas[kind] - locked_heldout, 0)
        for position, record in enumerate(unlocked):
            splits[record.id] = HELDOUT if position < wanted else TRAIN
    return splits
