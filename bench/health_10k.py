"""Benchmark: dataset health analysis of 10,000 synthetic business examples, against a naive baseline.

Run with `.venv/bin/python -m bench.health_10k [--examples N] [--seed S] [--repeat R]`. It prints a
table of timings and, as its last line, one JSON object with the numbers. The baseline is the naive
near duplicate check (rapidfuzz on every pair), timed on a 1,000-example subset in the same run and
extrapolated to the full size (pairs grow with the square of the count); the LSH check is timed on
the same subset, so the recall of LSH against the exhaustive check is measured too.
"""

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from itertools import combinations
from typing import Any

from rapidfuzz import fuzz

from app.curation.duplicates import exact_duplicate_groups, near_duplicate_groups, words_of
from app.curation.health import NEAR_DUPLICATE_THRESHOLD, analyse
from app.curation.pii import find_pii
from app.curation.records import ExampleRecord

CONTEXT_TOKENS = 2048
SUBSET = 1000
ANALYSE = "analyse (all checks)"
NEAR = "  near duplicates (LSH + rapidfuzz)"
NAIVE = "near duplicates, naive pairwise"

CLIENTS = [
    "Acme Logistics", "Brightwater Foods", "Castell Engineering", "Dunmore Retail", "Elmfield Health",
    "Fairway Insurance", "Greenline Energy", "Harbour Freight", "Ironbridge Capital", "Juniper Telecom",
    "Kestrel Aviation", "Larchmont Pharma", "Meridian Hotels", "Northgate Property", "Oakhurst Schools",
    "Pinecrest Media", "Quayside Marine", "Redwood Analytics", "Silverline Rail", "Thornbury Legal",
]  # fmt: skip
PEOPLE = [
    "Anna Jansen", "Ben Okafor", "Clara Weiss", "David Moreau", "Emma Rossi", "Farid Haddad", "Greta Nilsson",
    "Hugo Martins", "Ines Kowalski", "Jonas Berg", "Kara Walsh", "Luca Ferrari", "Mona Schulz", "Nils Dahl",
]  # fmt: skip
PRODUCTS = [
    "fleet tracking", "cold storage", "payroll service", "cloud backup", "field maintenance", "claims portal",
    "solar installation", "customs clearance", "network upgrade", "staff training", "energy audit",
    "warehouse automation", "data migration", "security review", "customer helpdesk", "invoice scanning",
]  # fmt: skip
CITIES = ["Rotterdam", "Leeds", "Lyon", "Hamburg", "Milan", "Porto", "Gdansk", "Dublin", "Ghent", "Malmo"]
ADJECTIVES = ["steady", "strong", "modest", "slower", "record", "uneven", "solid", "weaker", "healthy"]
SENTENCES = [
    "Revenue from {product} at {client} grew by {pct} percent in {quarter}, thanks to new sites in {city}.",
    "{person} confirmed that the {product} rollout in {city} is on schedule for {month}.",
    "Costs were {pct} percent above plan because of overtime during the {month} peak.",
    "We recommend moving the {product} contract to a fixed monthly fee of {amount} euros.",
    "The steering group met on {day} {month} and agreed the priorities for {quarter}.",
    "Customer satisfaction for {product} rose to {score} out of ten, the best result since {year}.",
    "Two incidents affected {product} in {city}; both were resolved within {hours} hours.",
    "{client} asked us to review the service levels for {product} before the renewal in {month}.",
    "The backlog fell from {n} to {m} open tickets after the team in {city} was expanded.",
    "Demand in {city} remained {adjective}, while the other regions were flat compared with {year}.",
    "Please find attached the updated plan, which {person} will present at the next review.",
    "We expect the {product} savings to reach {amount} euros by the end of {quarter}.",
    "Training for the {city} staff on {product} is booked for the week of {day} {month}.",
    "The pilot with {client} showed a {pct} percent reduction in manual work.",
    "Our account manager {person} will contact you to agree the next steps.",
    "Invoices for {month} were sent on time and {pct} percent were paid within thirty days.",
    "A {adjective} quarter for {product}: volumes of {n} units against a target of {m}.",
    "The audit found no major issues, and the three minor findings will be closed by {month}.",
    "{client} expanded the {product} scope to include the {city} and {city2} depots.",
    "Energy use per site dropped by {pct} percent after the upgrade of the {city} facility.",
    "We are still waiting for the signed change request from {person} at {client}.",
    "Staff turnover in {city} stayed at {pct} percent, in line with the sector average.",
    "The new reporting dashboard for {product} goes live on {day} {month}.",
    "Delivery times improved to {hours} hours on average, down from {hours2} hours in {year}.",
    "Next quarter we will focus on {product} quality and on reducing the cost per order.",
    "{person} raised a concern about the capacity of the {city} warehouse during {month}.",
    "The price review proposes an increase of {pct} percent from {month}, subject to approval.",
    "All {n} sites completed the safety inspection, and {m} of them scored above target.",
    "Feedback from {client} on the {product} portal was {adjective}, with requests for better search.",
    "We closed {n} support cases in {month}, of which {m} needed an on-site visit in {city}.",
]  # fmt: skip
INSTRUCTIONS = {
    "draft": ["Write the monthly client update", "Draft the quarterly account report", "Reply to the client"],
    "summarise": ["Summarise this report for the board", "Write a short summary of the meeting notes"],
    "classify": ["Classify the customer message"],
    "extract": ["Extract the invoice details"],
}
LABELS = ["billing", "delivery", "complaint", "contract change", "technical issue", "praise"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "September", "October", "November"]
PII_SNIPPETS = [
    "You can reach me at {first}.{last}@example.com or on +44 20 7946 0{n3}.",
    "Please transfer the amount to IBAN GB82 WEST 1234 5698 7654 32 by Friday.",
    "Call {first} directly on 020 7946 0{n3} if anything is unclear.",
]


