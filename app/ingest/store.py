"""Content-addressed store of uploaded originals: `originals/<sha[:2]>/<sha>` under the data folder."""

import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
LOCK_NAME = ".lock"
INCOMING = ".incoming"
# Only originals written this recently are swept when no row names them: those are interrupted
# uploads. Older ones are left alone (a database pointed at by mistake must not empty the store).
ORPHAN_MAX_AGE_SECONDS = 24 * 3600


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
    incoming = root / INCOMING
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


@contextmanager
def _locked(root: Path, mode: int) -> Iterator[None]:
    """Hold the store's lock file in `mode` (fcntl.LOCK_SH or LOCK_EX, maybe | LOCK_NB) for the block."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle, mode)  # released on close, and by the kernel if the process dies
        yield


@contextmanager
def storing(root: Path) -> Iterator[None]:
    """Hold the store's shared lock from writing originals until the rows naming them are committed.

    A sweep takes the lock exclusively, so it never sees an original whose row is still on its way;
    a writer killed with -9 loses the lock with its life, and what it left becomes sweepable.
    """
    with _locked(root, fcntl.LOCK_SH):
        yield


@dataclass(frozen=True)
class Swept:
    """What a sweep removed: half-written uploads and originals no row refers to."""

    partial_files: int
    orphans: int


def sweep_leftovers(
    root: Path, referenced: Callable[[], set[str]], wait_seconds: float = 30.0
) -> Swept | None:
    """Remove what interrupted writers left in the store: temporary files, and recent originals
    whose sha256 is not in `referenced()` (called under the lock). None when writers held the lock
    for `wait_seconds`; the next sweep will do it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with _locked(root, fcntl.LOCK_EX | fcntl.LOCK_NB):
                return _sweep(root, referenced())
        except BlockingIOError:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)


def _sweep(root: Path, keep: set[str]) -> Swept:
    """The sweep itself, run under the exclusive lock."""
    partial = 0
    for leftover in (root / INCOMING).glob("*"):
        leftover.unlink(missing_ok=True)
        partial += 1
    orphans = 0
    recent = time.time() - ORPHAN_MAX_AGE_SECONDS
    for path in root.glob("??/*"):
        if _SHA256.match(path.name) and path.name not in keep and path.stat().st_mtime > recent:
            path.unlink(missing_ok=True)
            orphans += 1
    return Swept(partial, orphans)
