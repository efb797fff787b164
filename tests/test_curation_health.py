"""Tests for the dataset health analysis: flags per example and the findings of the panel."""

import random
from dataclasses import replace

from app.curation.health import FLAG_LABELS, SEVERITIES, Finding, HealthReport, analyse
from app.curation.records import ExampleRecord

VOCABULARY = [f"word{n}" for n in range(3000)]


def clean(
    count: int, heldout: int = 0, kind: str = "draft", start: int = 1, seed: int = 0
) -> list[ExampleRecord]:
    """`count` distinct, healthy examples; the last `heldout` of them held out."""
    rng = random.Random(seed)
    return [
        ExampleRecord(
            i,
            kind,
            "Write the client update",
            " ".join(rng.choice(VOCABULARY) for _ in range(15)),
            " ".join(rng.choice(VOCABULARY) for _ in range(40)),
            True,
            "heldout" if i >= start + count - heldout else "train",
            100,
            200,
        )
        for i in range(start, start + count)
    ]


def fresh(example_id: int, **fields: object) -> ExampleRecord:
    """A healthy train example with its own random text (seeded by its id), overridden by `fields`."""
    (base,) = clean(1, start=example_id, seed=example_id)
    return replace(base, **fields)  # type: ignore[arg-type]


def codes(report: HealthReport) -> list[str]:
    """The finding codes, in report order."""
    return [finding.code for finding in report.findings]


def finding(report: HealthReport, code: str) -> Finding:
    """The one finding with `code`."""
    (found,) = [f for f in report.findings if f.code == code]
    return found


def flag_codes(report: HealthReport, example_id: int) -> list[str]:
    """The flag codes of one example."""
    return [flag.code for flag in report.flags.get(example_id, [])]


def test_healthy_dataset_is_all_clear() -> None:
    """No flags; an 'ok' all-clear finding and an info count against the recommendation."""
    report = analyse(clean(60, heldout=6), context_tokens=2048)
    assert report.flags == {}
    assert codes(report) == ["count_draft", "all_clear"]  # info before ok
    count = finding(report, "count_draft")
    assert count.severity == "info"
    assert count.title == "60 good examples; 100 recommended for drafting"
    assert finding(report, "all_clear").severity == "ok"


def test_recommendation_met_and_overridden() -> None:
    """Meeting the (overridden) recommendation gives an 'ok' count finding."""
    report = analyse(clean(60, heldout=6, kind="classify"), 2048, recommended={"classify": 40})
    count = finding(report, "count_classify")
    assert count.severity == "ok"
    assert count.title == "60 good examples for classifying (40 recommended)"


def test_exact_duplicates_keep_first_of_each_group() -> None:
    """Copies (ignoring case/spacing) are flagged; the fix excludes all but the first of each group."""
    data = clean(30, heldout=5)
    data += [replace(data[0], id=101, output=data[0].output.upper()), replace(data[0], id=102)]
    data += [replace(data[1], id=103, output="  " + data[1].output)]
    report = analyse(data, 2048)
    dup = finding(report, "duplicate")
    assert dup.title == "3 examples are exact duplicates"
    assert dup.fix == "exclude_duplicates"
    assert dup.groups == [[1, 101, 102], [2, 103]]
    assert dup.fix_ids == [101, 102, 103]
    assert dup.example_ids == [1, 2, 101, 102, 103]
    assert flag_codes(report, 102) == ["duplicate"]
    assert report.flags[102][0].detail == "Exact copy of #1"
    assert "near_duplicate" not in codes(report)  # exact copies are not reported twice
    assert "all_clear" not in codes(report)
    assert finding(report, "count_draft").title.startswith("30 good examples")


def test_near_duplicates() -> None:
    """A copy with one word changed is a near duplicate, not an exact one."""
    data = clean(30, heldout=5)
    words = data[3].output.split()
    data.append(replace(data[3], id=200, output=" ".join([*words[:10], "changed", *words[11:]])))
    report = analyse(data, 2048)
    near = finding(report, "near_duplicate")
    assert (near.groups, near.fix_ids, near.fix) == ([[4, 200]], [200], "exclude_duplicates")
    assert near.title == "1 example is nearly the same as another"
    assert "duplicate" not in codes(report)
    assert flag_codes(report, 4) == ["near_duplicate"]


def test_leakage_flags_heldout_and_fix_targets_train_copy() -> None:
    """A held-out example copied in train is leakage (not a duplicate); the fix excludes the train copy."""
    data = clean(30, heldout=5)
    heldout = data[-1]
    data.append(replace(heldout, id=300, split="train"))
    report = analyse(data, 2048)
    leak = finding(report, "leakage")
    assert (leak.severity, leak.fix, leak.example_ids, leak.fix_ids) == (
        "error",
        "move_to_train",
        [30],
        [300],
    )
    assert leak.title == "1 held-out example is also in training"
    assert flag_codes(report, 30) == ["leakage"]
    assert report.flags[30][0].detail == "Also in training as #300"
    assert 300 not in report.flags
    assert "duplicate" not in codes(report)
    assert report.findings[0].code == "leakage"  # errors first
    # Applying the fix (excluding the train copy) clears it.
    fixed = [replace(r, included=False) if r.id == 300 else r for r in data]
    assert "leakage" not in codes(analyse(fixed, 2048))


