"""Zip archives: bomb guards shared with .docx, safe member names, one ParsedFile per member."""

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

from app.ingest.decoding import display_name
from app.ingest.types import IngestError, Limits, ParsedFile

CHUNK_BYTES = 64 * 1024
# Small entries are never ratio-checked: a few KB of blank text legitimately packs 1000:1.
RATIO_FLOOR_BYTES = 64 * 1024
JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini"})
MAX_MEMBER_NAME = 200

MemberParser = Callable[[str, bytes], ParsedFile]


def mb(n: int) -> str:
    """A byte count in MB for messages: "50 MB", "1.1 MB", "0.19 MB"."""
    value = n / (1024 * 1024)
    digits = 0 if value >= 10 else 1 if value >= 1 else 2
    text = f"{value:,.{digits}f}"
    return f"{text.rstrip('0').rstrip('.') if '.' in text else text} MB"


def open_zip(filename: str, data: bytes, not_zip_message: str) -> zipfile.ZipFile:
    """Open `data` as a zip, or refuse it with `not_zip_message`."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise IngestError(not_zip_message) from exc


def _bomb(filename: str, detail: str) -> IngestError:
    """The error for an archive that would expand too much."""
    return IngestError(
        f"{display_name(filename)} cannot be opened safely: {detail}. This is how 'zip bombs' look. "
        "Unpack it on your computer, check its contents and upload the files you need instead."
    )


def guard_entries(filename: str, zf: zipfile.ZipFile, limits: Limits) -> list[zipfile.ZipInfo]:
    """The archive's entries after checking entry count, declared total size and each entry's ratio."""
    infos = zf.infolist()
    if len(infos) > limits.max_archive_entries:
        raise _bomb(
            filename, f"it holds {len(infos):,} entries, more than the {limits.max_archive_entries:,} allowed"
        )
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_archive_expanded_bytes:
        allowed = mb(limits.max_archive_expanded_bytes)
        raise _bomb(filename, f"it would expand to {mb(declared)}, more than the {allowed} allowed")
    for info in infos:
        if _ratio_exceeded(info.file_size, info.compress_size, limits):
            raise _bomb(filename, _ratio_detail(info, limits))
    return infos


def _ratio_exceeded(expanded: int, compressed: int, limits: Limits) -> bool:
    """Whether `expanded` bytes from `compressed` bytes exceed the allowed compression ratio."""
    return expanded > RATIO_FLOOR_BYTES and expanded > limits.max_archive_ratio * max(compressed, 1)


def _ratio_detail(info: zipfile.ZipInfo, limits: Limits) -> str:
    """Which entry packs too tightly, for the bomb message."""
    name = safe_member_name(info.filename)[0] or "an entry"
    return f"'{name}' expands more than {limits.max_archive_ratio} times its packed size"


class ExpansionBudget:
    """What is left of the archive's allowed expanded size, counted on the bytes actually read."""

    def __init__(self, limits: Limits) -> None:
        """Start with the whole `max_archive_expanded_bytes`."""
        self.left = limits.max_archive_expanded_bytes


def read_entry(
    filename: str,
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limits: Limits,
    budget: ExpansionBudget,
    cap: int,
) -> bytes | None:
    """The entry's bytes, read in chunks; None when it is larger than `cap`.

    Never trusts the declared sizes: the ratio and the archive's budget are checked on what is read.
    """
    out = bytearray()
    with zf.open(info) as member:
        while chunk := member.read(CHUNK_BYTES):
            out += chunk
            budget.left -= len(chunk)
            if budget.left < 0:
                raise _bomb(
                    filename, f"it expands to more than the {mb(limits.max_archive_expanded_bytes)} allowed"
                )
            if _ratio_exceeded(len(out), info.compress_size, limits):
                raise _bomb(filename, _ratio_detail(info, limits))
            if len(out) > cap:
                return None
    return bytes(out)


