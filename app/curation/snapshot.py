"""Canonical snapshot of a dataset's included examples and its sha256."""

import hashlib
import json
from collections.abc import Iterable

from app.curation.records import ExampleRecord


def snapshot_line(record: ExampleRecord) -> str:
    """The canonical JSON line of one example: sorted keys, no spaces, UTF-8 kept as is."""
    row = {
        "id": record.id,
        "kind": record.kind,
        "instruction": record.instruction,
        "input": record.input,
        "output": record.output,
        "split": record.split,
        "tags": sorted(record.tags),
    }
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def snapshot_payload(records: Iterable[ExampleRecord]) -> tuple[str, bytes]:
    """(sha256 hex, canonical JSONL bytes) of the included examples sorted by id, with their split."""
    included = sorted((record for record in records if record.included), key=lambda record: record.id)
    payload = "".join(snapshot_line(record) + "\n" for record in included).encode("utf-8")
    return hashlib.sha256(payload).hexdigest(), payload