def test_output_checks() -> None:
    """Empty, short (except classify) and same-as-input outputs get their flags and findings."""
    data = clean(20, heldout=5)
    data += [
        fresh(401, input="Some input", output="  "),
        fresh(402, output="Done, see attached."),
        fresh(403, kind="classify", output="Billing"),
        fresh(404, input="Please send the Q3 figures.", output="please send the q3 figures"),
    ]
    report = analyse(data, 2048)
    assert flag_codes(report, 401) == ["empty_output"]
    assert flag_codes(report, 402) == ["short_output"]
    assert report.flags[402][0].detail == "3 words in the output"
    assert 403 not in report.flags
    assert "same_as_input" in flag_codes(report, 404)
    assert (finding(report, "empty_output").severity, finding(report, "empty_output").fix) == (
        "error",
        "exclude",
    )
    assert finding(report, "short_output").fix is None
    assert finding(report, "same_as_input").fix_ids == [404]


def test_too_long_with_counts_and_estimate() -> None:
    """Stored token counts plus the chat template's 32 decide; without counts the character estimate
    does, said as 'About'."""
    data = clean(20, heldout=5)
    data += [
        fresh(501, prompt_tokens=1500, output_tokens=600),
        fresh(502, prompt_tokens=1000, output_tokens=1016),  # 2,048 with the template: fits exactly
        fresh(503, prompt_tokens=None, output_tokens=None, output="word " * 2000),
        fresh(504, prompt_tokens=1000, output_tokens=1017),  # one token over once the template is counted
    ]
    report = analyse(data, 2048)
    too_long = finding(report, "too_long")
    assert too_long.example_ids == [501, 503, 504]
    assert too_long.title == "3 examples are longer than 2,048 tokens"
    assert report.flags[501][0].detail == "2,132 tokens with the chat template; the model reads at most 2,048"
    assert report.flags[503][0].detail.startswith("About 2,5")  # ~10,130 characters / 4
    assert "Split them" in too_long.explanation
    # Another model's template adds another amount.
    assert finding(analyse(data, 2048, template_tokens=0), "too_long").example_ids == [501, 503]


def test_pii_flag_and_fix() -> None:
    """Personal data in any field is flagged with what was found; the fix redacts those examples."""
    data = clean(20, heldout=5)
    data.append(
        replace(
            data[0], id=601, input="From jane@example.com", output=data[0].output + " Call 020 7946 0958."
        )
    )
    data.append(fresh(602, input="Invoice INV-2024-0042 of 2024-11-03, order 123-456-7890"))
    report = analyse(data, 2048)
    pii = finding(report, "pii")
    assert (pii.example_ids, pii.fix, pii.fix_ids) == ([601], "redact_pii", [601])
    assert report.flags[601][0].detail == "1 email address, 1 phone number"
    assert 602 not in report.flags


def test_split_findings() -> None:
    """No held-out, too few held-out and nothing left to train each offer the automatic split."""
    assert finding(analyse(clean(30), 2048), "no_heldout").fix == "auto_split"
    few = finding(analyse(clean(30, heldout=2), 2048), "few_heldout")
    assert (few.fix, few.title) == ("auto_split", "Only 2 examples are held out; 5 or more recommended")
    assert finding(analyse(clean(30, heldout=30), 2048), "no_train").severity == "error"
    # Below ten examples the automatic split holds out fewer than five on purpose: no nagging.
    assert "few_heldout" not in codes(analyse(clean(8, heldout=1), 2048))
    assert codes(analyse([], 2048)) == ["no_examples"]


def test_excluded_examples_are_ignored() -> None:
    """Excluded examples get no flags and do not make included ones duplicates."""
    data = clean(20, heldout=5)
    data += [replace(data[0], id=701, included=False), replace(data[0], id=702, included=False, output="")]
    report = analyse(data, 2048)
    assert report.flags == {}
    assert "all_clear" in codes(report)


def test_findings_sorted_by_severity_and_flags_are_known() -> None:
    """Errors come before warnings before info/ok; every flag code has a label."""
    data = clean(30, heldout=3)
    data += [
        replace(data[0], id=801, output=""),
        replace(data[1], id=802),
        replace(data[-1], id=803, split="train"),
    ]
    report = analyse(data, 2048)
    ranks = [SEVERITIES.index(f.severity) for f in report.findings]
    assert ranks == sorted(ranks)
    assert {flag.code for flags in report.flags.values() for flag in flags} <= set(FLAG_LABELS)
    assert {"empty_output", "duplicate", "leakage", "few_heldout"} <= set(codes(report))
