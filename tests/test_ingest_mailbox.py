"""Mailboxes read as a stream, headers read safely, charset labels second-guessed."""

import io
from pathlib import Path

from app.ingest.charsets import decode_labelled
from app.ingest.email import header_text, parse_message
from app.ingest.headers import MAX_SUBJECT_CHARS, decode_words
from app.ingest.mailbox import iter_raw_messages, parse_mbox, read_messages, read_slice
from app.ingest.registry import parse_file
from tests import hostile_files as hostile
from tests.hostile_files import mbox_message, small_limits


def mailbox(count: int) -> bytes:
    """A mailbox of `count` plain messages, "Order 1" to "Order <count>"."""
    return b"".join(mbox_message(n, f"Order {n}", f"Please send order {n}.") for n in range(1, count + 1))


def decode(data: bytes, charset: str | None) -> str:
    """Text of bytes in a declared charset, as headers are decoded."""
    return decode_labelled(data, charset)[0]


def test_reading_from_a_recorded_offset_gives_the_same_messages(tmp_path: Path) -> None:
    """Each message's end offset is where the next read starts: slices join up without gaps or repeats."""
    path = tmp_path / "box.mbox"
    path.write_bytes(b"\r\n\r\n" + mailbox(5))
    limits = small_limits()
    with open(path, "rb") as handle:
        whole = list(read_messages(handle, 0, 0, limits))
        assert [m.number for m in whole] == [1, 2, 3, 4, 5]
        resumed = list(iter_raw_messages(handle, whole[1].end, 2, limits))
    assert resumed == whole[2:]
    assert whole[-1].end == path.stat().st_size


def test_slices_of_one_message_each_give_what_one_pass_gives(tmp_path: Path) -> None:
    """read_slice with no time left reads one message per slice; joined, they equal parse_mbox."""
    data = mailbox(4)
    path = tmp_path / "box.mbox"
    path.write_bytes(data)
    limits = small_limits()
    offset, number, outputs, slices = 0, 0, [], 0
    while True:
        events = list(read_slice(str(path), "box.mbox", limits, offset, number, 0.0))
        slices += 1
        outputs += [e[1].example.output for e in events if e[0] == "message"]
        _, offset, number, finished, truncated = events[-1]
        if finished:
            break
    assert slices == 5 and not truncated  # four messages, then a slice that finds the end
    assert outputs == [e.output for e in parse_mbox("box.mbox", data, limits).examples]


def test_the_message_cap_is_a_setting_and_the_user_is_told(tmp_path: Path) -> None:
    """Past max_mailbox_messages the mailbox stops, and the result says so."""
    path = tmp_path / "box.mbox"
    path.write_bytes(mailbox(3))
    events = list(read_slice(str(path), "box.mbox", small_limits(max_mailbox_messages=2), 0, 0, 60.0))
    assert events[-1] == ("end", events[-2][1].end, 2, True, True)
    parsed = parse_file("box.mbox", mailbox(3), small_limits(max_mailbox_messages=2))[0]
    assert parsed.warnings[-1].startswith("Only the first 2 messages were read.")


def test_an_oversized_message_or_line_is_skipped_and_never_kept() -> None:
    """A message over the per-file limit, or with an endless line, is read past; the others are used."""
    data = mailbox(1) + mbox_message(2, "Huge", "x" * 3000) + mbox_message(3, "Long line", "y" * 20_000)
    data += mbox_message(4, "Fine", "Still read.")
    limits = small_limits(max_file_bytes=2000, max_line_chars=10_000)
    raws = list(read_messages(io.BytesIO(data), 0, 0, limits))
    assert [(r.number, r.data == b"", r.problem) for r in raws] == [
        (1, False, None),
        (2, True, "it is larger than 0 MB"),  # 2,000 bytes
        (3, True, "it has a line longer than 10,000 characters"),
        (4, False, None),
    ]
    limits = small_limits(max_line_chars=10_000)
    parsed = parse_mbox("box.mbox", data, limits)
    assert [e.source_ref for e in parsed.examples] == ["message 1", "message 2", "message 4"]
    assert parsed.warnings == [
        "message 3: could not be read (it has a line longer than 10,000 characters) — skipped"
    ]