def sentence(rng: random.Random) -> str:
    """One business sentence with its slots filled."""
    city, city2 = rng.sample(CITIES, 2)
    return rng.choice(SENTENCES).format(
        client=rng.choice(CLIENTS), person=rng.choice(PEOPLE), product=rng.choice(PRODUCTS), city=city,
        city2=city2, pct=rng.randint(2, 40), quarter=f"Q{rng.randint(1, 4)}", month=rng.choice(MONTHS),
        day=rng.randint(1, 28), amount=f"{rng.randint(5, 900)},{rng.randint(0, 9)}00",
        year=rng.randint(2015, 2024),
        score=rng.randint(6, 9), hours=rng.randint(4, 72), hours2=rng.randint(4, 72), n=rng.randint(20, 900),
        m=rng.randint(10, 700), adjective=rng.choice(ADJECTIVES),
    )  # fmt: skip


def paragraph(rng: random.Random, words: int) -> str:
    """Sentences until about `words` words."""
    parts: list[str] = []
    while sum(len(part.split()) for part in parts) < words:
        parts.append(sentence(rng))
    return " ".join(parts)


def example(rng: random.Random, example_id: int) -> ExampleRecord:
    """One synthetic example of a random kind, with about 200 words of input and output together."""
    kind = rng.choices(list(INSTRUCTIONS), weights=[55, 20, 15, 10])[0]
    instruction = rng.choice(INSTRUCTIONS[kind])
    client, person = rng.choice(CLIENTS), rng.choice(PEOPLE)
    if kind == "draft":
        input = f"Client: {client}. Contact: {person}. Period: Q{rng.randint(1, 4)}."
        output = f"Dear {person.split()[0]},\n\n{paragraph(rng, 180)}\n\nKind regards,\n{rng.choice(PEOPLE)}"
    elif kind == "summarise":
        input, output = paragraph(rng, 150), paragraph(rng, 50)
    elif kind == "classify":
        input, output = paragraph(rng, 180), rng.choice(LABELS)
    else:
        input = f"{paragraph(rng, 150)} Invoice INV-{rng.randint(2019, 2024)}-{rng.randint(1, 9999):04d}."
        output = (
            f"Client: {client}\nAmount: {rng.randint(100, 99999)}.{rng.randint(0, 99):02d} EUR\nDue: 30 days"
        )
    return record(example_id, kind, instruction, input, output)


