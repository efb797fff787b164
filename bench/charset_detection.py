"""Benchmark: charset detection (charset-normalizer) against labels and UTF-8 alone, on the encoding cases.

Run with `.venv/bin/python -m bench.charset_detection`. Every corpus file labelled with the category
`encoding` (tests/corpus/*/) is parsed twice in this process with app.ingest.registry.parse_file and
scored with bench.ingest_accuracy: once with detection switched off (declared labels, UTF-8 first, then
Windows-1252: what Lastmile did for bytes no label fits), once as shipped (charset-normalizer over the
legacy encodings). The last line is one JSON object with both scores and the files each arm missed.
"""

import json
from pathlib import Path
from unittest import mock

from app.ingest import charsets, decoding
from app.ingest.registry import parse_file
from app.ingest.types import Limits, ParsedFile
from app.settings import get_settings
from bench.ingest_accuracy import CORPUS, ContextFit, score_corpus


def parse_here(path: Path, mapping: dict[str, str] | None) -> list[ParsedFile]:
    """The file parsed in this process (so a switched-off detector stays off), with the settings' limits."""
    return parse_file(path.name, path.read_bytes(), Limits.from_settings(get_settings()), mapping)


def score(fit: ContextFit) -> tuple[int, int, list[str]]:
    """(matched, total, missed files) over the encoding cases."""
    report = score_corpus(CORPUS, parse=parse_here, fit=fit)
    files = [f for f in report.files if "encoding" in f.categories]
    return sum(f.matched for f in files), len(files), [f.name for f in files if not f.matched]


def main() -> None:
    """Both arms, a table and the JSON line."""
    fit = ContextFit()
    with (
        mock.patch.object(charsets, "guess_charset", lambda data: None),
        mock.patch.object(decoding, "guess_charset", lambda data: None),
    ):
        off = score(fit)
    on = score(fit)
    print("| arm | encoding cases matched | share |\n| --- | --- | --- |")
    for name, (matched, total, _missed) in (
        ("labels + UTF-8, no detection", off),
        ("charset-normalizer", on),
    ):
        print(f"| {name} | {matched}/{total} | {matched / max(1, total):.0%} |")
    print(json.dumps({"no_detection": off, "charset_normalizer": on}))


if __name__ == "__main__":
    main()
