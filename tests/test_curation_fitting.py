"""Fitting long texts into the model's context: where texts are cut, that nothing is lost, and the budgets."""

from app.curation.fitting import Fit, numbered_parts, split_text
from app.curation.tokens import TokenCounter

ESTIMATE = TokenCounter()  # about 4 characters a token: budgets below are in those


def tokens(text: str) -> int:
    """The estimate's count of one text."""
    return ESTIMATE.count([text])[0]


def test_a_text_that_fits_stays_whole() -> None:
    """No cut when the text fits its budget."""
    assert split_text("Short report.\n\nTwo paragraphs.", 100, ESTIMATE, 10_000) == [
        "Short report.\n\nTwo paragraphs."
    ]


def test_headings_are_cut_first_then_paragraphs() -> None:
    """Top-level headings start parts; a section still too long is cut at its sub-headings, then
    paragraphs."""
    para = ("A paragraph of the report that says something useful. " * 4).strip()
    costs = f"# Costs\n\n{para}\n\n{para}"
    text = f"{costs}\n\n# Sales\n\n## North\n\n{para}\n\n{para}\n\n## South\n\n{para}\n\n{para}"
    parts = split_text(text, 150, ESTIMATE, 10_000)
    assert [p.split("\n")[0] for p in parts] == ["# Costs", "# Sales", "## South"]
    assert all(tokens(p) <= 150 for p in parts)
    assert "\n\n".join(parts) == text  # cut only between blocks: every character is kept


def test_a_paragraph_too_long_is_cut_at_lines_then_sentences_then_words() -> None:
    """Without blank lines the text is cut at sentences; a sentence with no end at words; nothing is lost."""
    sentences = " ".join(f"Sentence number {n} of the long paragraph ends here." for n in range(60))
    parts = split_text(sentences, 60, ESTIMATE, 10_000)
    assert len(parts) > 5 and all(tokens(p) <= 60 for p in parts)
    assert all(p.endswith("ends here.") for p in parts)  # cut after sentences, not inside them
    assert " ".join(parts) == sentences
    words = "word " * 400
    assert " ".join(split_text(words, 50, ESTIMATE, 10_000)) == words.strip()


def test_a_hash_comment_in_a_code_block_is_no_heading() -> None:
    """Lines starting with '#' inside fenced code are code, so the text is not cut there."""
    code = "```python\n# extract only text\nprint(page.extract_text())\n```"
    text = f"# Guide\n\nIntro.\n\n{code}\n\nAfter the code. " + "More words here. " * 30
    parts = split_text(text, 120, ESTIMATE, 10_000)
    assert any(code in part for part in parts)


def test_one_enormous_word_is_cut_by_characters_and_the_character_limit_holds() -> None:
    """A text with nowhere to cut (a pasted blob) is cut by characters; max_chars is a hard limit too."""
    blob = "x" * 5000
    parts = split_text(blob, 200, ESTIMATE, 10_000)
    assert "".join(parts) == blob and all(tokens(p) <= 200 for p in parts)
    limited = split_text("Some words. " * 300, 10_000, ESTIMATE, 1000)
    assert len(limited) > 3 and all(len(p) <= 1000 for p in limited)


def test_numbered_parts_fit_with_their_instruction_and_the_chat_template() -> None:
    """Each part's instruction says which part it is, and the whole rendered example fits the context."""
    fit = Fit(ESTIMATE, context_tokens=300, max_chars=100_000)
    output = "\n\n".join(
        f"Paragraph {n}: " + ("the shipment was delayed by weather. " * 6).strip() for n in range(12)
    )
    parts = numbered_parts(fit, "Write the report: Delays", "", output, "section: Delays")
    count = len(parts)
    assert count > 2
    assert parts[0].instruction == f"Write the report: Delays (part 1 of {count})"
    assert parts[-1].source_ref == f"section: Delays, part {count} of {count}"
    assert all(fit.tokens(p.instruction, p.input, p.output) <= 300 for p in parts)
    assert "\n\n".join(p.output for p in parts) == output
    assert numbered_parts(fit, "Write it", "", "Short.", "")[0].instruction == "Write it"


def test_fits_counts_the_template_and_a_margin() -> None:
    """An example fits when prompt + answer + chat template + margin stay within the context."""
    fit = Fit(ESTIMATE, context_tokens=100, max_chars=10_000)
    short = "a" * 4 * 40  # 40 tokens: with the 32 of the template and the margin of 16, 88 + prompt
    assert fit.fits("Go", "", short)
    assert not fit.fits("Go", "", short + "a" * 4 * 20)
    assert not Fit(ESTIMATE, 10_000, max_chars=100).fits("Go", "", "a" * 101)