def record(
    example_id: int, kind: str, instruction: str, input: str, output: str, split: str = "train"
) -> ExampleRecord:
    """An included example with token counts as the app stores them (here: about 4 characters a token)."""
    prompt_tokens = math.ceil((len(instruction) + len(input) + 2) / 4)
    return ExampleRecord(
        example_id, kind, instruction, input, output, True, split, prompt_tokens, math.ceil(len(output) / 4)
    )


def edit_words(rng: random.Random, text: str, edits: int) -> str:
    """`text` with a few words replaced, like a second, slightly corrected version of a document."""
    words = text.split(" ")
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(["really", "also", "now", "fully", "kindly", "soon"])
    return " ".join(words)


def generate(count: int, seed: int) -> tuple[list[ExampleRecord], dict[str, int], list[tuple[int, int]]]:
    """`count` examples with known problems mixed in: the examples, how many of each problem were
    planted, and the (original, edited copy) id pairs of the planted near duplicates."""
    rng = random.Random(seed)
    records: list[ExampleRecord] = []
    planted: Counter[str] = Counter()
    near_pairs: list[tuple[int, int]] = []
    while len(records) < count:
        example_id = len(records) + 1
        roll = rng.random()
        source = rng.choice(records) if records else None
        if source and roll < 0.015:
            planted["exact"] += 1
            records.append(record(example_id, source.kind, source.instruction, source.input, source.output))
        elif source and roll < 0.03 and len(source.output.split()) > 40:
            planted["near"] += 1
            near_pairs.append((source.id, example_id))
            output = edit_words(rng, source.output, rng.randint(1, 4))
            records.append(record(example_id, source.kind, source.instruction, source.input, output))
        else:
            new = example(rng, example_id)
            if roll < 0.04:
                planted["pii"] += 1
                pii = rng.choice(PII_SNIPPETS).format(first="anna", last="jansen", n3=rng.randint(100, 999))
                new = record(example_id, new.kind, new.instruction, new.input, f"{new.output} {pii}")
            elif roll < 0.045:
                planted["empty"] += 1
                new = record(example_id, new.kind, new.instruction, new.input, "")
            elif roll < 0.048:
                planted["too_long"] += 1
                new = record(example_id, new.kind, new.instruction, paragraph(rng, 1600), new.output)
            records.append(new)
    # About 10% held out (the automatic split is not what is measured here), with a few leaks.
    split = [
        r if rng.random() > 0.1 else record(r.id, r.kind, r.instruction, r.input, r.output, "heldout")
        for r in records
    ]
    return split, dict(planted), near_pairs


