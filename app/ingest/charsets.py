"""Which text encoding some bytes are in: a label is believed when the bytes agree, otherwise detected.

Labels lie in both directions: mail programs send UTF-8 labelled GB2312 or Latin-1, and Windows-1252
labelled Latin-1. Valid UTF-8 beyond ASCII is almost never anything else, so it wins over any
single-byte or legacy label; bytes that fit no label are given to charset-normalizer, restricted to
the legacy encodings people really send and biased to the most common of near-equal guesses (on its
own it calls short Western text Central European and short Japanese Korean).
"""

import codecs

from charset_normalizer import from_bytes

# Labels whose bytes say nothing reliable: the bytes decide.
UNDECLARED = frozenset({"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "default", "unknown"})
# What browsers (the WHATWG Encoding Standard) read these labels as: the superset senders really use.
SUPERSETS = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "l1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252", "windows-1252": "cp1252",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "chinese": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "korean": "cp949",
    "big5": "big5hkscs", "iso-8859-8-i": "iso-8859-8", "iso-8859-9": "cp1254", "tis-620": "cp874",
    "iso-8859-11": "cp874",
}  # fmt: skip
# Labels where valid UTF-8 is a legitimate reading of other text (ASCII with NULs): never overridden.
WIDE = ("utf-16", "utf-32", "utf_16", "utf_32")
# The legacy encodings detection chooses from, most used first (near-equal guesses go to the earlier).
LEGACY = (
    "cp1252", "cp1251", "cp932", "gb18030", "big5", "euc_jp", "cp1250", "iso8859_2", "koi8_r", "cp1253",
    "cp1254", "cp1255", "cp1256", "cp1257", "cp949", "cp874", "iso8859_7",
)  # fmt: skip
# Guesses whose "chaos" (charset-normalizer's measure of implausible text) is this close count as equal.
NEAR_TIE = 0.02
DETECT_SAMPLE_BYTES = 64 * 1024


def codec_for(label: str | None) -> str | None:
    """Python's codec for a charset label (through SUPERSETS); None when unknown or not a text encoding."""
    name = (label or "").strip().strip("\"'").lower()
    name = SUPERSETS.get(name, name)
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # "base64", "zlib", "rot13"… are codecs too, but not text encodings.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def as_utf8(data: bytes) -> str | None:
    """`data` as UTF-8 when it is valid UTF-8, else None."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def mostly_utf8(data: bytes) -> bool:
    """Whether `data` has at least as many valid multi-byte UTF-8 characters as bytes that are not UTF-8."""
    escaped = data.decode("utf-8", errors="surrogateescape")
    bad = sum(1 for ch in escaped if "\udc80" <= ch <= "\udcff")
    good = sum(1 for ch in escaped if ch > "\x7f" and not "\udc80" <= ch <= "\udcff")
    return good >= bad


def guess_charset(data: bytes) -> str | None:
    """The legacy encoding `data` (not UTF-8) is most likely in, or None when nothing fits."""
    sample = data[:DETECT_SAMPLE_BYTES]
    if len(data) > DETECT_SAMPLE_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n")]  # never cut a multi-byte character in two
    matches = list(from_bytes(sample, cp_isolation=list(LEGACY)))
    if not matches:
        return None
    best = min(match.chaos for match in matches)
    near = {
        encoding
        for match in matches
        if match.chaos <= best + NEAR_TIE
        for encoding in (match.encoding, *match.could_be_from_charset)
    }
    return next((name for name in LEGACY if name in near), matches[0].encoding)


def decode_labelled(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Text from bytes with a declared charset (maybe none, maybe wrong); a note when it was guessed."""
    codec = codec_for(label)
    if data.isascii():
        # 7-bit encodings (ISO-2022-JP, HZ, UTF-7) are ASCII bytes too: their label still decides.
        try:
            return data.decode(codec or "ascii"), None
        except UnicodeDecodeError:
            return data.decode("ascii"), None
    utf8 = as_utf8(data)
    if utf8 is not None and not (codec or "").startswith(WIDE):
        return utf8, None
    shown = (label or "").strip().lower()
    if codec is not None:
        try:
            return data.decode(codec), None
        except UnicodeDecodeError:
            pass
        if codec == "utf-8" and mostly_utf8(data):  # a few damaged bytes, not another encoding
            note = f"some characters were not valid {shown} and show as �"
            return data.decode(codec, errors="replace"), note
    guess = guess_charset(data)
    if guess is not None:
        note = None if codec is None else f"its text was not valid {shown}, so it was read as {guess}"
        return data.decode(guess, errors="replace"), note
    fallback = codec or "cp1252"
    return data.decode(fallback, errors="replace"), f"some characters were not valid {fallback} and show as �"
