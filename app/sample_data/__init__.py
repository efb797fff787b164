"""The "Try with sample data" content: documents of Brightwater Logistics, a fictional freight forwarder.

The files under `files/` are in the formats Lastmile reads (mbox, eml, md, csv, jsonl), so loading them
goes through the same parsers as a real upload. They are written by `python -m app.sample_data.generator`
(the same files every time), in a house style a small model can learn: every client reply has the same
parts in the same order, the same terms and date format (see generator/house_style.py). There are enough
of them (405 drafts) that the usual 10 % held-out split leaves 40 for the comparison to judge on.

Three flaws are left in on purpose so the dataset health panel has something to show: one reply appears
twice in the mbox, one support ticket has no category, and one monthly report contains a phone number and
a personal email address.
"""

from pathlib import Path

FILES_DIR = Path(__file__).parent / "files"

DESCRIPTION = (
    "Brightwater Logistics, a fictional Rotterdam freight forwarder: 340 client email replies, "
    "16 announcements, 48 monthly reports, 37 support tickets and 24 booking requests, with 3 deliberate "
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
