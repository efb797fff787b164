"""Tests for text normalisation and the content hash."""

from app.curation.normalise import content_hash, normalise_text


def test_normalise_collapses_whitespace_and_case() -> None:
    """Runs of spaces, tabs, newlines and non-breaking spaces become one space; case is folded."""
    assert normalise_text("  Dear\u00a0Ms  SMITH,\n\n\tThanks ") == "dear ms smith, thanks"


def test_content_hash_ignores_whitespace_and_case_only() -> None:
    """Same words with other spacing/case hash alike; a changed word or punctuation does not."""
    base = content_hash("Write the report", "Q3", "Revenue rose by 10%.")
    assert base == content_hash("write  the REPORT", " q3\n", "Revenue rose\nby 10%.")
    assert base != content_hash("Write the report", "Q3", "Revenue rose by 11%.")
    assert base != content_hash("Write the report", "Q3", "Revenue rose by 10%")
    assert len(base) == 64 and int(base, 16) >= 0


def test_content_hash_keeps_field_boundaries() -> None:
    """Moving text from one field to another gives a different hash."""
    assert content_hash("ab", "c", "d") != content_hash("a", "bc", "d")
    assert content_hash("", "text", "") != content_hash("", "", "text")
