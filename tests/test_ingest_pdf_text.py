"""PDF page text made fit to learn from: ligatures, line-end hyphenation, contents pages, page furniture."""

from app.ingest.pdf_text import clean_pages, clean_text, join_hyphenated

WORDS = {"mixed", "mode", "type", "specialized", "financial", "without"}


def known(word: str) -> bool:
    """A small stand-in for the model's vocabulary."""
    return word in WORDS


def test_ligatures_are_spelled_out() -> None:
    """ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ become their letters."""
    assert clean_text("diﬀerent ﬁnal ﬂow eﬃcient baﬄe ﬅ ﬆ") == "different final flow efficient baffle st st"


def test_words_broken_at_a_line_end_are_joined() -> None:
    """The common case: a word hyphenated by the typesetter is one word again, the line joined up."""
    assert join_hyphenated("more difficult to com-\npile than") == "more difficult to compile than"
    assert join_hyphenated("the fi-\nnancial year") == "the financial year"
    # A soft hyphen always marks a break inside a word, and stray ones are dropped.
    assert join_hyphenated("in\u00ad\ncluding titles, re\u00adport") == "including titles, report"


def test_real_compounds_keep_their_hyphen() -> None:
    """A hyphen stays when the document, the word list or the compound's shape says it belongs there."""
    assert join_hyphenated("a well-\nknown firm") == "a well-known firm"
    assert join_hyphenated("self-\ncontained, non-\nexperts") == "self-contained, non-experts"
    assert join_hyphenated("state-of-the-\nart tools") == "state-of-the-art tools"
    assert join_hyphenated("send an e-\nmail, a 3-\nfold rise") == "send an e-mail, a 3-fold rise"
    # The document writes the compound with its hyphen elsewhere.
    assert join_hyphenated("cross-border trade and more cross-\nborder trade").endswith("cross-border trade")
    # Two known words that do not make one: a compound ("mixed-mode"); a known joined word wins ("without").
    text = "a mixed-\nmode approach, type-\nspecialized traces, with-\nout delay"
    assert join_hyphenated(text, known) == "a mixed-mode approach, type-specialized traces, without delay"
    # The document's own spelling decides when the word list does not know the word.
    assert join_hyphenated("Lorem adip-\niscing elit, adipiscing") == "Lorem adipiscing elit, adipiscing"


def test_a_capital_after_the_hyphen_is_not_joined() -> None:
    """'Anglo-\\nSaxon' is a compound of names, not a broken word."""
    assert join_hyphenated("Anglo-\nSaxon law") == "Anglo-\nSaxon law"


def test_contents_pages_are_dropped() -> None:
    """Dot-leader entries go wherever they are; a 'Contents' heading goes with the numbered lines after it."""
    dotted = "Contents\nAbstract . . . . . . . . . 3\n1 Introduction . . . . . . . 11\nReal text starts here."
    assert clean_pages([dotted]) == ["Real text starts here."]
    plain = "Table of Contents\n1 Foo 2\n2 Bar 2\n3 Baz 4\n1 Foo\nHello, here is some text."
    assert clean_pages([plain]) == ["1 Foo\nHello, here is some text."]
    german = "Inhaltsverzeichnis\n1. Einleitung .............. 1\nText der Einleitung."
    assert clean_pages([german]) == ["Text der Einleitung."]
    # A heading called Contents followed by prose stays.
    assert clean_pages(["Contents\nThe box holds two bottles."]) == ["Contents\nThe box holds two bottles."]


def test_running_headers_footers_and_page_numbers_are_dropped() -> None:
    """A line at the top or bottom of most pages (numbers aside) is page furniture; so is a bare number."""
    pages = [
        f"ACME Annual Report 2024\nChapter text {n} goes on.\nMore of page {n}.\nPage {n} of 4"
        for n in range(1, 5)
    ]
    assert clean_pages(pages) == [
        "ACME Annual Report 2024\nChapter text 1 goes on.\nMore of page 1.",  # the title on page one stays
        "Chapter text 2 goes on.\nMore of page 2.",
        "Chapter text 3 goes on.\nMore of page 3.",
        "Chapter text 4 goes on.\nMore of page 4.",
    ]
    assert clean_pages(["Text of a one-page memo.\n- 7 -"]) == ["Text of a one-page memo."]
    # A header under a page number is found too.
    numbered = [f"{n}\nQuarterly review\nBody of page {n}, with its own words." for n in range(2, 6)]
    assert [page.split()[0] for page in clean_pages(numbered)] == ["Quarterly", "Body", "Body", "Body"]
