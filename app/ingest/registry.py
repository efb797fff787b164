"""One entry point for every format: parse_file picks the parser by the file's extension."""

from app.ingest.types import Limits, ParsedFile


def parse_file(
    filename: str, data: bytes, limits: Limits, mapping: dict[str, str] | None = None
) -> list[ParsedFile]:
    """Parse one uploaded file; a .zip yields one ParsedFile per member, anything else exactly one.

    Never raises for bad input: a refused file comes back with `error` set. `mapping` maps
    Lastmile's fields (instruction, input, output, kind, tags) to a table's column names.
    """
    raise NotImplementedError
