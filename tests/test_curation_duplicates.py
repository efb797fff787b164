"""Tests for exact and near duplicate detection."""

import os
import random
import subprocess
import sys
from pathlib import Path

from app.curation.duplicates import Vocabulary, exact_duplicate_groups, near_duplicate_groups, sketch
from app.curation.records import ExampleRecord

REPORT = (
    "Dear Ms Jansen, thank you for your order of 12 March. We have shipped the replacement parts to your "
    "Rotterdam warehouse and expect delivery on Thursday. The invoice for the parts will follow separately "
    "and the service visit on 20 March is confirmed for nine o'clock. Kind regards, the support team."
)


def record(
    example_id: int, output: str, input: str = "", instruction: str = "Reply to the client"
) -> ExampleRecord:
    """A train example with the given text."""
    return ExampleRecord(example_id, "draft", instruction, input, output, True, "train", None, None)


def unrelated_texts(count: int, seed: int = 3) -> list[str]:
    """Random texts of 60 words from a 2,000-word vocabulary: no two are near duplicates."""
    rng = random.Random(seed)
    vocabulary = [f"word{n}" for n in range(2000)]
    return [" ".join(rng.choice(vocabulary) for _ in range(60)) for _ in range(count)]


def test_exact_groups_ignore_case_and_spacing() -> None:
    """Copies differing only in case/whitespace form one group; the different example stays out."""
    records = [
        record(5, REPORT),
        record(2, "Something else entirely, written for another client."),
        record(9, REPORT.upper()),
        record(7, "  " + REPORT.replace(" ", "   ")),
    ]
    assert exact_duplicate_groups(records) == [[5, 7, 9]]


def test_exact_groups_need_same_instruction() -> None:
    """The content hash covers the instruction: a different instruction is not an exact duplicate."""
    assert exact_duplicate_groups([record(1, REPORT), record(2, REPORT, instruction="Summarise")]) == []


def test_near_duplicates_with_small_edits() -> None:
    """A couple of changed words or punctuation still group together; unrelated texts do not join."""
    edited = REPORT.replace("Thursday", "Friday").replace("nine", "ten")
    punctuated = REPORT.replace(",", "").replace(".", "!")
    others = unrelated_texts(50)
    records = [record(1, REPORT), record(2, edited), record(3, punctuated)]
    records += [record(100 + n, text) for n, text in enumerate(others)]
    assert near_duplicate_groups(records) == [[1, 2, 3]]


def test_near_duplicates_respect_threshold() -> None:
    """A text with 40% more words is similar at 0.8 but not at the default 0.85; a rewrite never is."""
    longer = REPORT + " " + " ".join(REPORT.split()[:20])
    words = REPORT.split()
    rewritten = " ".join(w.upper()[::-1] if n % 3 == 0 else w for n, w in enumerate(words))
    records = [record(1, REPORT), record(2, longer), record(3, rewritten)]
    assert near_duplicate_groups(records) == []
    assert near_duplicate_groups(records, threshold=0.8) == [[1, 2]]


def test_near_duplicates_use_input_too() -> None:
    """Same short output with different inputs (e.g. classification labels) is not a near duplicate."""
    records = [
        record(1, "Billing", input="I was charged twice for my subscription this month, please refund."),
        record(2, "Billing", input="Where can I download the invoice for last year's maintenance contract?"),
        record(3, "Billing", input="I was charged twice for my subscription this month, please refund!"),
    ]
    assert near_duplicate_groups(records) == [[1, 3]]


def test_near_duplicate_groups_are_deterministic_and_ordered() -> None:
    """Groups come sorted (ids ascending, groups by first id) and the same on every call."""
    texts = unrelated_texts(30, seed=11)
    records = [record(n * 2, text) for n, text in enumerate(texts)]
    records += [record(1001, texts[7] + " extra"), record(1000, texts[3] + " more")]
    first = near_duplicate_groups(reversed(records))
    assert first == [[6, 1000], [14, 1001]]
    assert near_duplicate_groups(records) == first


def test_short_and_empty_texts_do_not_crash_or_merge_everything() -> None:
    """Texts with fewer than three words are sketched whole; different short texts stay apart."""
    records = [record(1, ""), record(2, ""), record(3, "Yes"), record(4, "No"), record(5, "yes.")]
    assert near_duplicate_groups(records) == [[1, 2], [3, 5]]


def test_sketch_is_stable_and_sensitive() -> None:
    """The same words give the same sketch; most bins survive a one-word edit, few survive a rewrite."""
    vocabulary = Vocabulary()
    words = REPORT.lower().split()
    same = sketch(list(words), vocabulary)
    assert sketch(list(words), vocabulary) == same
    edited = sketch([*words[:20], "changed", *words[21:]], vocabulary)
    unrelated = sketch(unrelated_texts(1)[0].split(), vocabulary)
    assert sum(a == b for a, b in zip(same, edited, strict=True)) > 40
    assert sum(a == b for a, b in zip(same, unrelated, strict=True)) < 5


def test_large_cluster_of_near_copies_is_one_group() -> None:
    """Sixty lightly edited copies (a bucket above the all-pairs limit) end up in one group."""
    records = [record(n, REPORT.replace("Thursday", f"Thursday {n}")) for n in range(1, 61)]
    records += [record(100 + n, text) for n, text in enumerate(unrelated_texts(20))]
    assert near_duplicate_groups(records) == [list(range(1, 61))]


def test_shared_boilerplate_alone_is_not_a_near_duplicate() -> None:
    """Letters with the same greeting and closing but different bodies are not grouped."""
    opening, closing = (
        "Dear Ms Jansen, thank you for your message.",
        "Kind regards, the support team of Acme.",
    )
    bodies = unrelated_texts(40, seed=5)
    records = [record(n, f"{opening} {body} {closing}") for n, body in enumerate(bodies)]
    assert near_duplicate_groups(records) == []


def test_sketch_does_not_depend_on_the_string_hash_seed() -> None:
    """Two processes with different PYTHONHASHSEED compute the same sketch (web and worker agree)."""
    code = (
        "from app.curation.duplicates import Vocabulary, sketch, words_of; "
        f"print(sketch(words_of({REPORT!r}), Vocabulary()))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1 and outputs.pop().startswith("[")