def test_a_lone_email_saved_as_mbox_is_read_as_one_message() -> None:
    """A file that does not start with a "From " line is one message."""
    raw = mbox_message(1, "Alone", "Just one.").split(b"\r\n", 1)[1]
    parsed = parse_file("single.mbox", raw, small_limits())[0]
    assert [e.output for e in parsed.examples] == ["Just one."]


def test_a_program_renamed_mbox_is_refused() -> None:
    """The first bytes decide: a Windows program is not a mailbox."""
    [parsed] = parse_file("inbox.mbox", b"MZ\x90\x00\x03" + b"\x00" * 200, small_limits())
    assert "Windows program" in parsed.error


def test_a_2_mb_encoded_subject_becomes_a_short_instruction() -> None:
    """Every other message of the hostile mailbox is read; its 2 MB subject is cut with an ellipsis."""
    name, data = hostile.mbox_long_subjects(messages=16)
    parsed = parse_file(name, data, small_limits())[0]
    assert len(parsed.examples) == 16 and parsed.warnings == []
    hostile_example = parsed.examples[7]
    assert hostile_example.instruction.startswith("Write an email: Café Café")
    assert hostile_example.instruction.endswith("…")
    assert len(hostile_example.instruction) <= len("Write an email: ") + MAX_SUBJECT_CHARS


def test_a_header_of_a_million_encoded_words_is_read_capped() -> None:
    """About 22 MB of encoded words: capped before decoding, so it reads like any email."""
    name, data = hostile.email_million_encoded_words()
    [parsed] = parse_file(name, data, small_limits(max_file_bytes=64 * hostile.MB))
    [example] = parsed.examples
    assert example.output == "The body is short."
    assert example.instruction.endswith("Café…") or example.instruction.endswith("…")


def test_encoded_words_are_joined_as_rfc_2047_says() -> None:
    """Spaces between words go, a character split across two words survives, bad words stay as text."""
    assert decode_words("=?utf-8?q?Caf=C3?= =?utf-8?q?=A9?= au lait", decode) == "Café au lait"
    assert decode_words("a =?iso-8859-1?q?=E9t=E9?= b", decode) == "a été b"
    assert decode_words("=?utf-8?b?bm90IGJhc2U2NA?= x", decode) == "not base64 x"  # missing padding
    assert decode_words("=?utf-8?x?nope?= stays", decode) == "=?utf-8?x?nope?= stays"
    assert decode_words("=?koi8-r?B?4czGwdfJ1Ao=?=", decode) == "Алфавит\n"


def test_raw_8bit_headers_are_decoded_not_mangled() -> None:
    """A UTF-8 subject sent without encoded words (8-bit headers) reads as UTF-8."""
    message = parse_message("Subject: Grüße aus Köln\r\nFrom: a@b.c\r\n\r\nHallo.\r\n".encode())
    assert header_text(message, "Subject") == "Grüße aus Köln"


def test_a_lying_charset_label_is_second_guessed() -> None:
    """UTF-8 labelled GB2312 reads as UTF-8; Windows-1251 labelled UTF-8 is detected; true labels stand."""
    chinese = "你好，我们下周一见。"
    assert decode_labelled(chinese.encode("utf-8"), "gb2312") == (chinese, None)
    assert decode_labelled(chinese.encode("gb2312"), "gb2312") == (chinese, None)
    russian = "Добрый день, высылаю счёт за март."
    text, note = decode_labelled(russian.encode("cp1251"), "utf-8")
    assert text == russian and note == "its text was not valid utf-8, so it was read as cp1251"
    assert decode_labelled("Café – naïve".encode("cp1252"), None) == ("Café – naïve", None)
    assert decode_labelled("Grüße, ça va".encode("cp1252"), "iso-8859-1") == ("Grüße, ça va", None)


def test_a_legacy_text_file_is_read_in_its_detected_encoding() -> None:
    """A .txt that is not UTF-8 is read in the encoding detection names, and the user is told which."""
    text = "Отчёт за первый квартал\n\nПродажи выросли на пять процентов, расходы остались в рамках плана.\n"
    [parsed] = parse_file("otchet.txt", text.encode("cp1251"), small_limits())
    assert "Продажи выросли на пять процентов" in parsed.examples[0].output
    told = "The file is not UTF-8, so it was decoded as Windows-1251 (Cyrillic);"
    assert parsed.warnings[0].startswith(told)
