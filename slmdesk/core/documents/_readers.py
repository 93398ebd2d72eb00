"""The HTML, PDF and Word readers: a page, a PDF or a .docx file as the text a person reads.

Each depends on a parser (BeautifulSoup with lxml, pypdf, python-docx) that is imported only when a
file of its kind is read, and each knows the ways its format goes wrong (a password, a scanned PDF
without a text layer, an old .doc). They live apart from :mod:`slmdesk.core.documents.collect`, which
picks the reader for a file, because together they are longer than all the rest of document
reading; plain text and Markdown are in :mod:`slmdesk.core.documents._text`.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from typing import TYPE_CHECKING

from slmdesk.core.documents._text import (
    BOMS,
    MAX_CHARACTERS,
    MAX_HEADINGS,
    DocumentError,
    Extracted,
    decode_text,
    refuse_binary,
)

if TYPE_CHECKING:
    from bs4.element import PageElement
    from docx.table import _Row

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .doc files, and password-protected .docx


# --- HTML ----------------------------------------------------------------------------------------

_DROPPED_TAGS = frozenset("head script style noscript template nav svg iframe object canvas button select".split())
_PARAGRAPH_TAGS = frozenset(("p h1 h2 h3 h4 h5 h6 blockquote pre table ul ol dl figure hr section article "
                             "header footer main aside address details form fieldset").split())
_LINE_TAGS = frozenset("div li tr dt dd caption figcaption summary".split())
_HEADING_TAGS = frozenset("h1 h2 h3 h4 h5 h6".split())
# Noncharacters stand for breaks while the source's whitespace collapses; they never occur in text.
_PARAGRAPH, _BLOCK, _BREAK, _CELL, _SPACE, _TAB = "\ufdd0", "\ufdd1", "\ufdd2", "\ufdd3", "\ufdd4", "\ufdd5"
_BREAK_RUN = re.compile(" *[\ufdd0-\ufdd2][ \ufdd0-\ufdd2]*")
# Pages labelled with these are really windows-1252, as every browser reads them (WHATWG).
_HTML_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "ascii", "us-ascii"}


def read_html(data: bytes) -> Extracted:
    """The text a browser shows, without scripts, styles and navigation; blocks become paragraphs,
    list items ``- item`` lines, table rows ``cell | cell`` lines, and ``<pre>`` keeps its layout.
    The headings are ``<h1>`` to ``<h6>`` (one inside another counts once, as the outer one)."""
    import warnings

    from bs4 import (
        BeautifulSoup,
        CData,
        MarkupResemblesLocatorWarning,
        Tag,
    )
    from bs4.element import NavigableString

    # A page whose whole text is "notes.txt" or a URL makes bs4 warn that we passed a file name.
    warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
    text, encoding = _decode_html(data)
    # lxml (already installed for python-docx) parses ten times faster than the stdlib html.parser.
    soup = BeautifulSoup(text.replace("\r\n", "\n").replace("\r", "\n"), "lxml")
    # soup.title would search the whole page when it has no title; lxml puts <title> in <head>.
    head = (soup.find("html", recursive=False) or soup).find("head", recursive=False)
    title_tag = head.find("title") if head else None
    title, first_heading = title_tag.get_text(" ") if title_tag else "", ""
    # One walk with an explicit stack: editing the tree instead (inserting marks) costs time
    # quadratic in the number of siblings, and recursion fails on deeply nested pages.
    pieces: list[str] = []
    headings: list[str] = []
    in_pre = in_heading = 0
    stack: list[PageElement | tuple[str, str]] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):  # the end of an element opened below
            in_pre -= node[0] == "pre"
            in_heading -= node[0] in _HEADING_TAGS
            pieces.append(node[1])
        elif isinstance(node, Tag) and node.name not in _DROPPED_TAGS:
            if node.name == "br":
                pieces.append(_BREAK)
                continue
            mark = _PARAGRAPH if node.name in _PARAGRAPH_TAGS else _BLOCK if node.name in _LINE_TAGS else ""
            pieces.append(_CELL if node.name in ("td", "th") else mark + ("- " if node.name == "li" else ""))
            in_pre += node.name == "pre"
            if node.name in _HEADING_TAGS:
                # Only outer headings are read: their texts never overlap, so a page of headings
                # nested a thousand deep costs one pass, not a thousand.
                if not in_heading and len(headings) <= MAX_HEADINGS:
                    headings.append(node.get_text(""))
                in_heading += 1
            first_heading = first_heading or (node.get_text(" ") if node.name == "h1" else "")
            stack.append((node.name, mark))
            stack.extend(reversed(node.contents))
        elif isinstance(node, NavigableString) and type(node) in (NavigableString, CData):
            # exactly these two: not comments, doctypes, script bodies (their subclasses)
            pieces.append(node.replace("\n", _BREAK).replace(" ", _SPACE).replace("\t", _TAB) if in_pre else node)
    text = re.sub("[ \t\n\f\v]+", " ", "".join(pieces))  # the source's own line breaks mean nothing
    text = _BREAK_RUN.sub(lambda run: "\n\n" if _PARAGRAPH in run[0] or run[0].count(_BREAK) > 1 else "\n", text)
    text = re.sub(f" *{_CELL} *", " | ", re.sub(f"(^|\n) *{_CELL} *", r"\1", text))
    text = "\n".join(line.strip(" ") for line in text.split("\n"))
    text = text.replace(_SPACE, " ").replace(_TAB, "\t").replace("\u00a0", " ")
    return text, title or first_heading, encoding, None, headings


def _decode_html(data: bytes) -> tuple[str, str]:
    """A page's ``<meta charset>`` beats guessing and a byte-order mark beats both, as in browsers."""
    from bs4.dammit import EncodingDetector

    declared = (EncodingDetector.find_declared_encoding(data, is_html=True) or "").lower()
    if declared and not any(data.startswith(bom) for bom, _ in BOMS):
        declared = "cp1252" if declared in _HTML_AS_CP1252 else declared
        # A wrong label (unknown, or garbled into "utf\x00-8", which decode() takes for a
        # ValueError; the fuzz tests found it): guess instead.
        with contextlib.suppress(LookupError, UnicodeDecodeError, ValueError):
            text = data.decode(declared)
            refuse_binary(text)
            return text, codecs.lookup(declared).name
    return decode_text(data)


