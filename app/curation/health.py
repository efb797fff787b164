"""Dataset health: per-example flags and plain-language findings with one-click fix codes.

The result types (Flag, Finding, HealthReport) live in app.curation.records and are importable from here.
"""

from collections import defaultdict
from collections.abc import Iterable

from app.curation.duplicates import exact_duplicate_groups, group_near_duplicates, words_of
from app.curation.pii import find_pii
from app.curation.records import HELDOUT, ExampleRecord, Finding, Flag, HealthReport
from app.curation.tokens import ESTIMATE, prompt_text
from app.training.estimate import SMOLLM2_TEMPLATE_TOKENS

# Stable flag codes (stored in example_flags.code, used as filter values) and their names for people.
FLAG_LABELS: dict[str, str] = {
    "duplicate": "Exact duplicate",
    "near_duplicate": "Near duplicate",
    "leakage": "Held-out example also in training",
    "empty_output": "Empty output",
    "short_output": "Very short output",
    "same_as_input": "Output same as input",
    "too_long": "Too long for the model",
    "pii": "Personal data",
}

DEFAULT_RECOMMENDED: dict[str, int] = {"draft": 100, "summarise": 100, "classify": 50, "extract": 50}
KIND_PURPOSES: dict[str, str] = {
    "draft": "drafting",
    "summarise": "summarising",
    "classify": "classifying",
    "extract": "extracting",
}

SEVERITIES = ("error", "warning", "info", "ok")
SHORT_OUTPUT_WORDS = 5
MIN_HELDOUT = 5
NEAR_DUPLICATE_THRESHOLD = 0.85
_PII_NAMES = {
    "email": ("email address", "email addresses"),
    "phone": ("phone number", "phone numbers"),
    "iban": ("IBAN", "IBANs"),
}
# Flags that make an example unfit to train on as it is (personal data can be redacted in place).
_UNFIT = frozenset({"empty_output", "short_output", "same_as_input", "too_long"})


def analyse(
    records: Iterable[ExampleRecord],
    context_tokens: int,
    recommended: dict[str, int] | None = None,
    template_tokens: int = SMOLLM2_TEMPLATE_TOKENS,
) -> HealthReport:
    """Check examples: duplicates, leakage, empty/short/same-as-input outputs, length, PII, split, counts.

    An example's length is its prompt and output plus `template_tokens`, what the model's chat template
    adds around it in training.

    Only included examples are checked (an excluded one neither trains nor tests the model), so
    excluded examples get no flags, and excluding a train copy clears a leakage finding.
    """
    included = [record for record in records if record.included]
    flags: dict[int, list[Flag]] = defaultdict(list)
    # Split once: the near duplicate check and the output checks both work on words.
    words = {record.id: (words_of(record.input), words_of(record.output)) for record in included}
    findings = [
        *_duplicate_findings(included, words, flags),
        *_content_findings(included, words, flags),
        *_length_findings(included, context_tokens, template_tokens, flags),
        *_pii_findings(included, flags),
        *_split_findings(included),
    ]
    if included and not any(finding.severity in ("error", "warning") for finding in findings):
        findings.append(
            Finding(
                "all_clear",
                "ok",
                "No problems found",
                "Every included example passed the checks for duplicates, length, personal data and the "
                "held-out split.",
            )
        )
    unfit = {example_id for example_id, found in flags.items() if any(f.code in _UNFIT for f in found)}
    for finding in findings:
        if finding.fix in ("exclude_duplicates", "move_to_train"):
            unfit.update(finding.fix_ids)
    findings.extend(_count_findings(included, unfit, {**DEFAULT_RECOMMENDED, **(recommended or {})}))
    findings.sort(key=lambda finding: SEVERITIES.index(finding.severity))
    order = list(FLAG_LABELS)
    return HealthReport(
        findings=findings,
        flags={key: sorted(value, key=lambda f: order.index(f.code)) for key, value in sorted(flags.items())},
    )


def _plural(count: int, singular: str, plural: str) -> str:
    """'1 example is' / '4 examples are': the count with the right form of the phrase."""
    return f"{count:,} {singular if count == 1 else plural}"


