"""The repetition guard and the answer shapes on real token sequences (the bundled model's tokenizer): loops
of every kind the issue names are cut back to before they began, and real business writing with repeated
structure is never cut."""

from functools import cache

import pytest

from bench.ingest_accuracy import CORPUS, LABEL_SUFFIX, labels, parse_like_worker
from tests.test_training_real_model import SMOLLM2, sample_examples
from worker.generation.decoding import RowState
from worker.generation.engine import TRAILING
from worker.generation.repetition import LoopGuard
from worker.generation.shapes import (
    COMPLETE,
    FREE,
    JSON,
    LINE,
    REPEATED,
    AnswerPlan,
    JsonWatch,
    LineWatch,
    finish,
    length_budget,
    plan_answers,
    shape_for,
    watch,
)

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# (what the model wrote before looping, the loop the model would go on with forever, what the draft keeps)
LOOPS = {
    "a sentence over and over": (
        "Bonjour Camille,\n\nCordialement, ",
        "Merchants of the Lumière. " * 12,
        "Bonjour Camille,\n\nCordialement, Merchants of the Lumière.",
    ),
    "two items alternating": (
        "The lanes we serve most are ",
        "Rotterdam, Hamburg, " * 15,
        "The lanes we serve most are Rotterdam, Hamburg",
    ),
    "alternating items with a separator and a label": (
        "Status: ",
        "; ".join(["delayed", "on time"] * 15),
        "Status: delayed; on time",
    ),
    "a numbered list alternating": (
        "Our depots:\n",
        "".join(f"{i}. {'Rotterdam' if i % 2 else 'Hamburg'}\n" for i in range(1, 40)),
        "Our depots:\n1. Rotterdam\n2. Hamburg",
    ),
    "a sentence with one word changed": (
        "Dear Anna,\n\nThank you for your message. ",
        " ".join(f"We will ship the order on {day}." for day in WEEKDAYS * 3),
        "Dear Anna,\n\nThank you for your message. We will ship the order on Monday",
    ),
    # The cycle's rounds run " Name]\n[Your Company" from the line before: the cut keeps whole lines.
    "a sign-off block": (
        "Thank you for your patience.\n\nBest regards,\n\n[Your Name]\n",
        "[Your Company Name]\n" * 20,
        "Thank you for your patience.\n\nBest regards,\n\n[Your Name]",
    ),
}

REPORT = """Monthly report: Verdi & Co Grocers, March 2026

Summary
Brightwater client care moved 64 loads for Verdi & Co in March, 61 of them on time (95 %). Two incidents
cost a day each; neither touched the cold chain.

Lanes
- Rotterdam cold store – Milan: 28 loads, 27 on time, average transit 31 hours.
- Rotterdam cold store – Turin: 14 loads, 14 on time, average transit 29 hours.
- Antwerp – Milan: 12 loads, 11 on time, average transit 33 hours.
- Venlo – Bologna: 10 loads, 9 on time, average transit 30 hours.

Temperature
- Every reefer load stayed between 2 and 6 degrees.
- Two data loggers failed to upload; the readings were recovered by hand.

Incidents
- 12 March: one truck held 5 hours at the Brenner because of snow.
- 19 March: one pallet of mozzarella damaged at loading in Rotterdam; claim BWC-2291 settled.
- 27 March: late collection at Antwerp (driver sick); delivered the next morning.

Kind regards,
Brightwater client care"""
TABLE = """Hi Giulia,

Here are last week's numbers per lane:

| Lane | Loads | On time | Damage |
|---|---|---|---|
| Rotterdam – Milan | 28 | 27 | 0 |
| Rotterdam – Turin | 14 | 14 | 0 |
| Antwerp – Milan | 12 | 11 | 1 |
| Venlo – Bologna | 10 | 9 | 0 |
| Hamburg – Munich | 9 | 9 | 0 |
| Ghent – Lyon | 7 | 6 | 0 |

Best regards,
Anna"""
INVOICES = """Dear Erik,

These invoices are still open on your account:
- BWI-11930: 1,240.00 EUR, issued 14 March, due 13 April.
- BWI-11931: 860.50 EUR, issued 14 March, due 13 April.
- BWI-11958: 2,115.75 EUR, issued 21 March, due 20 April.
- BWI-11977: 430.00 EUR, issued 28 March, due 27 April.
- BWI-11990: 1,005.20 EUR, issued 31 March, due 30 April.

Could you confirm the payment dates?"""
AGENDA = "Agenda, Thursday 9 April\n\n" + "\n".join(
    f"{time} {item}"
    for time, item in [
        ("09:00", "Welcome"), ("09:15", "Volumes in Q1 against forecast"), ("09:45", "On-time per lane"),
        ("10:15", "Damage claims"), ("10:45", "Coffee"), ("11:00", "Christmas peak: capacity and slots"),
        ("11:45", "Saturday deliveries"), ("12:15", "Actions and owners"), ("12:30", "Lunch"),
    ]
)  # fmt: skip
RECORDS = """[
  {"origin": "Venlo, Netherlands", "destination": "Bristol, UK", "pallets": 12, "date": "2026-04-14"},
  {"origin": "Rotterdam, Netherlands", "destination": "Milan, Italy", "pallets": 8, "date": "2026-03-09"},
  {"origin": "Eindhoven, Netherlands", "destination": "Lyon, France", "pallets": 3, "date": "2026-03-24"},
  {"origin": "Antwerp, Belgium", "destination": "Leeds, UK", "pallets": 14, "date": "2026-03-30"}
]"""
BOOKING_LOOP = (
    '{"origin": "Venlo, Netherlands", "destination": "Bristol, United Kingdom", "pallets": 12, '
    '"pickup_date": "2026-04-14", "origin": "Rotterdam, Netherlands", "destination": "Milan, Italy", '
    '"pallets": 8, "origin": "Eindhoven, Netherlands"'
)


