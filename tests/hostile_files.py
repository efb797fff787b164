"""Generators of hostile and awkward uploads; each returns (filename, bytes), built in memory.

The PDF parser traps are in tests/hostile_pdf.py; write_long_line streams its file to disk.
"""

import codecs
import inspect
import io
import random
import re
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
from fpdf import FPDF

from app.ingest.types import Limits

MB = 1024 * 1024
# Functions here that are not no-argument generators of one file, or too big to loop over in memory.
NOT_GENERATORS = frozenset(
    {
        "generators",
        "small_limits",
        "docx_bytes",
        "pdf_bytes",
        "long_line_txt",
        "write_long_line",
        "encoded_words",
        "mbox_message",
    }
)


def generators() -> list[Callable[[], tuple[str, bytes]]]:
    """Every generator of a hostile file defined here."""
    return [
        function
        for name, function in inspect.getmembers(sys.modules[__name__], inspect.isfunction)
        if function.__module__ == __name__ and not name.startswith("_") and name not in NOT_GENERATORS
    ]


REPORT_TEXT = "Café report – naïve résumé. Costs rose by 5 € in Zürich; “quotes” too."


def small_limits(**overrides: int) -> Limits:
    """Limits small enough to keep the hostile files (and the tests) fast."""
    values = {
        "max_file_bytes": 5 * MB,
        "max_mailbox_bytes": 20 * MB,
        "max_mailbox_messages": 1000,
        "max_archive_entries": 50,
        "max_archive_expanded_bytes": 20 * MB,
        "max_archive_ratio": 100,
        "max_pdf_pages": 20,
        "max_csv_rows": 1000,
        "max_line_chars": 10_000,
        "max_example_chars": 5_000,
        "max_table_columns": 100,
    }
    values.update(overrides)
    return Limits(**values)


# --- text encodings -------------------------------------------------------------------------------


def cp1252_txt() -> tuple[str, bytes]:
    """A Windows-1252 text file (not valid UTF-8)."""
    return "legacy.txt", f"Quarterly note\n\n{REPORT_TEXT}\n".encode("cp1252")


def utf16_bom_txt() -> tuple[str, bytes]:
    """UTF-16 LE text with its byte order mark and Windows newlines."""
    return "utf16.txt", codecs.BOM_UTF16_LE + f"Quarterly note\r\n\r\n{REPORT_TEXT}\r\n".encode("utf-16-le")


def utf16_no_bom_txt() -> tuple[str, bytes]:
    """UTF-16 LE text without a byte order mark."""
    return "utf16-nobom.txt", f"Quarterly note\n\n{REPORT_TEXT}\n".encode("utf-16-le")


def bad_utf8_txt() -> tuple[str, bytes]:
    """UTF-8 text with a few invalid bytes in the middle."""
    return (
        "bad-bytes.txt",
        f"Quarterly note\n\n{REPORT_TEXT}\n".encode() + b"Broken \xff\xfe bytes \xc3( here.\n",
    )


def html_as_txt() -> tuple[str, bytes]:
    """A web page saved as .txt, with a script and a style that must not leak into the text."""
    page = (
        "<!DOCTYPE html><html><head><title>Ignored</title><style>body { color: red }</style>"
        "<script>alert('x')</script></head><body><h1>Annual Report</h1><p>Revenue grew by 4%.</p>"
        "<ul><li>Costs fell</li><li>Staff grew</li></ul></body></html>"
    )
    return "page.txt", page.encode()


def elf_as_txt() -> tuple[str, bytes]:
    """A Linux executable named .txt."""
    return "notes.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + bytes(range(256)) * 4


def exe_as_txt() -> tuple[str, bytes]:
    """A Windows executable (MZ header and DOS stub) named .txt."""
    header = (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + b"\x00" * 43 + b"\x80\x00\x00\x00"
    )
    return "readme.txt", header + b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 512


def long_line_txt(size: int = 50 * MB) -> tuple[str, bytes]:
    """One line of `size` characters (a data dump, or an attempt to make line processing slow)."""
    return "one-line.txt", b"a" * size


def empty_txt() -> tuple[str, bytes]:
    """An empty file."""
    return "empty.txt", b""


