"""Benchmark: decoding a subject of N RFC 2047 encoded words, the standard library's way against Lastmile's.

Run with `.venv/bin/python -m bench.header_decoding [--words 2000 8000 32000]`. The baseline is
email.header.decode_header, which the email parser used before (twice per message of a mailbox); the
other arm is app.ingest.email.header_text on the parsed message: the header capped before decoding,
encoded words found in one pass. Both run in this process on the same values. The last line is one
JSON object: seconds per arm and size, and how the time grows when the words grow 4×.
"""

import argparse
import itertools
import json
import time
from email.header import decode_header

from app.ingest.email import header_text, parse_message
from tests.hostile_files import encoded_words


def _timed(function, *args) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main() -> None:
    """Time both arms at each size; a table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, nargs="+", default=[2000, 8000, 32000])
    args = parser.parse_args()
    rows = []
    print(f"{'words':>8} | {'header MB':>9} | {'decode_header s':>15} | {'header_text s':>13} | ratio")
    for words in args.words:
        value = encoded_words(words)
        message = parse_message(f"From: a@b.c\r\nSubject: {value}\r\n\r\nBody.\r\n".encode())
        stdlib = _timed(decode_header, value)
        ours = _timed(header_text, message, "Subject")
        rows.append({"words": words, "decode_header_s": stdlib, "header_text_s": ours})
        size = len(value) / 2**20
        print(f"{words:>8} | {size:>9.2f} | {stdlib:>15.3f} | {ours:>13.5f} | {stdlib / ours:>6.0f}×")
    growth = {
        arm: [round(b[arm] / a[arm], 1) for a, b in itertools.pairwise(rows)]
        for arm in ("decode_header_s", "header_text_s")
    }
    print(json.dumps({"rows": rows, "growth_per_step": growth}))


if __name__ == "__main__":
    main()