@cache
def tokenizer():
    """The bundled model's tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(SMOLLM2))


def ids(text: str) -> list[int]:
    """`text` in the bundled model's tokens."""
    return tokenizer()(text, add_special_tokens=False)["input_ids"]


def piece(token: int) -> str:
    """One token's text."""
    return tokenizer().decode([token])


def guard_cuts(text: str) -> bool:
    """Whether the guard, fed `text` token by token as the decoding loop feeds it, sees a loop in it."""
    guard = LoopGuard()
    return any(guard.feed(token, "\n" in piece(token)) for token in ids(text)) or guard.settle()


def write(tokens: list[int], limit: int = 10_000, shape: str = FREE) -> tuple[str, str]:
    """(text kept, stop reason) of a draft that would go on with `tokens`, as the decoding loop keeps it."""
    state = RowState(limit, watch(shape), LoopGuard(), [])
    for token in tokens:
        stop = state.step(token, False, piece)
        if stop:
            return tokenizer().decode(state.kept(stop, piece)), stop
    return tokenizer().decode(state.tokens), "eos"


@pytest.mark.parametrize("name", LOOPS)
def test_a_loop_is_cut_back_to_before_its_second_round(name: str):
    before, loop, kept = LOOPS[name]
    text, stop = write(ids(before + loop))
    assert stop == "repetition"
    assert text.rstrip(TRAILING) == kept  # the engine drops the first round's last separator


@pytest.mark.parametrize("name", LOOPS)
def test_a_loop_that_reaches_the_length_limit_is_cut_too(name: str):
    before, loop, _kept = LOOPS[name]
    tokens = ids(before + loop)
    # The limit falls soon after the loop began (three or four rounds): too early for some of the full spans.
    limit = len(ids(before)) + 36
    text, stop = write(tokens, limit=limit)
    assert stop == "repetition" and len(text) < len(tokenizer().decode(tokens[:limit]))
    assert not guard_cuts(text)  # what is kept does not end in a loop, even by the shorter spans


@pytest.mark.parametrize("text", [REPORT, TABLE, INVOICES, AGENDA, RECORDS])
def test_business_writing_with_repeated_structure_is_never_cut(text: str):
    assert not guard_cuts(text)


FIGURES = (
    "## Performance this month\n\n- Consignments delivered: 15 (14.9%)\n"
    "- Inventory in the warehouse: 100 (15.9%)\n- Brightwater Promise credits: 100 (15.9%)\n"
)


def test_a_line_written_twice_in_a_row_is_cut_after_its_first_copy():
    # What an adapted monthly report did (bench.quality): the list's last line again, then the report went on.
    text, stop = write(ids(FIGURES + "- Brightwater Promise credits: 100 (15.9%)\n\n## Exceptions\n\nNone."))
    assert stop == "repetition" and text.rstrip() == FIGURES.rstrip()


def test_a_draft_that_loops_from_its_first_word_keeps_its_first_round():
    # A tiny or broken model's draft: one word-like cycle from the start; cutting back to the word's start
    # would leave nothing to show.
    text, stop = write(ids("KhKh" * 30))
    assert stop == "repetition" and text and "KhKhKhKhKh" not in text


