"""Content-addressed store of uploaded originals: `originals/<sha[:2]>/<sha>` under the data folder."""

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class TooLarge(Exception):
    """A stream was longer than the limit it was stored under; nothing was kept."""

    def __init__(self, limit: int, seen: int) -> None:
        """Remember the limit and how many bytes had been read when it was crossed."""
        super().__init__(f"more than {limit} bytes")
        self.limit = limit
        self.seen = seen


@dataclass(frozen=True)
class StoredOriginal:
    """Where an original landed and what it is."""

    sha256: str
    size_bytes: int
    path: Path


def original_path(root: Path, sha256: str) -> Path:
    """The path of the original with hash `sha256` under `root` (the originals folder)."""
    # The hash reaches this function from the database and URLs: never let it name another path.
    if not _SHA256.match(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return root / sha256[:2] / sha256


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename survives a crash (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def store_chunks(root: Path, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredOriginal:
    """Write `chunks` to the store while hashing them; raise TooLarge (keeping nothing) past `max_bytes`.

    The bytes go to a temporary file in the same folder tree, are fsynced, and are renamed into
    place atomically, so a reader never sees a half-written original.
    """
    incoming = root / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix="upload-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(max_bytes, size)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        final = original_path(root, sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Same content, same name: replacing an existing copy with identical bytes is harmless.
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return StoredOriginal(sha256=sha, size_bytes=size, path=final)
    finally:
        tmp.unlink(missing_ok=True)


def iter_fileobj(fileobj: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterable[bytes]:
    """Read a binary file object in chunks, so a large upload is never held in memory whole."""
    while chunk := fileobj.read(chunk_bytes):
        yield chunk


def store_fileobj(root: Path, fileobj: BinaryIO, max_bytes: int | None = None) -> StoredOriginal:
    """Store a binary file object's remaining bytes; raise TooLarge past `max_bytes`."""
    return store_chunks(root, iter_fileobj(fileobj), max_bytes)


def store_bytes(root: Path, data: bytes) -> StoredOriginal:
    """Store bytes already in memory (pasted text, sample files, archive members)."""
    return store_chunks(root, [data])


def has_original(root: Path, sha256: str) -> bool:
    """Whether the original with hash `sha256` is in the store."""
    return original_path(root, sha256).is_file()


def read_original(root: Path, sha256: str) -> bytes:
    """The bytes of a stored original; FileNotFoundError if it is not there."""
    return original_path(root, sha256).read_bytes()
