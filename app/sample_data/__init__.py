"""The "Try with sample data" content: documents of Brightwater Logistics, a fictional freight forwarder.

The files under `files/` are in the formats Lastmile reads (mbox, eml, md, csv, jsonl), so loading them
goes through the same parsers as a real upload. Three flaws are left in on purpose so the dataset
health panel has something to show: one reply appears twice in the mbox, one support ticket has no
category, and one monthly report contains a phone number and a personal email address.
"""

from pathlib import Path

FILES_DIR = Path(__file__).parent / "files"

DESCRIPTION = (
    "Brightwater Logistics, a fictional Rotterdam freight forwarder: 24 client email replies, "
    "5 announcements, 8 monthly reports, 14 support tickets and 6 booking requests, with 3 deliberate "
    "flaws for the health panel to find."
)


def sample_files() -> list[tuple[str, bytes]]:
    """Every sample file as (path relative to the files folder, bytes), sorted by that path."""
    paths = (
        path
        for path in FILES_DIR.rglob("*")
        # Editors and OS tools leave dotfiles behind; they are not sample content.
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(FILES_DIR).parts)
    )
    return sorted((path.relative_to(FILES_DIR).as_posix(), path.read_bytes()) for path in paths)
