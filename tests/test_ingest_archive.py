"""Zip archives and the registry: members, bomb guards, unsafe names, unknown formats, the safety net."""

import io
import os
import re
import struct
import zipfile
from email.message import EmailMessage

import pytest

from app.ingest import registry
from app.ingest.registry import parse_file
from app.ingest.types import ParsedFile
from tests import hostile_files as hostile
from tests.hostile_files import MB, small_limits

BOMB_ADVICE = (
    "This is how 'zip bombs' look. Unpack it on your computer, check its contents and upload the files you "
    "need instead."
)


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    """A deflated zip of (name, content) members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members:
            zf.writestr(name, content)
    return buffer.getvalue()


def test_each_member_is_parsed_on_its_own_and_junk_is_skipped() -> None:
    """Each member is parsed on its own and junk is skipped."""
    mail = EmailMessage()
    mail["From"], mail["Subject"] = "a@example.com", "Welcome"
    mail.set_content("Welcome aboard.")
    data = zip_of(
        [
            ("bundle/notes.txt", b"Team notes\n\nShip on Friday."),
            ("bundle/pairs.csv", b"prompt,completion\nSay hi,Hi!\n"),
            ("bundle/mail/welcome.eml", mail.as_bytes()),
            ("bundle/empty/", b""),
            ("__MACOSX/bundle/._notes.txt", b"\x00\x05\x16\x07"),
            ("bundle/.hidden.txt", b"secret"),
            ("bundle/Thumbs.db", b"\x00\x01"),
        ]
    )
    parsed = parse_file("bundle.zip", data, small_limits())
    by_name = {p.filename: p for p in parsed}
    assert list(by_name) == [
        "bundle.zip/bundle/notes.txt",
        "bundle.zip/bundle/pairs.csv",
        "bundle.zip/bundle/mail/welcome.eml",
    ]
    assert [p.format for p in parsed] == ["txt", "csv", "eml"]
    assert all(p.error is None for p in parsed)
    assert by_name["bundle.zip/bundle/notes.txt"].examples[0].instruction == "Write the report: Team notes"
    assert by_name["bundle.zip/bundle/notes.txt"].data == b"Team notes\n\nShip on Friday."
    assert by_name["bundle.zip/bundle/pairs.csv"].examples[0].output == "Hi!"
    assert by_name["bundle.zip/bundle/mail/welcome.eml"].examples[0].output == "Welcome aboard."


def test_a_zip_bomb_is_refused_as_a_whole() -> None:
    """A zip bomb is refused as a whole."""
    [parsed] = parse_file(*hostile.zip_bomb_ratio(), small_limits())
    assert parsed.filename == "bomb.zip" and parsed.format == "zip" and parsed.examples == []
    detail = "'zeros.txt' expands more than 100 times its packed size"
    assert parsed.error == f"bomb.zip cannot be opened safely: {detail}. {BOMB_ADVICE}"


def test_too_many_entries_are_refused() -> None:
    """Too many entries are refused."""
    [parsed] = parse_file(*hostile.zip_many_entries(51), small_limits())
    assert (
        parsed.error
        == f"many.zip cannot be opened safely: it holds 51 entries, more than the 50 allowed. {BOMB_ADVICE}"
    )


def test_declared_total_size_is_checked() -> None:
    """Declared total size is checked."""
    data = zip_of([(f"part{i}.txt", os.urandom(400_000)) for i in range(3)])
    [parsed] = parse_file("big.zip", data, small_limits(max_archive_expanded_bytes=MB))
    detail = "it would expand to 1.1 MB, more than the 1 MB allowed"
    assert parsed.error == f"big.zip cannot be opened safely: {detail}. {BOMB_ADVICE}"


def test_declared_sizes_are_not_trusted() -> None:
    # The headers claim 10 bytes; the stored data is longer, so its checksum cannot match what is read.
    """Declared sizes are not trusted."""
    data = bytearray(zip_of([("liar.txt", b"x" * 1000)]))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("liar.txt")
    for match in re.finditer(rb"PK\x01\x02", data):
        struct.pack_into("<I", data, match.start() + 24, 10)
    for match in re.finditer(rb"PK\x03\x04", data):
        struct.pack_into("<I", data, match.start() + 22, 10)
    assert info.file_size == 1000
    [parsed] = parse_file("liar.zip", bytes(data), small_limits())
    assert parsed.filename == "liar.zip/liar.txt"
    assert parsed.error.startswith("liar.zip/liar.txt is damaged inside the archive (BadZipFile)")


def test_a_member_over_the_file_size_limit_is_refused_alone() -> None:
    # Hex text packs about 2:1: the archive itself stays under the limit, its member does not.
    """A member over the file size limit is refused alone."""
    data = zip_of([("large.txt", os.urandom(150_000).hex().encode()), ("small.txt", b"Small note\n\nFine.")])
    large, small = parse_file("mixed.zip", data, small_limits(max_file_bytes=200_000))
    assert large.error == (
        "mixed.zip/large.txt is larger than 0.19 MB, the limit for one file (it is 0.29 MB). Split it into "
        "smaller files, or ask your administrator to raise the limit."
    )
    assert small.error is None and small.examples[0].output == "Small note\n\nFine."


def test_path_traversal_names_are_shown_cleaned() -> None:
    """Path traversal names are shown cleaned."""
    parsed = parse_file(*hostile.zip_traversal(), small_limits())
    assert [p.filename for p in parsed] == [
        "traversal.zip/etc/passwd.txt",
        "traversal.zip/abs/report.txt",
        "traversal.zip/windows/evil.txt",
        "traversal.zip/ctrl[31mname.txt",
    ]
    for member in parsed:
        assert member.error is None and member.examples
        assert ".." not in member.filename and "\\" not in member.filename and "\x1b" not in member.filename
        assert member.warnings[0].startswith("Its name in the archive was not a safe path")


def test_a_zip_inside_a_zip_is_refused_and_its_siblings_are_read() -> None:
    """A zip inside a zip is refused and its siblings are read."""
    inner, top = parse_file(*hostile.zip_nested(), small_limits())
    assert inner.filename == "outer.zip/inner.zip"
    assert inner.error == (
        "outer.zip/inner.zip is a zip inside a zip; Lastmile opens one level only. Unpack the inner archive "
        "and upload it (or its files) separately."
    )
    assert top.error is None and top.examples[0].output == "Top note\n\nReadable."


def test_an_encrypted_member_is_refused_with_a_clear_message() -> None:
    """An encrypted member is refused with a clear message."""
    [member] = parse_file(*hostile.zip_encrypted_member(), small_limits())
    assert member.error == (
        "locked.zip/secret.txt is password protected inside the archive. Create the archive again without a "
        "password (or upload the file itself)."
    )


def test_broken_and_empty_archives_are_refused() -> None:
    """Broken and empty archives are refused."""
    [parsed] = parse_file("broken.zip", b"PK\x03\x04 not really a zip", small_limits())
    assert parsed.error == (
        "broken.zip is not a valid zip archive (it may be damaged or only partly downloaded). Create the "
        "archive again and upload it."
    )
    [parsed] = parse_file("junk.zip", zip_of([("__MACOSX/x", b"1"), (".DS_Store", b"2")]), small_limits())
    assert parsed.filename == "junk.zip"
    assert parsed.error.startswith("junk.zip holds no files Lastmile can read")


def test_unknown_extensions_are_refused_with_the_list_of_formats() -> None:
    """Unknown extensions are refused with the list of formats."""
    [parsed] = parse_file("budget.xlsx", b"PK\x03\x04", small_limits())
    assert parsed.error == (
        "Lastmile reads .txt, .md, .docx, .pdf, .eml, .msg, .mbox, .csv, .json, .jsonl and .zip files; "
        "budget.xlsx is a .xlsx file. Save it in one of these formats."
    )
    [parsed] = parse_file("README", b"text", small_limits())
    assert parsed.error.endswith("README is a file without an extension. Save it in one of these formats.")


def test_oversize_files_are_refused_naming_the_limit() -> None:
    """Oversize files are refused naming the limit."""
    [parsed] = parse_file("huge.txt", b"a\n" * (3 * MB), small_limits())
    assert parsed.error == (
        "huge.txt is 6 MB, more than the 5 MB allowed for one file. Split it into smaller files, or ask your "
        "administrator to raise the limit."
    )


def test_unexpected_parser_errors_become_the_files_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected parser error becomes the file's error."""

    def explode(filename: str, data: bytes, limits: object, mapping: object) -> ParsedFile:
        """A parser with a bug."""
        raise RuntimeError("index out of range in table 3")

    monkeypatch.setitem(registry.PARSERS, "txt", explode)
    [parsed] = parse_file("notes.txt", b"Hello", small_limits())
    assert parsed.error == (
        "We could not read notes.txt: index out of range in table 3. Try opening it in the program that made "
        "it and saving it again, or export it as .txt or .pdf, then upload it again."
    )


def test_no_hostile_file_raises_out_of_parse_file() -> None:
    """No hostile file raises out of parse_file: each comes back parsed or refused."""
    generators = hostile.generators()
    assert len(generators) >= 20
    for generate in generators:
        filename, data = generate()
        for parsed in parse_file(filename, data, small_limits()):
            assert parsed.error or parsed.examples, filename
            # A refusal names the file it is about and ends as a sentence.
            assert parsed.error is None or (parsed.filename in parsed.error and parsed.error.endswith(".")), (
                parsed.error
            )