def write_long_line(path: Path, size: int = 500 * MB, chunk: int = 4 * MB) -> Path:
    """Write one line of `size` bytes to `path` a chunk at a time (never held in memory whole)."""
    block = b"a" * chunk
    with open(path, "wb") as out:
        for _ in range(size // chunk):
            out.write(block)
        out.write(block[: size % chunk])
    return path


# --- programs and web pages under document extensions ----------------------------------------------
# Each carries its own tail, so no two share bytes (a batch would report a twin as a duplicate).


def elf_as_pdf() -> tuple[str, bytes]:
    """A Linux executable named .pdf."""
    return "invoice.pdf", elf_as_txt()[1] + b"pdf"


def exe_as_docx() -> tuple[str, bytes]:
    """A Windows executable named .docx."""
    return "contract.docx", exe_as_txt()[1] + b"docx"


def exe_as_eml() -> tuple[str, bytes]:
    """A Windows executable named .eml."""
    return "message.eml", exe_as_txt()[1] + b"eml"


def elf_as_csv() -> tuple[str, bytes]:
    """A Linux executable named .csv."""
    return "table.csv", elf_as_txt()[1] + b"csv"


def elf_as_jsonl() -> tuple[str, bytes]:
    """A Linux executable named .jsonl."""
    return "rows.jsonl", elf_as_txt()[1] + b"jsonl"


def html_as_pdf() -> tuple[str, bytes]:
    """A web page named .pdf."""
    return "brochure.pdf", html_as_txt()[1].replace(b"Annual Report", b"Brochure")


def html_as_docx() -> tuple[str, bytes]:
    """A web page named .docx."""
    return "letter.docx", html_as_txt()[1].replace(b"Annual Report", b"Letter")


def html_as_eml() -> tuple[str, bytes]:
    """A web page named .eml (no email headers at all)."""
    return "newsletter.eml", html_as_txt()[1].replace(b"Annual Report", b"Newsletter")


def html_as_md() -> tuple[str, bytes]:
    """A web page named .md: read as text, its script and style left out."""
    return "notes.md", html_as_txt()[1].replace(b"Annual Report", b"Meeting notes")


# --- hostile upload names ---------------------------------------------------------------------------

# Names a browser (or a script) may send for an uploaded file: folders, traversal, drive letters,
# control and direction characters, markup, and one far too long. Raw bytes: sent as they are.
HOSTILE_NAMES = (
    b"../../../../etc/cron.d/lastmile.txt",
    b"..\\..\\Windows\\System32\\drivers.txt",
    b"C:\\Users\\ann\\Desktop\\report.txt",
    b"/etc/passwd.txt",
    b"nul\x00byte.txt",
    b"esc\x1b[2J\x07bell.txt",
    b"tab\tand\x7fdelete.txt",
    "right-to-left\u202etxt.exe.txt".encode(),
    b"<img src=x onerror=alert(1)>.txt",
    b"." * 300 + b".txt",
    b"..",
)


# --- JSON and email -------------------------------------------------------------------------------


def deep_json(depth: int = 100_000) -> tuple[str, bytes]:
    """Arrays nested `depth` levels deep (deep enough to overflow a recursive parser)."""
    return "deep.json", b"[" * depth + b"]" * depth


def nested_json(depth: int = 60) -> tuple[str, bytes]:
    """A list holding one example whose output is nested `depth` levels deep (parses, but too deep)."""
    inner = "[" * depth + "1" + "]" * depth
    return "nested.json", f'[{{"instruction": "x", "output": {inner}}}]'.encode()


def csv_wide(columns: int = 1_000_000) -> tuple[str, bytes]:
    """A CSV of `columns` columns, all named "a" (a quadratic trap for naive name de-duplication)."""
    return "wide.csv", b"a," * (columns - 1) + b"a\n" + b"x," * (columns - 1) + b"x\n"


def email_many_parts(parts: int = 10_000) -> tuple[str, bytes]:
    """A multipart email of `parts` parts; the first holds the text."""
    chunks = [
        "From: Ann <ann@example.com>\nTo: Bo <bo@example.com>\nSubject: Many parts\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="B"\n\n',
        "--B\nContent-Type: text/plain; charset=utf-8\n\nThe first part holds the message.\n",
    ]
    chunks += [f"--B\nContent-Type: text/plain\n\npart {i}\n" for i in range(1, parts)]
    chunks.append("--B--\n")
    return "many-parts.eml", "".join(chunks).encode()


def email_deep_nesting(depth: int = 3000) -> tuple[str, bytes]:
    """Multipart parts nested `depth` levels deep (overflows a recursive MIME parser)."""
    head = "From: a@example.com\nSubject: Deep\nMIME-Version: 1.0\n"
    nesting = "".join(f'Content-Type: multipart/mixed; boundary="B{i}"\n\n--B{i}\n' for i in range(depth))
    return "deep.eml", (head + nesting + "Content-Type: text/plain\n\nInnermost.\n").encode()


def encoded_words(count: int, word: str = "=?utf-8?q?Caf=C3=A9_?=", per_line: int = 6) -> str:
    """`count` RFC 2047 encoded words, folded a few to a line as mail programs fold long headers."""
    lines = [" ".join([word] * per_line) for _ in range(count // per_line)]
    return "\r\n ".join(lines)


def mbox_message(number: int, subject: str, body: str) -> bytes:
    """One message of a mailbox, with its "From " envelope line."""
    return (
        f"From sender{number}@example.com Mon Mar  3 10:00:00 2025\r\nFrom: Sender {number} "
        f"<sender{number}@example.com>\r\nTo: team@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{number}@example.com>\r\n\r\n{body}\r\n\r\n"
    ).encode()


def mbox_long_subjects(messages: int = 40, hostile_every: int = 8) -> tuple[str, bytes]:
    """A mailbox where every `hostile_every`-th subject is 2 MB of encoded words (decoding was quadratic)."""
    long_subject = encoded_words(2 * MB // 22)
    parts = [
        mbox_message(n, long_subject if n % hostile_every == 0 else f"Order {n}", f"Please send order {n}.")
        for n in range(1, messages + 1)
    ]
    return "long-subjects.mbox", b"".join(parts)


def email_million_encoded_words() -> tuple[str, bytes]:
    """An email whose Subject holds a million encoded words (about 22 MB of header)."""
    head = f"From: Ann <ann@example.com>\r\nTo: bo@example.com\r\nSubject: {encoded_words(1_000_000)}\r\n"
    return "million-words.eml", (head + "\r\nThe body is short.\r\n").encode()


# --- archives -------------------------------------------------------------------------------------


def _zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive holding `members` (name, content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, content in members:
            zf.writestr(zipfile.ZipInfo(name), content, compress_type=method)
    return buffer.getvalue()


def zip_bomb_ratio(size: int = 10 * MB) -> tuple[str, bytes]:
    """One member of `size` zero bytes: it packs about 1000:1."""
    return "bomb.zip", _zip([("zeros.txt", b"\x00" * size)])


def zip_overlapping_bomb(entries: int = 600, size: int = MB) -> tuple[str, bytes]:
    """`entries` directory records that all point at one member of `size` random bytes: no entry packs
    suspiciously well, yet together they expand to entries × size."""
    single = _zip([("noise.txt", random.Random(7).randbytes(size))], zipfile.ZIP_STORED)
    cd_start = single.index(b"PK\x01\x02")
    eocd_start = single.index(b"PK\x05\x06")
    record = single[cd_start:eocd_start]
    name_length = struct.unpack_from("<H", record, 28)[0]
    records = b"".join(
        record[:28] + struct.pack("<H", len(name)) + record[30:46] + name + record[46 + name_length :]
        for name in (b"noise-%04d.txt" % i for i in range(entries))
    )
    eocd = bytearray(single[eocd_start:])
    struct.pack_into("<HHII", eocd, 8, entries, entries, len(records), cd_start)
    return "overlap.zip", single[:cd_start] + records + bytes(eocd)


def zip_many_entries(count: int = 51) -> tuple[str, bytes]:
    """An archive of `count` tiny files."""
    return "many.zip", _zip([(f"note-{i}.txt", f"Note {i}".encode()) for i in range(count)])


def zip_traversal() -> tuple[str, bytes]:
    """Members whose names try to escape a folder, plus junk that must be skipped."""
    members = [
        ("../../etc/passwd.txt", b"Root note\n\nNot really a password file."),
        ("/abs/report.txt", b"Absolute report\n\nAbsolute paths are cleaned."),
        ("..\\..\\windows\\evil.txt", b"Windows report\n\nBackslashes are cleaned."),
        ("ctrl\x1b[31m\x07name.txt", b"Control report\n\nControl characters are removed."),
        ("__MACOSX/._report.txt", b"\x00\x05\x16\x07resource fork"),
        (".DS_Store", b"\x00\x00\x00\x01Bud1"),
        ("folder/", b""),
    ]
    return "traversal.zip", _zip(members)


def zip_nested() -> tuple[str, bytes]:
    """A zip holding another zip and a readable file."""
    inner = _zip([("inside.txt", b"Inner note\n\nHidden one level down.")])
    return "outer.zip", _zip([("inner.zip", inner), ("top.txt", b"Top note\n\nReadable.")])


def zip_encrypted_member() -> tuple[str, bytes]:
    """A zip whose only member is marked encrypted (traditional PKWARE encryption flag)."""
    data = bytearray(_zip([("secret.txt", b"Secret note\n\nNobody reads this.")], zipfile.ZIP_STORED))
    for match in re.finditer(rb"PK\x03\x04", data):
        struct.pack_into("<H", data, match.start() + 6, 0x1)
    for match in re.finditer(rb"PK\x01\x02", data):
        struct.pack_into("<H", data, match.start() + 8, 0x1)
    return "locked.zip", bytes(data)


# --- Word and PDF ---------------------------------------------------------------------------------


def docx_bytes(title: str = "Plain report", body: str = "All is well.") -> bytes:
    """A small, valid Word document."""
    document = docx.Document()
    document.add_heading(title, 1)
    document.add_paragraph(body)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _replace_parts(data: bytes, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> bytes:
    """A copy of the package `data` with some parts replaced and others added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, content in (add or {}).items():
            dst.writestr(name, content)
    return out.getvalue()


def docx_bomb(padding: int = 10 * MB) -> tuple[str, bytes]:
    """A .docx whose document.xml is padded with whitespace after its root element (packs ~1000:1)."""
    data = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        document = zf.read("word/document.xml")
    return "bomb.docx", _replace_parts(data, {"word/document.xml": document + b" " * padding})


def _with_doctype(document: bytes) -> bytes:
    """document.xml with a "billion laughs" DOCTYPE and an entity reference in its text."""
    body = document.split(b"?>", 1)[1] if document.startswith(b"<?xml") else document
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    doctype = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE w:document [<!ENTITY lol0 "lol">{entities}]>'
    )
    return doctype.encode() + body.replace(b"All is well.", b"&lol9;")


def docx_doctype() -> tuple[str, bytes]:
    """A .docx whose document.xml declares entities (billion laughs)."""
    data = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        document = zf.read("word/document.xml")
    return "entities.docx", _replace_parts(data, {"word/document.xml": _with_doctype(document)})


def docx_doctype_utf16() -> tuple[str, bytes]:
    """The same DOCTYPE, hidden in a UTF-16 encoded part (a byte scan for "<!DOCTYPE" misses it)."""
    data = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        document = zf.read("word/document.xml")
    xml = _with_doctype(document).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return "entities16.docx", _replace_parts(
        data, {"word/document.xml": codecs.BOM_UTF16_LE + xml.encode("utf-16-le")}
    )


def docx_external_entity() -> tuple[str, bytes]:
    """A .docx whose document.xml pulls in a local file through an external entity (XXE)."""
    data = docx_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        document = zf.read("word/document.xml")
    body = document.split(b"?>", 1)[1]
    doctype = b'<?xml version="1.0"?>\n<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return "xxe.docx", _replace_parts(
        data, {"word/document.xml": doctype + body.replace(b"All is well.", b"&xxe;")}
    )


def docx_macro() -> tuple[str, bytes]:
    """A .docx that carries a VBA project (macros)."""
    return "macro.docx", _replace_parts(docx_bytes(), {}, {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0 macros"})


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    """A PDF with one page of text per item of `pages`."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def pdf_broken_xref() -> tuple[str, bytes]:
    """A PDF whose cross-reference table and startxref offset point to the wrong places."""
    data = pdf_bytes(["Recovered report\n\nThe xref table of this file is broken."])
    data = re.sub(rb"startxref\s+\d+", b"startxref\n999999", data)
    data = re.sub(rb"(\d{10}) 00000 n", lambda m: b"%010d 00000 n" % (int(m.group(1)) + 7), data)
    return "broken-xref.pdf", data


def pdf_damaged() -> tuple[str, bytes]:
    """A file that starts like a PDF and then holds nothing readable."""
    return "damaged.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def pdf_encrypted() -> tuple[str, bytes]:
    """A PDF that needs a password to open."""
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password="open-sesame")
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Secret report")
    return "locked.pdf", bytes(pdf.output())


def pdf_images_only() -> tuple[str, bytes]:
    """A PDF whose only page is a picture (what a scanner produces)."""
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (200, 100), (200, 30, 30)).save(picture, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(picture, x=10, y=10, w=100)
    return "scan.pdf", bytes(pdf.output())


def pdf_many_pages(count: int = 21) -> tuple[str, bytes]:
    """A PDF of `count` short pages."""
    return "long.pdf", pdf_bytes([f"Page {i}" for i in range(1, count + 1)])