def safe_member_name(name: str) -> tuple[str, bool]:
    """A member's path fit for display, and whether it had to be changed (traversal, control chars)."""
    cleaned = "".join(ch for ch in name.replace("\\", "/") if unicodedata.category(ch) not in ("Cc", "Cf"))
    parts = [part.strip() for part in cleaned.split("/")]
    parts = [part for part in parts if part not in ("", ".", "..")]
    if parts and re.fullmatch(r"[A-Za-z]:", parts[0]):
        parts = parts[1:]  # a Windows drive letter
    safe = "/".join(parts)
    if len(safe) > MAX_MEMBER_NAME:
        safe = "…" + safe[-(MAX_MEMBER_NAME - 1) :]  # keep the end: it holds the extension
    return safe, safe != name


def _skipped(info: zipfile.ZipInfo, safe: str) -> bool:
    """Folders, macOS resource forks, hidden files and OS junk are not documents."""
    parts = PurePosixPath(safe).parts
    return (
        info.is_dir()
        or not parts
        or parts[0] == "__MACOSX"
        or any(part.startswith(".") for part in parts)
        or parts[-1].lower() in JUNK_NAMES
    )


def parse_zip(filename: str, data: bytes, limits: Limits, parse_member: MemberParser) -> list[ParsedFile]:
    """One ParsedFile per member of the zip (named "<zip>/<member>"); refusals raise IngestError."""
    name = display_name(filename)
    zf = open_zip(
        filename,
        data,
        f"{name} is not a valid zip archive (it may be damaged or only partly downloaded). "
        "Create the archive again and upload it.",
    )
    with zf:
        infos = guard_entries(filename, zf, limits)
        budget = ExpansionBudget(limits)
        results: list[ParsedFile] = []
        for index, info in enumerate(infos, start=1):
            safe, changed = safe_member_name(info.filename)
            if _skipped(info, safe):
                continue
            member_name = f"{filename}/{safe or f'file-{index}'}"
            results.append(_member(filename, zf, info, member_name, changed, limits, budget, parse_member))
    if not results:
        raise IngestError(
            f"{name} holds no files Lastmile can read (only folders or hidden files). Put the documents "
            "themselves in the archive and upload it again."
        )
    return results


def _member(
    filename: str,
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    member_name: str,
    renamed: bool,
    limits: Limits,
    budget: ExpansionBudget,
    parse_member: MemberParser,
) -> ParsedFile:
    """Read and parse one member; a member-level problem becomes that member's error."""
    shown = display_name(member_name)
    ext = PurePosixPath(member_name).suffix.lower().lstrip(".")
    fmt = ext[:20] or "unknown"
    notes = (
        ["Its name in the archive was not a safe path (folders like '..', drive letters or control "
         "characters), so it is shown cleaned up."]
        if renamed
        else []
    )  # fmt: skip

    def refused(message: str) -> ParsedFile:
        """This member, refused with `message`."""
        return ParsedFile(member_name, b"", fmt, error=message, warnings=notes)

    if info.flag_bits & 0x1:
        return refused(
            f"{shown} is password protected inside the archive. Create the archive again without a "
            "password (or upload the file itself)."
        )
    if ext == "zip":
        return refused(
            f"{shown} is a zip inside a zip; Lastmile opens one level only. Unpack the inner archive and "
            "upload it (or its files) separately."
        )
    if info.file_size > limits.max_file_bytes:
        return refused(_too_large(shown, info.file_size, limits))
    try:
        content = read_entry(filename, zf, info, limits, budget, limits.max_file_bytes)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
        return refused(
            f"{shown} is damaged inside the archive ({exc.__class__.__name__}) or packed in a way Lastmile "
            "cannot read. Create the archive again with a standard zip tool and upload it."
        )
    if content is None:
        return refused(_too_large(shown, None, limits))
    parsed = parse_member(member_name, content)
    parsed.warnings[:0] = notes
    return parsed


def _too_large(shown: str, size: int | None, limits: Limits) -> str:
    """The message for a file over the per-file size limit (`size` when it is known)."""
    actual = f" (it is {mb(size)})" if size else ""
    return (
        f"{shown} is larger than {mb(limits.max_file_bytes)}, the limit for one file{actual}. Split it "
        "into smaller files, or ask your administrator to raise the limit."
    )
