"""The content-addressed originals store: hashing while writing, atomic placement, limits, reading back."""

import hashlib
import io
from pathlib import Path

import pytest

from app.ingest.store import (
    TooLarge,
    has_original,
    original_path,
    read_original,
    store_bytes,
    store_chunks,
    store_fileobj,
)


def test_store_bytes_lands_under_its_hash(tmp_path: Path):
    data = b"Dear client,\nthank you for your order.\n"
    stored = store_bytes(tmp_path, data)
    sha = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == sha
    assert stored.size_bytes == len(data)
    assert stored.path == tmp_path / sha[:2] / sha
    assert read_original(tmp_path, sha) == data
    assert has_original(tmp_path, sha)
    # No temporary file is left behind next to the originals.
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_store_fileobj_streams_in_chunks_and_same_content_is_stored_once(tmp_path: Path):
    data = bytes(range(256)) * 20_000  # 5 MB: several chunks
    first = store_fileobj(tmp_path, io.BytesIO(data))
    second = store_chunks(tmp_path, [data[:100], data[100:]])
    assert first.sha256 == second.sha256 == hashlib.sha256(data).hexdigest()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [first.path]
    assert first.path.read_bytes() == data


def test_too_large_keeps_nothing(tmp_path: Path):
    with pytest.raises(TooLarge) as caught:
        store_fileobj(tmp_path, io.BytesIO(b"x" * 5000), max_bytes=4096)
    assert caught.value.limit == 4096
    assert caught.value.seen > 4096
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_exactly_at_the_limit_is_accepted(tmp_path: Path):
    stored = store_fileobj(tmp_path, io.BytesIO(b"y" * 4096), max_bytes=4096)
    assert stored.size_bytes == 4096


def test_a_hash_from_outside_cannot_name_another_path(tmp_path: Path):
    with pytest.raises(ValueError):
        original_path(tmp_path, "../../etc/passwd")
    with pytest.raises(ValueError):
        read_original(tmp_path, "AB" * 32)  # upper case is not how hashes are stored
    with pytest.raises(FileNotFoundError):
        read_original(tmp_path, "0" * 64)