# --- PDF and Word ----------------------------------------------------------------------------------

def read_pdf(data: bytes) -> Extracted:
    pages, title, page_count = read_pdf_pages(data)
    return "\n\n".join(text for _, text in pages), title, None, page_count, []


def read_pdf_pages(data: bytes) -> tuple[list[tuple[int, str]], str, int]:
    """The PDF's pages that hold text, each with its number (from 1), its title and page count;
    the search index cites passages by page, so it keeps what :func:`read_pdf` joins."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    if b"%PDF-" not in data[:1024]:  # where the PDF standard allows the header to be
        raise DocumentError("The PDF is damaged: it does not start like a PDF file.",
                            f"first bytes: {data[:16]!r}")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentError("The PDF is password-protected. Open it, save a copy without the "
                                "password (for example with Print to PDF), and add that copy.")
        page_count = len(reader.pages)
    except DependencyError as exc:  # AES needs the cryptography package; in case it is missing
        raise DocumentError("The PDF is encrypted in a way SLM Desk cannot read. Save a copy without "
                            "encryption and add that copy.", str(exc)) from None
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files, not only PdfReadError
        raise DocumentError("The PDF is damaged: SLM Desk could not read its structure.",
                            f"{type(exc).__name__}: {exc}") from None
    pages: list[tuple[int, str]] = []
    failures, characters = [], 0
    for number in range(page_count):
        try:  # one unreadable page should not lose the rest of the book
            page_text = reader.pages[number].extract_text().strip("\n")
        except Exception as exc:
            failures.append(f"page {number + 1}: {type(exc).__name__}: {exc}")
            continue
        if page_text.strip():
            pages.append((number + 1, page_text))
        characters += len(page_text)
        if characters > MAX_CHARACTERS * 2:
            break  # read_document refuses it anyway; stop before holding a library in memory
    if not pages:
        if failures or not page_count:
            raise DocumentError("The PDF is damaged: SLM Desk could not read the text on any page.",
                                "; ".join(failures[:5]) or "no pages")
        raise DocumentError("The PDF has no text layer (it is probably scanned images); SLM Desk cannot "
                            "read it. Run it through text recognition (OCR) first.")
    try:
        title = reader.metadata.title if reader.metadata else ""
    except Exception:  # a damaged info dictionary only costs us the title
        title = ""
    return pages, title or "", page_count


# What a .docx may unpack to: Word's own files are a few MB of XML for hundreds of pages.
MAX_UNPACKED_BYTES = 1000 * 1000 * 1000


def _refuse_zip_bomb(data: bytes) -> None:
    """A .docx is a zip: refuse one whose parts claim to unpack to more than
    :data:`MAX_UNPACKED_BYTES` (a "decompression bomb") before any part is inflated."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # python-docx says what is wrong with a damaged file
    if unpacked > MAX_UNPACKED_BYTES:
        raise DocumentError(f"The Word document would unpack to {unpacked / 1e9:,.1f} GB, far more than any "
                            "real document: it is damaged or built to exhaust memory (a \u201czip bomb\u201d), "
                            "so SLM Desk did not open it.", f"{unpacked} bytes unpacked from {len(data)}")


def read_docx(data: bytes) -> Extracted:
    """Body paragraphs and tables (rows as ``cell | cell`` lines) in document order; headers,
    footers, footnotes and text boxes are left out. The headings are the paragraphs in Word's
    Title and Heading styles."""
    import docx
    from docx.table import Table

    if data.startswith(_OLE_MAGIC):
        raise DocumentError("The Word document is password-protected or in the old .doc format. Open it "
                            "in Word or LibreOffice and save it as .docx without a password.")
    if not data.startswith(b"PK"):
        raise DocumentError("The Word document is damaged: it is not in the .docx format.",
                            f"first bytes: {data[:16]!r}")
    _refuse_zip_bomb(data)
    try:
        document = docx.Document(io.BytesIO(data))
        title, blocks = document.core_properties.title or "", []
        headings: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                blocks.append("\n".join(_table_row_text(row) for row in block.rows))
                continue
            style = (block.style.name or "") if block.style is not None else ""
            if not title and style in ("Title", "Heading 1"):
                title = block.text
            if (style == "Title" or style.startswith("Heading")) and block.text.strip() \
                    and len(headings) <= MAX_HEADINGS:
                headings.append(block.text)
            blocks.append(block.text)
    except Exception as exc:  # zipfile, lxml and python-docx each raise their own kinds
        reason = ("parts of it are missing." if isinstance(exc, KeyError) else
                  "SLM Desk could not read its contents.")
        raise DocumentError(f"The Word document is damaged: {reason}", f"{type(exc).__name__}: {exc}") from None
    return "\n\n".join(block for block in blocks if block.strip()), title, None, None, headings


def _table_row_text(row: _Row) -> str:
    """The row's cells as the file holds them, each once. python-docx's ``row.cells`` lists a cell
    once per grid column it spans, and a damaged ``gridSpan="99999999"`` made that list (and the
    time to build it) a hundred million long; the fuzz tests found it."""
    from docx.table import _Cell

    return " | ".join(" ".join(_Cell(tc, row.table).text.split()) for tc in row._tr.tc_lst)
