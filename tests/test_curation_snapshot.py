"""Tests for the canonical dataset snapshot and its hash."""

import hashlib
import json
from dataclasses import replace

from app.curation.records import ExampleRecord
from app.curation.snapshot import snapshot_payload


def dataset() -> list[ExampleRecord]:
    """Three included examples and one excluded one."""
    return [
        ExampleRecord(3, "draft", "Write", "in 3", "out 3", True, "heldout", 10, 20, ("b", "a")),
        ExampleRecord(1, "classify", "Label", "in 1", "Billing", True, "train", 5, 1),
        ExampleRecord(2, "draft", "Write", "in 2", "out 2 — ünïcode", False, "train", None, None),
        ExampleRecord(4, "extract", "Extract", "in 4", "out 4", True, "train", None, None),
    ]


def test_payload_is_included_examples_sorted_by_id() -> None:
    """One JSON line per included example, sorted by id, with its split; the hash is of these bytes."""
    sha, payload = snapshot_payload(dataset())
    lines = [json.loads(line) for line in payload.decode("utf-8").splitlines()]
    assert [line["id"] for line in lines] == [1, 3, 4]
    assert [line["split"] for line in lines] == ["train", "heldout", "train"]
    assert lines[1]["tags"] == ["a", "b"]
    assert sha == hashlib.sha256(payload).hexdigest()


def test_same_records_same_hash_in_any_order() -> None:
    """Order of records and of tags, and token counts, do not change the hash."""
    records = dataset()
    shuffled = [replace(r, tags=tuple(reversed(r.tags)), prompt_tokens=None) for r in reversed(records)]
    assert snapshot_payload(records) == snapshot_payload(shuffled)


def test_any_edit_changes_the_hash() -> None:
    """Changing text, kind, split, tags or inclusion gives a new hash."""
    base, _ = snapshot_payload(dataset())
    edits = [
        {"output": "out 3 "},
        {"instruction": "Write!"},
        {"input": "in 3."},
        {"kind": "summarise"},
        {"split": "train"},
        {"tags": ("a",)},
        {"included": False},
    ]
    hashes = set()
    for edit in edits:
        records = [replace(r, **edit) if r.id == 3 else r for r in dataset()]
        hashes.add(snapshot_payload(records)[0])
    assert base not in hashes and len(hashes) == len(edits)
    including_two = [replace(r, included=True) for r in dataset()]
    assert snapshot_payload(including_two)[0] != base


def test_empty_dataset() -> None:
    """No included examples: empty payload and the hash of nothing."""
    assert snapshot_payload([]) == (hashlib.sha256(b"").hexdigest(), b"")
