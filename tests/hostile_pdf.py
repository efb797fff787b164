"""PDF parser traps, written byte by byte (no PDF library writes them); each returns (filename, bytes)."""

import struct
import zlib

MB = 1024 * 1024
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _content(text: str) -> bytes:
    """A page content stream that shows `text`."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    return b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"


def _page(parent: int, contents: bytes = b"4 0 R", font: int = 5) -> bytes:
    """A page object under the page tree `parent`."""
    return (
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %s "
        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (parent, contents, font)
    )


def _classic(objects: dict[int, bytes], root: int, trailer_extra: bytes = b"") -> bytes:
    """A PDF with a classic xref table; `trailer_extra` goes into the trailer ("/Prev ...")."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    start = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 %s \n" % (offsets.get(number, 0), b"n" if number in offsets else b"f")
    extra = trailer_extra.replace(b"{xref}", b"%d" % start)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (size, root, extra, start)
    return bytes(out)


def _one_page(text: str, pages_extra: bytes = b"") -> dict[int, bytes]:
    """Objects of a one-page document: catalog 1, page tree 2, page 3, content 4, font 5."""
    return {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R%s] /Count 1 >>" % pages_extra,
        3: _page(2),
        4: _content(text),
        5: FONT,
    }


def pdf_circular_xref() -> tuple[str, bytes]:
    """An xref section whose /Prev points back at itself (a reader that follows it loops forever)."""
    return "circular-xref.pdf", _classic(_one_page("Circular xref report"), 1, b"/Prev {xref} ")


def pdf_page_tree_cycle() -> tuple[str, bytes]:
    """A page tree whose /Kids lead back to itself through a second node."""
    objects = _one_page("Page tree cycle report", pages_extra=b" 6 0 R 2 0 R")
    objects[6] = b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 6 0 R] /Count 2 >>"
    return "page-cycle.pdf", _classic(objects, 1)


def pdf_100k_pages(count: int = 100_000, declared: int | None = None) -> tuple[str, bytes]:
    """`count` pages sharing one content stream (~16 MB); the tree may `declare` another count."""
    kids = b" ".join(b"%d 0 R" % (10 + i) for i in range(count))
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % (count if declared is None else declared),
        4: _content("Tiny page"),
        5: FONT,
    }
    page = _page(2)
    objects.update(dict.fromkeys(range(10, 10 + count), page))
    return ("pages-100k.pdf" if declared is None else "pages-lying.pdf"), _classic(objects, 1)


def pdf_page_count_lie() -> tuple[str, bytes]:
    """100,000 pages under a page tree that declares one (walking the tree takes pypdf ~30 s)."""
    return pdf_100k_pages(declared=1)


def pdf_flate_bomb(expanded: int = 100 * MB) -> tuple[str, bytes]:
    """A page whose content stream inflates from ~450 KB to `expanded` bytes."""
    packer = zlib.compressobj(1)  # fast to build; still past pypdf's own 75 MB cap
    chunk = b"0 0 m " * (MB // 6)
    packed = b"".join(packer.compress(chunk) for _ in range(expanded // len(chunk))) + packer.flush()
    objects = _one_page("Flate bomb report")
    objects[3] = _page(2, contents=b"[6 0 R 4 0 R]")
    objects[6] = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
    return "flate-bomb.pdf", _classic(objects, 1)


def _xref_stream_pdf(
    plain: dict[int, bytes], stream_objects: list[tuple[int, bytes]], root: int, n: int
) -> bytes:
    """A PDF whose `stream_objects` live in object stream 4 (declaring `n` objects), with an xref stream."""
    header, body = bytearray(), bytearray()
    for number, obj in stream_objects:
        header += b"%d %d " % (number, len(body))
        body += obj + b" "
    packed = zlib.compress(bytes(header + body))
    out = bytearray(b"%PDF-1.7\n")
    rows: dict[int, tuple[int, int, int]] = {0: (0, 0, 65535)}
    objstm = b"<< /Type /ObjStm /N %d /First %d /Length %d /Filter /FlateDecode >>\nstream\n" % (
        n,
        len(header),
        len(packed),
    )
    for number, obj in [*sorted(plain.items()), (4, objstm + packed + b"\nendstream")]:
        rows[number] = (1, len(out), 0)
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    for index, (number, _obj) in enumerate(stream_objects):
        rows[number] = (2, 4, index)
    xref = max(rows) + 1
    rows[xref] = (1, len(out), 0)
    table = zlib.compress(b"".join(struct.pack(">BII", *rows.get(i, (0, 0, 0))) for i in range(xref + 1)))
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 4] /Root %d 0 R /Length %d /Filter /FlateDecode >>\n"
        b"stream\n" % (xref, xref + 1, root, len(table))
    )
    out += table + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % rows[xref][1]
    return bytes(out)


def pdf_object_stream_count_lie() -> tuple[str, bytes]:
    """An object stream holding the catalog and page tree that declares 10 million objects."""
    objects = [(1, b"<< /Type /Catalog /Pages 2 0 R >>"), (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")]
    plain = {3: _page(2, contents=b"6 0 R"), 5: FONT, 6: _content("Object stream report")}
    return "objstm-10m.pdf", _xref_stream_pdf(plain, objects, 1, 10_000_000)


def pdf_huge_object_stream(filler: int = 150_000, pages: int = 100) -> tuple[str, bytes]:
    """One object stream of `filler` null objects with the catalog, page tree and pages at its end.

    pypdf before 7.1 scanned an object stream from its start for every object it looked up, so each page
    cost a pass over all the fillers: ~2 MB of file, minutes of CPU (7.1 reads it in about a second).
    """
    catalog, tree, first = filler + 10, filler + 11, filler + 12
    kids = b" ".join(b"%d 0 R" % (first + i) for i in range(pages))
    objects = [(10 + i, b"null") for i in range(filler)]
    objects += [
        (catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % tree),
        (tree, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages),
    ]
    objects += [(first + i, _page(tree, contents=b"6 0 R")) for i in range(pages)]
    plain = {5: FONT, 6: _content("Heavy object stream page")}
    return "objstm-heavy.pdf", _xref_stream_pdf(plain, objects, catalog, len(objects))


TRAPS = (
    pdf_circular_xref,
    pdf_page_tree_cycle,
    pdf_100k_pages,
    pdf_page_count_lie,
    pdf_flate_bomb,
    pdf_object_stream_count_lie,
    pdf_huge_object_stream,
)
