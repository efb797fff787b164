"""The pure measures of app/evaluation and the document rendering: no database, no model."""

import math

import pytest

from app.evaluation.house_terms import document_frequency, house_terms, terms_of
from app.evaluation.similarity import chrf, length_ratio
from app.evaluation.task_scores import label_matches, parse_json, score_extraction
from app.evaluation.win_rate import WinRate, wilson_interval, win_rate
from app.evaluation.word_diff import changed_pieces
from app.rendering import render_document


def test_chrf_is_100_for_the_same_text_and_falls_with_distance():
    reference = "Dear client, the container left Rotterdam this morning and arrives on Friday."
    assert chrf(reference, reference) == 100.0
    close = chrf("Dear client, the container left Rotterdam today and arrives Friday.", reference)
    far = chrf("Hello! I hope this email finds you well. Best regards, [Your Name]", reference)
    assert 60 < close < 100 and far < 25 and close > far
    assert chrf("", reference) == 0.0 and chrf("", "") == 100.0


def test_length_ratio_counts_words_not_punctuation():
    assert length_ratio("one two three four", "one, two!") == 2.0
    assert length_ratio("anything", "  ") is None


@pytest.mark.parametrize(
    ("draft", "reference", "same"),
    [
        ("Billing", "billing", True),
        ("Billing.\nThe customer was charged twice.", "Billing", True),
        ("  damage  ", "Damage", True),
        ("Delay", "Damage", False),
        ("", "", False),
    ],
)
def test_labels_match_ignoring_case_punctuation_and_explanations(draft, reference, same):
    assert label_matches(draft, reference) is same


def test_extraction_scores_valid_json_and_each_field():
    reference = '{"origin": "Venlo, Netherlands", "pallets": 12, "pickup_date": "2026-04-14", "cold": false}'
    perfect = score_extraction('```json\n{"origin": "venlo netherlands", "pallets": 12.0, '
                               '"pickup_date": "2026-04-14", "cold": false}\n```', reference)  # fmt: skip
    assert (perfect.valid_json, perfect.fields_right, perfect.fields_total) == (True, 4, 4)
    partial = score_extraction('{"origin": "Venlo", "pallets": "12", "cold": 0, "extra": 1}', reference)
    assert (partial.valid_json, partial.fields_right, partial.fields_total) == (True, 0, 4)
    broken = score_extraction('{"origin": "Venlo, Netherlands", "pallets": 12', reference)
    assert (broken.valid_json, broken.fields_right) == (False, 0)
    # A plain-text reference is one field: the whole answer must match.
    assert score_extraction("Rotterdam", "rotterdam").fields_right == 1
    assert parse_json("not json") == (False, None)


def test_house_terms_are_frequent_in_training_and_rare_in_base_drafts():
    train = [
        "Dear client, the Brightwater Promise covers the delay. Kind regards, Brightwater Client Care",
        "Thanks for the forecast. Your ShipSure tracking shows it. Kind regards, Brightwater Client Care",
        "The Brightwater Promise applies. Kind regards, Brightwater Client Care",
        "We moved the booking to Tuesday. Kind regards, Brightwater Client Care",
    ]
    base = [
        "Hello! I hope this email finds you well. The delay is regrettable. Best regards, [Your Name]"
    ] * 3
    adapted = [
        "Dear client, the Brightwater Promise covers it. Kind regards, Brightwater Client Care",
        "Kind regards, Brightwater Client Care",
        "Thank you for the delay report.",
    ]
    found = {t.term: t for t in house_terms(document_frequency(train), base, adapted)}
    assert found["brightwater client care"].train_share == 1.0
    assert (found["brightwater client care"].base_uses, found["brightwater client care"].adapted_uses) == (
        0,
        2,
    )
    assert found["brightwater promise"].adapted_uses == 1
    assert "kind regards" in found
    # "delay" is in the base drafts, "brightwater" alone is covered by its phrases, stopwords never count.
    assert "delay" not in found and "brightwater" not in found and "the" not in found
    # Phrases stay within a clause: nothing spans "covers the delay. Kind regards".
    assert not any("delay kind" in term for term in terms_of(train[0]))
    assert house_terms(document_frequency(train), [], adapted) == []


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(7, 10)
    assert math.isclose(low, 0.3968, abs_tol=1e-4) and math.isclose(high, 0.8922, abs_tol=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and math.isclose(high, 0.2775, abs_tol=1e-4)


def test_win_rate_counts_ties_half_and_leaves_both_bad_out():
    rate = win_rate({"adapted": 6, "base": 2, "same": 2, "both_bad": 3})
    assert (rate.judged, rate.total, rate.rate) == (10, 13, 0.7)
    assert rate.sentence() == (
        "Adapted preferred in 70% of 10 judgements (95% confidence interval 40–89%). 3 marked both bad."
    )
    assert rate.verdict() == "Not clear yet: more judgements needed"
    assert win_rate({"adapted": 20}).verdict() == "Adapted is better"
    assert win_rate({"base": 20}).verdict() == "Base is better"
    assert WinRate().sentence() == "No judgements yet." and WinRate().rate is None


def test_changed_pieces_marks_words_the_reference_lacks():
    draft = ["Dear", "client,", "the", "parcel", "arrives", "Friday", "—", "sorry!"]
    reference = ["Dear", "client,", "the", "container", "arrives", "on", "Friday."]
    flags = dict(zip(draft, changed_pieces(draft, reference), strict=True))
    assert flags == {
        "Dear": False, "client,": False, "the": False, "parcel": True, "arrives": False,
        "Friday": False, "—": False, "sorry!": True,
    }  # fmt: skip


def test_documents_render_as_documents_and_never_as_markup():
    report = "# Monthly report\n\n- 42 consignments\n- 2 claims\n\nKind regards,\nDaan"
    html = render_document(report, "draft")
    assert "<h1>Monthly report</h1>" in html and "<li>42 consignments</li>" in html
    # An email keeps its lines.
    assert "Kind regards,<br />\nDaan" in html
    hostile = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) ![i](x.png)"
    for kind in ("draft", "classify", "extract"):
        out = render_document(hostile, kind, reference="Dear client")
        assert "<script>" not in out and "<img" not in out and "href" not in out
        assert "&lt;script&gt;" in out
    marked = render_document("Dear client, the parcel left.", "draft", "Dear client, the container left.")
    assert '<mark class="diff">parcel</mark>' in marked and '<mark class="diff">left.</mark>' not in marked
    extraction = render_document('{"pallets": 12}', "extract")
    assert "&quot;pallets&quot;: 12" in extraction and "doc-plain" in extraction
