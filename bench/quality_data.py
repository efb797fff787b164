"""Prepare the public datasets of `bench.quality`: small, fixed subsets of real business writing.

Run once, with the fetched repositories' git folders (`fetch github:ryanzhumich/AESLC` and
`fetch github:asappresearch/dialog-intent-induction`):

    .venv/bin/python -m bench.quality_data --aeslc /work/.mirror/ryanzhumich+AESLC/repo \
        --airlines /work/.mirror/asappresearch+dialog-intent-induction/repo

It writes `shared/quality/*.jsonl` (kept out of git: what `fetch` brings is never committed, so each machine
runs this once), one example per line in the columns
Lastmile's table import recognises (instruction, input, output, kind). Sources and licences:
`shared/quality/SOURCES.md`. The same arguments always give the same files.
"""

import argparse
import bz2
import csv
import html
import io
import json
import random
import re
import subprocess
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "shared" / "quality"
SIZE = 300  # examples per dataset: ~30 held out by Lastmile's 10 % split, training fits the time budget
SEED = 14
AESLC_INSTRUCTION = "Write the subject line for this email"
AIRLINE_INSTRUCTION = "Reply to this customer's tweet"
# Delta's social-media agents end each reply with their initials after an asterisk ("... *TMT").
DELTA_INITIALS = re.compile(r"\*[A-Z]{2,4}\s*$")
TURN = re.compile(r"<(cust|rep)__(.*?)__\1>", re.DOTALL)


def _git_show(repo: Path, path: str) -> bytes:
    """One file of a bare git folder at HEAD."""
    return subprocess.run(
        ["git", f"--git-dir={repo}", "show", f"HEAD:{path}"], capture_output=True, check=True
    ).stdout


def _words(text: str) -> int:
    """How many whitespace-separated words `text` has."""
    return len(text.split())


def aeslc(repo: Path) -> list[dict[str, str]]:
    """AESLC training emails → their subject lines: short, plain business emails only."""
    listing = subprocess.run(
        ["git", f"--git-dir={repo}", "ls-tree", "-r", "--name-only", "HEAD", "enron_subject_line/train"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    rng = random.Random(SEED)
    rng.shuffle(listing)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for path in listing:
        text = _git_show(repo, path).decode("utf-8", errors="replace")
        body, _, rest = text.partition("\n@subject\n")
        subject = rest.strip().splitlines()[0].strip() if rest.strip() else ""
        body = "\n".join(line.strip() for line in body.strip().splitlines())
        # Long emails would dominate the training time; forwarded chains and one-word subjects teach little.
        if not (20 <= _words(body) <= 120 and 2 <= _words(subject) <= 10) or subject.lower() in seen:
            continue
        seen.add(subject.lower())
        rows.append({"instruction": AESLC_INSTRUCTION, "input": body, "output": subject, "kind": "summarise"})
        if len(rows) == SIZE:
            break
    return rows


def _clean_tweet(text: str, company: str) -> str:
    """A tweet without the redaction markers: the company's mention becomes its name, the customer's goes."""
    text = html.unescape(text).replace("__company__", company)
    text = re.sub(r"__cust__|@\d+", " ", text)
    return " ".join(text.split())


def airline_replies(repo: Path) -> list[dict[str, str]]:
    """A customer's first tweet to Delta → Delta's first reply, from the Twitter airline support set."""
    data = bz2.decompress(_git_show(repo, "data/airlines_raw.csv.bz2")).decode("utf-8")
    pairs: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(data)):
        first = TURN.match(row["context"].strip())
        if first is None or first.group(1) != "rep" or not DELTA_INITIALS.search(first.group(2).strip()):
            continue  # only replies that answer the first tweet directly, and only Delta's
        tweet = _clean_tweet(TURN.sub(r"\2", row["first_utterance"]), "@Delta")
        reply = _clean_tweet(first.group(2), "@Delta")
        if 6 <= _words(tweet) <= 60 and 6 <= _words(reply) <= 50 and "http" not in reply:
            pairs.setdefault(tweet.lower(), {"input": tweet, "output": reply})
    chosen = sorted(pairs.values(), key=lambda pair: pair["input"])
    random.Random(SEED).shuffle(chosen)
    return [{"instruction": AIRLINE_INSTRUCTION, **pair, "kind": "draft"} for pair in chosen[:SIZE]]


def write(name: str, rows: list[dict[str, str]]) -> Path:
    """Write `rows` as JSON lines under OUT_DIR."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / name
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def main() -> None:
    """Build both subsets from the fetched repositories."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--aeslc", type=Path, required=True, help="git folder of ryanzhumich/AESLC")
    parser.add_argument(
        "--airlines", type=Path, required=True, help="git folder of asappresearch/dialog-intent-induction"
    )
    args = parser.parse_args()
    for name, rows in (
        ("aeslc.jsonl", aeslc(args.aeslc)),
        ("airline-support.jsonl", airline_replies(args.airlines)),
    ):
        path = write(name, rows)
        print(f"{path}: {len(rows)} examples, {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