def _ids_text(ids: Iterable[int], limit: int = 5) -> str:
    """'#12, #15 and 3 more': example numbers for a flag detail, shortened."""
    ids = list(ids)
    shown = ", ".join(f"#{example_id}" for example_id in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _split_group(group: list[int], split_of: dict[int, str]) -> tuple[list[int], list[int]]:
    """The train members and the held-out members of a duplicate group."""
    return (
        [example_id for example_id in group if split_of[example_id] != HELDOUT],
        [example_id for example_id in group if split_of[example_id] == HELDOUT],
    )


def _duplicate_findings(
    included: list[ExampleRecord], words: dict[int, tuple[list[str], list[str]]], flags: dict[int, list[Flag]]
) -> list[Finding]:
    """Exact and near duplicates within each split, and held-out examples with a copy in training.

    Duplicates across the splits are reported as leakage only, so the two one-click fixes never
    pick different copies of the same example to exclude.
    """
    split_of = {record.id: record.split for record in included}
    exact_groups: list[list[int]] = []
    for group in exact_duplicate_groups(included):
        exact_groups.extend(part for part in _split_group(group, split_of) if len(part) > 1)
    extra_copies = {example_id for group in exact_groups for example_id in group[1:]}
    near_groups: list[list[int]] = []
    leaks: dict[int, list[int]] = {}
    texts = ((example_id, input + output) for example_id, (input, output) in words.items())
    for group in group_near_duplicates(texts, NEAR_DUPLICATE_THRESHOLD):
        train, heldout = _split_group(group, split_of)
        if train and heldout:
            leaks.update((example_id, train) for example_id in heldout)
        for part in (train, heldout):
            # Extra exact copies are handled by the exact finding; what is left must still differ.
            rest = [example_id for example_id in part if example_id not in extra_copies]
            if len(rest) > 1:
                near_groups.append(rest)
    for code, groups, wording in (
        ("duplicate", exact_groups, ("Exact copies:", "Exact copy of")),
        ("near_duplicate", near_groups, ("Nearly the same as", "Nearly the same as")),
    ):
        for first, *others in groups:
            flags[first].append(Flag(code, f"{wording[0]} {_ids_text(others)}"))
            for other in others:
                flags[other].append(Flag(code, f"{wording[1]} #{first}"))
    for heldout_id, train_ids in leaks.items():
        flags[heldout_id].append(Flag("leakage", f"Also in training as {_ids_text(train_ids)}"))
    findings: list[Finding] = []
    if exact_groups:
        findings.append(_group_finding("duplicate", exact_groups))
    if near_groups:
        findings.append(_group_finding("near_duplicate", near_groups))
    if leaks:
        train_copies = sorted({example_id for train_ids in leaks.values() for example_id in train_ids})
        findings.append(
            Finding(
                "leakage",
                "error",
                _plural(len(leaks), "held-out example is", "held-out examples are") + " also in training",
                "The comparison would test the model on text it has already learned, so it would look "
                "better than it is.",
                example_ids=sorted(leaks),
                fix="move_to_train",
                fix_ids=train_copies,
                groups=[[heldout_id, *train_ids] for heldout_id, train_ids in sorted(leaks.items())],
                flag="leakage",
            )
        )
    return findings


def _group_finding(code: str, groups: list[list[int]]) -> Finding:
    """The finding for exact (code 'duplicate') or near duplicate groups; the fix keeps each group's first."""
    extra = sorted(example_id for group in groups for example_id in group[1:])
    if code == "duplicate":
        title = _plural(len(extra), "example is an exact duplicate", "examples are exact duplicates")
        why = "Repeated examples count several times in training, so the model copies them too closely."
    else:
        title = _plural(len(extra), "example is nearly the same", "examples are nearly the same") + (
            " as another"
        )
        why = "Near copies add little new and make the model repeat their wording; one of each is enough."
    return Finding(
        code,
        "warning",
        title,
        why,
        example_ids=sorted(example_id for group in groups for example_id in group),
        fix="exclude_duplicates",
        fix_ids=extra,
        groups=groups,
        flag=code,
    )


def _content_findings(
    included: list[ExampleRecord], words: dict[int, tuple[list[str], list[str]]], flags: dict[int, list[Flag]]
) -> list[Finding]:
    """Outputs that are empty, very short (except classification labels) or a copy of the input."""
    found: dict[str, list[int]] = {"empty_output": [], "short_output": [], "same_as_input": []}
    for record in included:
        input_words, output_words = words[record.id]
        if not output_words:
            found["empty_output"].append(record.id)
            flags[record.id].append(Flag("empty_output", "The output is empty"))
            continue
        if record.kind != "classify" and len(output_words) < SHORT_OUTPUT_WORDS:
            found["short_output"].append(record.id)
            detail = _plural(len(output_words), "word", "words") + " in the output"
            flags[record.id].append(Flag("short_output", detail))
        # Compared word for word, so a change of case or punctuation alone still counts as a copy.
        if output_words == input_words:
            found["same_as_input"].append(record.id)
            flags[record.id].append(Flag("same_as_input", "The output repeats the input word for word"))
    texts = {
        "empty_output": (
            ("example has an empty output", "examples have an empty output"),
            "error",
            "The model would learn to answer with nothing.",
            "exclude",
        ),
        "short_output": (
            ("example has a very short output", "examples have a very short output"),
            "warning",
            "Answers of a few words teach the model to say little; check that they are complete.",
            None,
        ),
        "same_as_input": (
            ("example's output is the same as its input", "examples' outputs are the same as their input"),
            "warning",
            "The model would learn to copy its input instead of doing the task.",
            "exclude",
        ),
    }
    findings = []
    for code, ids in found.items():
        if ids:
            (singular, plural), severity, why, fix = texts[code]
            fix_ids = ids if fix else []
            findings.append(
                Finding(
                    code, severity, _plural(len(ids), singular, plural), why, ids, fix, fix_ids, flag=code
                )
            )
    return findings


def _length_findings(
    included: list[ExampleRecord], context_tokens: int, template_tokens: int, flags: dict[int, list[Flag]]
) -> list[Finding]:
    """Examples that, rendered with the chat template, are longer than what the model reads at once."""
    missing = [record for record in included if record.prompt_tokens is None or record.output_tokens is None]
    # Examples not yet counted with the real tokenizer get the character estimate, said as "about".
    estimates = ESTIMATE.count(
        [text for r in missing for text in (prompt_text(r.instruction, r.input), r.output)]
    )
    estimated = {r.id: estimates[2 * i] + estimates[2 * i + 1] for i, r in enumerate(missing)}
    too_long = []
    for record in included:
        total = estimated.get(record.id)
        if total is None:
            total = (record.prompt_tokens or 0) + (record.output_tokens or 0)
        total += template_tokens
        if total > context_tokens:
            too_long.append(record.id)
            about = "About " if record.id in estimated else ""
            detail = (
                f"{about}{total:,} tokens with the chat template; the model reads at most {context_tokens:,}"
            )
            flags[record.id].append(Flag("too_long", detail))
    if not too_long:
        return []
    return [
        Finding(
            "too_long",
            "warning",
            _plural(len(too_long), "example is", "examples are") + f" longer than {context_tokens:,} tokens",
            "The model reads at most that much at once, so the end of these examples would be cut off in "
            "training. Split them into parts that fit (at headings and paragraphs), or exclude them.",
            too_long,
            "exclude",
            too_long,
            flag="too_long",
        )
    ]


def _pii_findings(included: list[ExampleRecord], flags: dict[int, list[Flag]]) -> list[Finding]:
    """Examples containing email addresses, phone numbers or IBANs in any field."""
    with_pii = []
    # Many examples share one instruction: scan each distinct instruction once.
    instruction_kinds = {text: [m.kind for m in find_pii(text)] for text in {r.instruction for r in included}}
    for record in included:
        counts: dict[str, int] = defaultdict(int)
        for kind in instruction_kinds[record.instruction]:
            counts[kind] += 1
        for text in (record.input, record.output):
            for match in find_pii(text):
                counts[match.kind] += 1
        if counts:
            with_pii.append(record.id)
            detail = ", ".join(_plural(count, *_PII_NAMES[kind]) for kind, count in sorted(counts.items()))
            flags[record.id].append(Flag("pii", detail))
    if not with_pii:
        return []
    return [
        Finding(
            "pii",
            "warning",
            _plural(len(with_pii), "example contains", "examples contain")
            + " personal data (email addresses, phone numbers or IBANs)",
            "The model can memorise personal data and repeat it in its drafts; replace it with placeholders.",
            with_pii,
            "redact_pii",
            with_pii,
            flag="pii",
        )
    ]


def _split_findings(included: list[ExampleRecord]) -> list[Finding]:
    """Whether enough examples are held out to compare the models, and some are left to train on."""
    if not included:
        return [
            Finding(
                "no_examples",
                "warning",
                "No examples are included yet",
                "The model learns only from included examples; upload documents or include some examples.",
            )
        ]
    heldout = sum(1 for record in included if record.split == HELDOUT)
    train = len(included) - heldout
    why = "Held-out examples are kept out of training so you can check the model on text it has never seen."
    if len(included) < 2:
        return []
    if train == 0:
        return [
            Finding(
                "no_train",
                "error",
                "Every example is held out, so nothing is left to train on",
                "Training uses only the examples in the training split.",
                fix="auto_split",
            )
        ]
    if heldout == 0:
        return [
            Finding("no_heldout", "warning", "No examples are held out for comparison", why, fix="auto_split")
        ]
    # Below 2 x MIN_HELDOUT examples the automatic split holds out fewer on purpose (see split.py).
    if heldout < MIN_HELDOUT and train + heldout >= 2 * MIN_HELDOUT:
        held = _plural(heldout, "example is", "examples are")
        title = f"Only {held} held out; {MIN_HELDOUT} or more recommended"
        return [Finding("few_heldout", "warning", title, why, fix="auto_split")]
    return []


def _count_findings(
    included: list[ExampleRecord], unfit: set[int], recommended: dict[str, int]
) -> list[Finding]:
    """Per task kind: how many good examples there are against the recommended number."""
    good: dict[str, int] = defaultdict(int)
    for record in included:
        good[record.kind] += record.id not in unfit
    findings = []
    known = list(KIND_PURPOSES)
    for kind in sorted(good, key=lambda kind: (known.index(kind) if kind in known else len(known), kind)):
        wanted = recommended.get(kind, 50)
        purpose = KIND_PURPOSES.get(kind, kind)
        count = _plural(good[kind], "good example", "good examples")
        if good[kind] >= wanted:
            title, severity = f"{count} for {purpose} ({wanted} recommended)", "ok"
        else:
            title, severity = f"{count}; {wanted} recommended for {purpose}", "info"
        findings.append(
            Finding(
                f"count_{kind}",
                severity,
                title,
                "More good, varied examples teach the model your way of writing more reliably.",
            )
        )
    return findings