def timed(function: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Median wall time and median CPU time over `repeat` runs, and the last result.

    CPU time is printed beside wall time because the bench may share a small machine with other
    work: wall time is what a user waits, CPU time is what the code costs.
    """
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def naive_near_pairs(
    records: list[ExampleRecord], threshold: float = NEAR_DUPLICATE_THRESHOLD
) -> set[tuple[int, int]]:
    """Every pair compared with rapidfuzz (the baseline): pairs of ids at least `threshold` similar."""
    texts = [(r.id, " ".join(words_of(f"{r.input}\n{r.output}"))) for r in records]
    cutoff = threshold * 100
    return {
        (left_id, right_id)
        for (left_id, left), (right_id, right) in combinations(texts, 2)
        if fuzz.ratio(left, right, score_cutoff=cutoff)
    }


def pairs_in_groups(groups: list[list[int]]) -> set[tuple[int, int]]:
    """All id pairs inside the groups."""
    return {pair for group in groups for pair in combinations(sorted(group), 2)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Generate, time, print the table and the JSON line; returns the JSON numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    records, planted, near_pairs = generate(args.examples, args.seed)
    words = statistics.mean(len(f"{r.input} {r.output}".split()) for r in records)
    texts = [t for r in records for t in (r.instruction, r.input, r.output)]
    subset = records[:SUBSET]
    rows: dict[str, tuple[int, float, float]] = {}
    results: dict[str, Any] = {}
    repeat = args.repeat
    steps: list[tuple[str, str, int, Callable[[], Any], int]] = [
        ("analyse", ANALYSE, len(records), lambda: analyse(records, CONTEXT_TOKENS), repeat),
        ("exact", "  exact duplicates", len(records), lambda: exact_duplicate_groups(records), repeat),
        ("near", NEAR, len(records), lambda: near_duplicate_groups(records), repeat),
        ("pii", "  personal data scan", len(records), lambda: [find_pii(t) for t in texts], repeat),
        ("lsh_subset", "near duplicates, LSH", len(subset), lambda: near_duplicate_groups(subset), repeat),
        ("naive_subset", NAIVE, len(subset), lambda: naive_near_pairs(subset), 1),
    ]
    for key, label, count, function, runs in steps:
        wall, cpu, results[key] = timed(function, runs)
        rows[label] = (count, wall, cpu)
    # Pairs grow with the square of the count: extrapolate the naive check from the subset.
    scale = (len(records) * (len(records) - 1)) / (len(subset) * (len(subset) - 1))
    _, naive_wall, naive_cpu = rows[NAIVE]
    rows[NAIVE + " (extrapolated)"] = (
        len(records),
        naive_wall * scale,
        naive_cpu * scale,
    )
    speedup = naive_wall * scale / rows[NEAR][1]

    naive_pairs = results["naive_subset"]
    subset_recall = (
        len(naive_pairs & pairs_in_groups(results["lsh_subset"])) / len(naive_pairs) if naive_pairs else 1.0
    )
    grouped = pairs_in_groups(results["near"])
    planted_recall = sum(pair in grouped for pair in near_pairs) / len(near_pairs) if near_pairs else 1.0
    report = results["analyse"]
    flagged = Counter(flag.code for flags in report.flags.values() for flag in flags)

    print(
        f"{len(records):,} examples, {words:.0f} words each on average, seed {args.seed}, median of {repeat}"
    )
    print(f"{'step':<48}{'examples':>10}{'wall s':>10}{'cpu s':>10}")
    for label, (count, wall, cpu) in rows.items():
        print(f"{label:<48}{count:>10,}{wall:>10.3f}{cpu:>10.3f}")
    print(
        f"near duplicates at {len(records):,}: LSH is {speedup:,.0f}x faster than naive pairwise (wall time)"
    )
    print(f"LSH recall: {subset_recall:.3f} of {len(naive_pairs)} naive pairs on the subset, ", end="")
    print(f"{planted_recall:.3f} of {len(near_pairs)} planted near duplicates")
    print("planted:", dict(sorted(planted.items())), "flagged:", dict(sorted(flagged.items())))
    summary = {
        "examples": len(records),
        "words_per_example": round(words),
        "analyse_wall_s": round(rows[ANALYSE][1], 3),
        "analyse_cpu_s": round(rows[ANALYSE][2], 3),
        "near_wall_s": round(rows[NEAR][1], 3),
        "naive_extrapolated_wall_s": round(naive_wall * scale, 1),
        "speedup_vs_naive": round(speedup, 1),
        "lsh_recall_subset": round(subset_recall, 3),
        "lsh_recall_planted": round(planted_recall, 3),
        "flagged": dict(sorted(flagged.items())),
    }
    print(json.dumps(summary, sort_keys=True))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
