"""Untrusted parsing: each uploaded file is parsed in a child process with memory, CPU and time limits.

The parsers are pure Python, but a hostile file can still make them allocate gigabytes or loop for
hours. parse_in_sandbox runs parse_file through app.ingest.fork_server, and whatever happens to the
child, the file comes back refused with a message that says what happened; the batch goes on.
"""

import logging
from pathlib import Path

from app.ingest.decoding import display_name
from app.ingest.fork_server import MB, SandboxFault, SandboxLimits, run_limited
from app.ingest.registry import extension, parse_file
from app.ingest.types import Limits, ParsedFile

log = logging.getLogger(__name__)


def parse_stored(
    path: str, filename: str, limits: Limits, mapping: dict[str, str] | None
) -> list[ParsedFile]:
    """parse_file on the file at `path`; the file's own bytes are left out of the result (the caller
    has them on disk), archive members keep theirs."""
    parsed = parse_file(filename, Path(path).read_bytes(), limits, mapping)
    for item in parsed:
        if item.filename == filename:
            item.data = b""
    return parsed


def fault_message(filename: str, fault: SandboxFault, limits: SandboxLimits) -> str:
    """What to tell the user about a file whose parse ran out of memory or time, or crashed."""
    name = display_name(filename)
    if fault.kind == "memory":
        return (
            f"{name} needs more than {limits.memory_bytes // MB:,} MB of memory to read, the limit for one "
            "file, so Lastmile stopped reading it. It may be damaged or built to overload a server. Open it "
            "on your computer, save it again or split it, then upload it; or ask your administrator to "
            "raise the limit."
        )
    if fault.kind in ("cpu", "wall"):
        seconds = limits.cpu_seconds if fault.kind == "cpu" else round(limits.wall_seconds)
        return (
            f"{name} took longer to read than the {seconds:,} seconds allowed for one file, so "
            "Lastmile stopped. It may be damaged or unusually complex. Save it again as a simpler file (for "
            "example as .txt or a new PDF) or split it, then upload it; or ask your administrator to raise "
            "the limit."
        )
    return (
        f"Lastmile's reader stopped unexpectedly on {name}. Open it on your computer and save it again "
        "(or export it as .txt or .pdf), then upload it; tell your administrator if it keeps happening."
    )


def parse_in_sandbox(
    path: Path,
    filename: str,
    limits: Limits,
    sandbox: SandboxLimits,
    mapping: dict[str, str] | None = None,
) -> list[ParsedFile]:
    """parse_file on the stored file at `path`, in a limited child process.

    Like parse_file it never raises for bad input: a file whose parse runs out of memory or time,
    or crashes, comes back refused with a message saying so. The file's own `data` is empty.
    """
    try:
        return run_limited(parse_stored, (str(path), filename, limits, mapping), sandbox)
    except SandboxFault as fault:
        log.warning("sandbox stopped parsing %r: %s", filename, fault)
        fmt = extension(filename)[:20] or "unknown"
        return [ParsedFile(filename, b"", fmt, error=fault_message(filename, fault, sandbox))]