def test_short_lines_and_blank_lines_may_repeat():
    text = "Thanks,\nThanks,\n\n\n\nYes.\nYes.\n" + FIGURES
    assert write(ids(text)) == (text, "eos") and not guard_cuts(text)


@pytest.mark.slow
def test_no_answer_in_the_sample_data_is_cut():
    answers = [example.output for examples in sample_examples().values() for example in examples]
    assert len(answers) > 40
    for answer in answers:
        assert not guard_cuts(answer), answer[:80]


# pypdf's pdflatex-outline.pdf prints one blind-text paragraph under every heading: a passage written again
# word for word, which is what the guard is there to cut in a draft.
REPEATS_A_PASSAGE = {"pypi-pypdf-pdflatex-outline.pdf"}


@pytest.mark.slow
def test_no_text_of_the_real_corpus_is_cut():
    """Real writing from outside the project (tests/corpus: replies, quoted mail, reports, tables, change
    logs) is never taken for a loop, by any of the signs."""
    texts = [
        (path.name, text)
        for label in labels(CORPUS)
        for path in [label.with_name(label.name[: -len(LABEL_SUFFIX)])]
        for parsed in parse_like_worker(path)
        for example in parsed.examples
        for text in (example.input, example.output)
        if text.strip()
    ]
    assert len(texts) > 200
    assert {name for name, text in texts if guard_cuts(text)} == REPEATS_A_PASSAGE


def test_an_extraction_that_repeats_its_fields_is_cut_before_the_repeat():
    text, stop = write(ids(BOOKING_LOOP), shape=JSON)
    assert stop == "repetition"
    assert finish(text, JSON) == (
        '{"origin": "Venlo, Netherlands", "destination": "Bristol, United Kingdom", "pallets": 12, '
        '"pickup_date": "2026-04-14"'
    )
    # A whole object ends the draft where it closes; a code fence before it is dropped.
    answer = '```json\n{"origin": "Venlo", "note": "a } and a \\" inside"}\n```\nAnything after.'
    text, stop = write(ids(answer), shape=JSON)
    assert stop == "eos" and finish(text, JSON) == '{"origin": "Venlo", "note": "a } and a \\" inside"}'
    # Records in an array are not a loop: each object has its keys once.
    text, stop = write(ids(RECORDS + "\nMore text"), shape=JSON)
    assert stop == "eos" and finish(text, JSON) == RECORDS


def test_watchers_see_the_end_of_a_line_and_of_a_json_value():
    line = LineWatch()
    assert [line.feed(p) for p in ["\n", " Bill", "ing", "\n"]] == [None, None, None, COMPLETE]
    assert finish("\n  Billing\nThe ticket is about an invoice.", LINE) == "Billing"
    scanner = JsonWatch()
    assert scanner.feed('Here: {"a": [1, {"b": 2}], "c"') is None and scanner.feed("}") == COMPLETE
    repeat = JsonWatch()
    assert repeat.feed('{"a": 1, "b": {"a": 2}, "a"') == REPEATED
    assert repeat.cut == len('{"a": 1, "b": {"a": 2}')  # the comma before the repeated key
    assert finish('Here is the JSON: {"a": 1', JSON) == 'Here is the JSON: {"a": 1'  # a lead-in stays
    assert finish("As written.\n", FREE) == "As written.\n"


def test_the_task_kind_and_the_references_decide_the_shape_and_the_budget():
    assert shape_for("extract", ['{"a": 1}', '{"a": 2}']) == JSON
    assert shape_for("extract", ["origin: Venlo", "origin: Ghent"]) == LINE
    assert shape_for("classify", ["Billing", "Damage"]) == LINE
    assert shape_for("draft", ["Re: 2026 rates", "New dock slots in Milan"]) == LINE  # subject lines
    assert shape_for("draft", ["Dear Anna,\n\nThank you.", "Re: rates"]) == FREE
    assert shape_for("summarise", []) == FREE
    assert length_budget([40, 100, 60], bound=1024) == 150
    assert length_budget([2, 1], bound=1024) == 16 and length_budget([900], bound=512) == 512
    assert length_budget([], bound=256) == 256
    plans = plan_answers([("classify", "Billing"), ("draft", "Dear Anna,\n\n" + "word " * 99)], len, 1024)
    assert plans == {"classify": AnswerPlan(LINE, 16), "draft": AnswerPlan(FREE, 761)}
