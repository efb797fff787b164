"""The bundled set of everyday instructions the regression guard asks base and adapted models.

`general_set.jsonl` holds 42 instructions with reference answers: explanations, summaries, lists, rewrites,
short emails, arithmetic word problems, small classifications and extractions, advice. Every instruction and
answer was written by Lastmile's developers for this project (no third-party text, so no licence to carry:
it ships under the project's own terms). A public set was not used because the permissive ones are either
share-alike (Dolly, CC BY-SA) or non-commercial (Alpaca, No Robots) and would bind a self-hosted product's
users; a set written here can also be kept short, varied and free of personal data.

The answers are what a careful assistant writes: plain, correct and short (a one-word label to about 120
words), so the loss on them measures general writing, not one house style.
"""

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GENERAL_SET_PATH = Path(__file__).with_name("general_set.jsonl")


@dataclass(frozen=True)
class GeneralItem:
    """One everyday instruction (with its input, may be empty) and a good answer to it."""

    id: int
    kind: str  # explain, summarise, list, rewrite, email, arithmetic, classify, extract, advice, plan
    instruction: str
    input: str
    output: str


@lru_cache(maxsize=1)
def general_set() -> tuple[GeneralItem, ...]:
    """The bundled everyday instructions, in file order."""
    lines = GENERAL_SET_PATH.read_text(encoding="utf-8").splitlines()
    return tuple(GeneralItem(**json.loads(line)) for line in lines if line.strip())


@lru_cache(maxsize=1)
def general_set_sha256() -> str:
    """A hash of the set's file: a cached base-model loss is only reused for exactly this set."""
    return hashlib.sha256(GENERAL_SET_PATH.read_bytes()).hexdigest()
