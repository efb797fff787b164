"""Which words of a draft differ from the reference: a word-level diff for highlighting."""

from difflib import SequenceMatcher

from app.curation.duplicates import words_of


def word_key(piece: str) -> str:
    """What a whitespace-separated piece is compared by: casefolded, punctuation removed ('' for '—')."""
    return " ".join(words_of(piece))


def changed_pieces(draft_pieces: list[str], reference_pieces: list[str]) -> list[bool]:
    """For each piece of the draft, whether it is new or changed against the reference.

    Punctuation-only pieces are never marked; "Friday," matches "friday".
    """
    draft_keys = [word_key(piece) for piece in draft_pieces]
    positions = [i for i, key in enumerate(draft_keys) if key]
    reference_keys = [key for key in (word_key(piece) for piece in reference_pieces) if key]
    matcher = SequenceMatcher(None, reference_keys, [draft_keys[i] for i in positions], autojunk=False)
    changed = [False] * len(draft_pieces)
    for tag, _, _, start, end in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            for index in positions[start:end]:
                changed[index] = True
    return changed
