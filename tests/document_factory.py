"""Write small but real documents for tests: PDFs by hand, Word files with python-docx.

pypdf can copy and encrypt a PDF but cannot typeset text, so :func:`write_pdf` writes the file
itself: one content stream per page in the standard Helvetica font (every PDF reader has it, so
nothing is embedded), an optional picture instead of text, and a cross-reference table whose byte
offsets are computed as the objects are written. Import it as ``from tests.document_factory import
...`` (see ``tests/gguf_factory.py`` for why that works).
"""

from __future__ import annotations

from pathlib import Path

import docx
from pypdf import PdfReader, PdfWriter

_PAGE_WIDTH, _PAGE_HEIGHT = 612, 792  # US Letter, in points


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252), the encoding we declare for Helvetica."""
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _text_stream(lines: list[str]) -> bytes:
    ops = [b"BT", b"/F1 12 Tf", b"14 TL", b"72 720 Td"]
    for line in lines:
        ops += [_pdf_string(line) + b" Tj", b"T*"]
    return b"\n".join(ops + [b"ET"])


def write_pdf(path: Path, pages: list[list[str] | None], *, title: str | None = None) -> Path:
    """Write a PDF with one page per item: a list of text lines, or None for a page holding only a
    picture (as a scanner makes: no text layer)."""
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def add_stream(dictionary: bytes, data: bytes) -> int:
        return add(b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")

    catalog = add(b"")  # filled in once the page tree's number is known
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    image = add_stream(b"/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray "
                       b"/BitsPerComponent 8", b"\x00\xff\xff\x00")
    page_tree = len(objects) + 2 * len(pages) + 1
    kids = []
    for lines in pages:
        content = (_text_stream(lines) if lines is not None
                   else b"q 300 0 0 300 150 300 cm /Im1 Do Q")
        stream = add_stream(b"", content)
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << /Font "
                        b"<< /F1 %d 0 R >> /XObject << /Im1 %d 0 R >> >> /Contents %d 0 R >>"
                        % (page_tree, _PAGE_WIDTH, _PAGE_HEIGHT, font, image, stream)))
    assert add(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % kid for kid in kids)
               + b"] /Count %d >>" % len(kids)) == page_tree
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % page_tree
    info = add(b"<< /Title " + _pdf_string(title) + b" >>") if title is not None else None

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # the binary comment marks the file as binary
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    out += (b" /Info %d 0 R" % info if info else b"") + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path


def encrypt_pdf(source: Path, target: Path, *, user_password: str, algorithm: str = "RC4-128") -> Path:
    """A copy of ``source`` encrypted with ``algorithm`` ("RC4-128", "AES-128", "AES-256"). An empty
    ``user_password`` makes a PDF anyone can open but only the owner may edit."""
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    with target.open("wb") as handle:
        writer.write(handle)
    return target


def write_docx(path: Path, *, title: str | None, paragraphs: list[str],
               table: list[list[str]] | None = None, sections: dict[str, list[str]] | None = None) -> Path:
    """A Word document: a Title paragraph, body paragraphs, then each of ``sections`` as a
    Heading 1 paragraph and its body paragraphs, then a table if given."""
    document = docx.Document()
    if title is not None:
        document.add_heading(title, level=0)
    for text in paragraphs:
        document.add_paragraph(text)
    for heading, body in (sections or {}).items():
        document.add_heading(heading, level=1)
        for text in body:
            document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table):
            for cell, value in zip(row.cells, values):
                cell.text = value
    document.save(path)
    return path


def write_town_notes(folder: Path) -> Path:
    """Two small notes in ``folder`` (created): ``light.txt`` names the lighthouse keeper,
    ``bakery.md`` (under a heading) the bakery's bread day; the documents tests ask about them."""
    folder.mkdir(parents=True)
    (folder / "light.txt").write_text("Notes on the lighthouse.\n\nThe lighthouse keeper is called Agnes "
                                      "Moreau. She has kept the light since 1998.\n", encoding="utf-8")
    (folder / "bakery.md").write_text("# Bakery\n\nThe bakery on Mill Lane sells rye bread on Fridays.\n",
                                      encoding="utf-8")
    return folder
