"""A person's documents (txt, md, pdf, docx, html) as plain text, and why the others cannot be read.

Fine-tuning starts from whatever a person drops on the window: a folder of notes, a few PDFs, a Word
file, a saved web page. :func:`collect_documents` never stops at a bad file: it becomes a
:class:`SkippedFile` whose reason says what is wrong in plain words, and the rest go on. Notes come
from Notepad (cp1252, UTF-16) as often as from editors that write UTF-8, so text is decoded by BOM,
strict UTF-8, the computer's legacy code page, then charset-normalizer. The parsers (pypdf,
python-docx, BeautifulSoup) are imported only when a file of their kind is read.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import locale
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: Progress callback: (files done, total). Returning False asks the work to stop.
ProgressCallback = Callable[[int, int], "bool | None"]

_KINDS = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf",
          ".docx": "docx", ".html": "html", ".htm": "html", ".xhtml": "html"}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_KINDS)

# A person's notes are kilobytes; 50 MB of text is tens of millions of tokens, days of CPU training.
MAX_TEXT_FILE_BYTES = 50 * 1000 * 1000
MAX_CHARACTERS = 50 * 1000 * 1000
# PDF and Word files carry images and fonts, so their size on disk says little about their text.
MAX_PACKAGE_BYTES = 500 * 1000 * 1000

_BINARY = "This looks like a binary file, not text."
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .doc files, and password-protected .docx
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
_Extracted = tuple[str, str, "str | None", "int | None"]  # text, title, encoding, pages


@dataclass(frozen=True)
class Document:
    """One file read successfully.

    ``encoding`` is a Python codec that decodes the whole file (txt, md, html only); ``pages`` is
    the page count of a PDF; ``title`` is the first heading, <title> or document title, else the
    file name without its suffix.
    """

    path: Path
    kind: str  # 'txt', 'md', 'pdf', 'docx' or 'html'
    text: str
    characters: int
    title: str
    encoding: str | None = None
    pages: int | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file that could not be used; ``reason`` is for the person, ``detail`` for a bug report."""

    path: Path
    reason: str
    detail: str = ""


@dataclass
class DocumentSet:
    """What one collection found, in the order the files were given."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    cancelled: bool = False  # the progress callback asked to stop; the lists hold what was done

    @property
    def total_characters(self) -> int:
        return sum(doc.characters for doc in self.documents)


class DocumentError(Exception):
    """A file could not be read; the message says why in words a non-programmer understands."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail  # detail: the technical cause, for a bug report


def read_document(path: str | Path) -> Document:
    """Read one file into text; raise :class:`DocumentError` saying what is wrong with a bad one."""
    path = Path(path).expanduser()
    kind = _KINDS.get(path.suffix.lower())
    if path.is_dir():
        raise DocumentError("This is a folder, not a file.")
    if kind is None:
        raise DocumentError((f"SLM Desk cannot read {path.suffix.lower()} files" if path.suffix else
                             "SLM Desk cannot tell what kind of file this is (its name has no ending "
                             "such as .txt)") + "; use txt, md, pdf, docx or html.")
    try:
        size, limit = path.stat().st_size, _size_limit(kind)
        if size > limit:
            raise DocumentError(f"The file is too large ({_megabytes(size)}); SLM Desk reads {kind} "
                                f"files up to {_megabytes(limit)}. Training on this much text would "
                                "take days: split it, or keep the parts you need.")
        data = path.read_bytes()
    except PermissionError as exc:
        raise DocumentError("Permission denied.", str(exc)) from None
    except FileNotFoundError as exc:
        raise DocumentError("The file does not exist (it may have been moved or deleted).", str(exc)) from None
    except OSError as exc:
        raise DocumentError(f"SLM Desk could not read the file: {exc.strerror or exc}.", str(exc)) from None
    if not data:
        raise DocumentError("The file is empty.")
    text, title, encoding, pages = _READERS[kind](data)
    text = normalize_text(text)
    if not text:
        raise DocumentError("The file is empty." if kind in ("txt", "md") else "The file has no text in it.")
    if len(text) > MAX_CHARACTERS:
        raise DocumentError(f"The file holds {len(text):,} characters of text, more than SLM Desk takes "
                            f"from one file ({MAX_CHARACTERS:,}). Split it, or keep the parts you need.")
    return Document(path, kind, text, len(text), " ".join(title.split())[:200] or path.stem, encoding, pages)


def collect_documents(paths: Iterable[str | Path], progress: ProgressCallback | None = None) -> DocumentSet:
    """Read files and folders (recursively); a bad file is skipped with its reason, the rest go on.

    A folder gives its files in name order, then its subfolders, leaving out hidden ones. Files of
    kinds we do not read (pictures, spreadsheets) are ignored in folders, but a file named
    explicitly always ends up in ``documents`` or ``skipped``. A file reached twice is read once.
    """
    result, candidates, seen = DocumentSet(), [], set()
    for path in map(Path, paths):
        path = path.expanduser()
        for file in _folder_files(path, result.skipped) if path.is_dir() else [path]:
            real = os.path.realpath(file)  # unlike Path.resolve, never raises on a symlink loop
            if real not in seen:
                seen.add(real)
                candidates.append(file)
    for done, path in enumerate(candidates):
        if progress is not None and progress(done, len(candidates)) is False:
            result.cancelled = True
            return result
        try:
            result.documents.append(read_document(path))
        except DocumentError as exc:
            result.skipped.append(SkippedFile(path, exc.reason, exc.detail))
    if progress is not None:
        progress(len(candidates), len(candidates))
    return result


def normalize_text(text: str) -> str:
    """Clean extracted text without changing what it says.

    Newlines become ``\\n`` (a form feed, a page break, a blank line); control characters, BOMs and
    soft hyphens go; NFC, PDF ligatures (``ﬁ``) spelled out; trailing spaces and blank lines at both
    ends go; three or more blank lines become two. A word broken at a line end (``exam-\\nple``) is
    joined when both sides are lower case, as typesetting hyphenates; a compound split there
    (``well-\\nknown``) loses its hyphen, a rare loss next to hundreds of broken words in a PDF.
    """
    # str.replace and split are C loops; str.translate with a dict and regexes that start with a
    # character class are ten times slower, which is seconds on a book-sized file.
    for old, new in _REPLACEMENTS:
        if old in text:
            text = text.replace(old, new)
    text = unicodedata.normalize("NFC", _CONTROL.sub("", _SOFT_HYPHEN_BREAK.sub("", text)))
    text = "\n".join(line.rstrip(" \t\u00a0") for line in text.split("\n"))
    text = _HYPHEN_BREAK.sub(_join_hyphenated, text)
    return _EXTRA_BLANK_LINES.sub("\n\n\n", text).strip("\n")


_REPLACEMENTS = [("\r\n", "\n"), ("\r", "\n"), ("\x85", "\n"), ("\u2028", "\n"), ("\u2029", "\n\n"),
                 ("\x0c", "\n\n"), ("\x0b", "\n"), ("\ufb00", "ff"), ("\ufb01", "fi"), ("\ufb02", "fl"),
                 ("\ufb03", "ffi"), ("\ufb04", "ffl"), ("\ufb05", "st"), ("\ufb06", "st")]
_SOFT_HYPHEN_BREAK = re.compile("\u00ad[ \t]*\n[ \t]*")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\ufeff]")
_HYPHEN_BREAK = re.compile(r"-\n[ \t]*(?=[^\W\d_])")
_EXTRA_BLANK_LINES = re.compile(r"\n{4,}")
_BINARY_CHARS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f\ufffd]")  # ESC (\x1b) is in logs
# Letters around a symbol: another code page's letter read as cp1252 ("Za¿ó³æ" is Polish "Zażółć").
_SYMBOL_IN_WORD = re.compile(r"[^\W\d_][\u00a1-\u00b6\u00b8-\u00bf\u00d7\u00f7\u02c6\u02dc\u2122][^\W\d_]")


def _join_hyphenated(match: re.Match[str]) -> str:
    before, after = match.string[match.start() - 1:match.start()], match.string[match.end()]
    return "" if before.islower() and after.islower() else match.group(0)


def _folder_files(folder: Path, skipped: list[SkippedFile]) -> list[Path]:
    def report(error: OSError) -> None:
        reason = ("Permission denied." if isinstance(error, PermissionError)
                  else f"SLM Desk could not open this folder: {error.strerror or error}.")
        skipped.append(SkippedFile(Path(error.filename or folder), reason, str(error)))

    files = []
    for root, dirs, names in os.walk(folder, onerror=report):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        # "~$notes.docx" is the lock file Word keeps beside an open document, not a document.
        files += [Path(root, name) for name in sorted(names) if not name.startswith((".", "~$"))
                  and Path(name).suffix.lower() in SUPPORTED_SUFFIXES]
    return files


def _size_limit(kind: str) -> int:
    return MAX_PACKAGE_BYTES if kind in ("pdf", "docx") else MAX_TEXT_FILE_BYTES


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 1e6 else f"{size / 1e6:.1f} MB"


# --- Text, encodings and Markdown ----------------------------------------------------------------

def _decode(data: bytes) -> tuple[str, str]:
    """Text and a codec that decodes all of ``data``; DocumentError if it is not text at all."""
    text, encoding = _guess_decoding(data)
    _refuse_binary(text)
    return text, encoding


def _refuse_binary(text: str) -> None:
    """Control characters in more than 1% of the text: no editor writes that, so it is not text."""
    sample = text[:100_000]
    if len(_BINARY_CHARS.findall(sample)) > max(2, len(sample) // 100):
        raise DocumentError(_BINARY)


def _guess_decoding(data: bytes) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    head = data[:65536]
    if b"\x00" in head:  # ASCII-range UTF-16 without a BOM has a NUL in every other byte
        even, odd, many = head[::2].count(0), head[1::2].count(0), len(head) * 0.15
        for encoding, nuls, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
            if nuls > many > others:
                with contextlib.suppress(UnicodeDecodeError):
                    return data.decode(encoding), encoding
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("utf-8"), "utf-8"
    # charset-normalizer cannot tell the single-byte Latin code pages apart on a few lines (it
    # reads "naïve" in cp1252 as cp1250 "naďve"); the computer's own legacy code page, the one
    # Notepad used to save in, is the likeliest. Text that is mostly accented letters in it
    # ("Ïðèâåò" is Привет read as cp1252) is another script, left to charset-normalizer.
    legacy = _legacy_code_page()
    with contextlib.suppress(UnicodeDecodeError):
        text = data.decode(legacy)
        letters = [char for char in text[:100_000] if char.isalpha()]
        if sum(char > "\x7f" for char in letters) <= len(letters) // 2 \
                and not _SYMBOL_IN_WORD.search(text, 0, 100_000):
            return text, legacy
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        return str(best), best.encoding
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("cp1252"), "cp1252"
    return data.decode("latin-1"), "latin-1"  # decodes anything; _refuse_binary judges it


def _legacy_code_page() -> str:
    """The Windows "ANSI" code page for this computer's language; cp1252 (Western) if unknown."""
    if os.name == "nt":
        return locale.getencoding()
    language = next((os.environ[name] for name in ("LC_ALL", "LC_CTYPE", "LANG") if os.environ.get(name)),
                    locale.getlocale()[0] or "")
    return _LEGACY_CODE_PAGES.get(re.split("[_.@-]", language)[0].lower(), "cp1252")


_LEGACY_CODE_PAGES = {language: code_page for code_page, languages in [
    ("cp1250", "cs sk pl hu hr sl ro sq bs"), ("cp1251", "ru uk be bg mk sr kk"), ("cp1253", "el"),
    ("cp1254", "tr az"), ("cp1255", "he"), ("cp1256", "ar fa"), ("cp1257", "lt lv et"), ("cp1258", "vi")]
    for language in languages.split()}


def _read_txt(data: bytes) -> _Extracted:
    text, encoding = _decode(data)
    return text, "", encoding, None


# YAML (---) or TOML (+++) front matter; the key: value on its first line tells it from a rule.
_FRONT_MATTER = re.compile(r"\A(?:---|\+\+\+)[ \t]*\n(?=[\w-]+[ \t]*[:=]).*?\n(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|\Z)",
                           re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title[ \t]*[:=][ \t]*[\"']?(.*?)[\"']?[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+.*$")
_TARGET = r"(?:\((?:[^()]|\([^()]*\))*\)|\[[^\]]*\])"  # (url "title"), one level of () inside, or [ref]
_IMAGE = re.compile(r"!\[[^\]]*\]" + _TARGET)
_LINK = re.compile(r"\[([^\]]+)\]" + _TARGET)
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>")


def _read_md(data: bytes) -> _Extracted:
    """Markdown as a person reads it: front matter, images, link targets and comments removed,
    headings without their ``#`` marks; code blocks untouched, other markup (``*emphasis*``) kept.
    The title is the front matter's ``title:`` or the first ``#`` heading."""
    text, encoding = _decode(data)
    text, title = normalize_text(text), ""
    if front := _FRONT_MATTER.match(text):
        title = found.group(1) if (found := _FRONT_MATTER_TITLE.search(front.group(0))) else ""
        text = text[front.end():]
    lines, fence = [], None
    for line in re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL).split("\n"):
        marker = _FENCE.match(line)
        if fence is not None:
            fence = None if marker and marker.group(1) == fence else fence
        elif marker:
            fence = marker.group(1)
        elif _LINK_DEFINITION.match(line):
            continue
        else:
            if heading := _ATX_HEADING.match(line):
                line = heading.group(1) or ""
                title = title or _LINK.sub(r"\1", line)
            line = _AUTOLINK.sub(r"\1", _LINK.sub(r"\1", _IMAGE.sub("", line)))
        lines.append(line)
    return "\n".join(lines), title, encoding, None


# --- HTML ----------------------------------------------------------------------------------------

_DROPPED_TAGS = frozenset("head script style noscript template nav svg iframe object canvas button select".split())
_PARAGRAPH_TAGS = frozenset(("p h1 h2 h3 h4 h5 h6 blockquote pre table ul ol dl figure hr section article "
                             "header footer main aside address details form fieldset").split())
_LINE_TAGS = frozenset("div li tr dt dd caption figcaption summary".split())
# Noncharacters stand for breaks while the source's whitespace collapses; they never occur in text.
_PARAGRAPH, _BLOCK, _BREAK, _CELL, _SPACE, _TAB = "\ufdd0", "\ufdd1", "\ufdd2", "\ufdd3", "\ufdd4", "\ufdd5"
_BREAK_RUN = re.compile(" *[\ufdd0-\ufdd2][ \ufdd0-\ufdd2]*")
# Pages labelled with these are really windows-1252, as every browser reads them (WHATWG).
_HTML_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "ascii", "us-ascii"}


def _read_html(data: bytes) -> _Extracted:
    """The text a browser shows, without scripts, styles and navigation; blocks become paragraphs,
    list items ``- item`` lines, table rows ``cell | cell`` lines, and ``<pre>`` keeps its layout."""
    import warnings

    from bs4 import BeautifulSoup, CData, MarkupResemblesLocatorWarning, NavigableString, Tag

    # A page whose whole text is "notes.txt" or a URL makes bs4 warn that we passed a file name.
    warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
    text, encoding = _decode_html(data)
    # lxml (already installed for python-docx) parses ten times faster than the stdlib html.parser.
    soup = BeautifulSoup(text.replace("\r\n", "\n").replace("\r", "\n"), "lxml")
    # soup.title would search the whole page when it has no title; lxml puts <title> in <head>.
    head = (soup.find("html", recursive=False) or soup).find("head", recursive=False)
    title = (head.find("title") if head else None) or ""
    title, first_heading = title and title.get_text(" "), ""
    # One walk with an explicit stack: editing the tree instead (inserting marks) costs time
    # quadratic in the number of siblings, and recursion fails on deeply nested pages.
    pieces, in_pre, stack = [], 0, [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):  # the end of an element opened below
            in_pre -= node[0] == "pre"
            pieces.append(node[1])
        elif isinstance(node, Tag) and node.name not in _DROPPED_TAGS:
            if node.name == "br":
                pieces.append(_BREAK)
                continue
            mark = _PARAGRAPH if node.name in _PARAGRAPH_TAGS else _BLOCK if node.name in _LINE_TAGS else ""
            pieces.append(_CELL if node.name in ("td", "th") else mark + ("- " if node.name == "li" else ""))
            in_pre += node.name == "pre"
            first_heading = first_heading or (node.get_text(" ") if node.name == "h1" else "")
            stack.append((node.name, mark))
            stack.extend(reversed(node.contents))
        elif type(node) in (NavigableString, CData):  # not comments, doctypes, script bodies
            pieces.append(node.replace("\n", _BREAK).replace(" ", _SPACE).replace("\t", _TAB) if in_pre else node)
    text = re.sub("[ \t\n\f\v]+", " ", "".join(pieces))  # the source's own line breaks mean nothing
    text = _BREAK_RUN.sub(lambda run: "\n\n" if _PARAGRAPH in run[0] or run[0].count(_BREAK) > 1 else "\n", text)
    text = re.sub(f" *{_CELL} *", " | ", re.sub(f"(^|\n) *{_CELL} *", r"\1", text))
    text = "\n".join(line.strip(" ") for line in text.split("\n"))
    text = text.replace(_SPACE, " ").replace(_TAB, "\t").replace("\u00a0", " ")
    return text, title or first_heading, encoding, None


def _decode_html(data: bytes) -> tuple[str, str]:
    """A page's ``<meta charset>`` beats guessing and a byte-order mark beats both, as in browsers."""
    from bs4.dammit import EncodingDetector

    declared = (EncodingDetector.find_declared_encoding(data, is_html=True) or "").lower()
    if declared and not any(data.startswith(bom) for bom, _ in _BOMS):
        declared = "cp1252" if declared in _HTML_AS_CP1252 else declared
        with contextlib.suppress(LookupError, UnicodeDecodeError):  # a wrong label: guess instead
            text = data.decode(declared)
            _refuse_binary(text)
            return text, codecs.lookup(declared).name
    return _decode(data)


# --- PDF and Word ----------------------------------------------------------------------------------

def _read_pdf(data: bytes) -> _Extracted:
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
    pages, failures, characters = [], [], 0
    for number in range(page_count):
        try:  # one unreadable page should not lose the rest of the book
            pages.append(reader.pages[number].extract_text().strip("\n"))
        except Exception as exc:
            failures.append(f"page {number + 1}: {type(exc).__name__}: {exc}")
            continue
        characters += len(pages[-1])
        if characters > MAX_CHARACTERS * 2:
            break  # read_document refuses it anyway; stop before holding a library in memory
    if not (text := "\n\n".join(page for page in pages if page.strip())):
        if failures or not page_count:
            raise DocumentError("The PDF is damaged: SLM Desk could not read the text on any page.",
                                "; ".join(failures[:5]) or "no pages")
        raise DocumentError("The PDF has no text layer (it is probably scanned images); SLM Desk cannot "
                            "read it. Run it through text recognition (OCR) first.")
    try:
        title = reader.metadata.title if reader.metadata else ""
    except Exception:  # a damaged info dictionary only costs us the title
        title = ""
    return text, title or "", None, page_count


def _read_docx(data: bytes) -> _Extracted:
    """Body paragraphs and tables (rows as ``cell | cell`` lines) in document order; headers,
    footers, footnotes and text boxes are left out."""
    import docx
    from docx.table import Table

    if data.startswith(_OLE_MAGIC):
        raise DocumentError("The Word document is password-protected or in the old .doc format. Open it "
                            "in Word or LibreOffice and save it as .docx without a password.")
    if not data.startswith(b"PK"):
        raise DocumentError("The Word document is damaged: it is not in the .docx format.",
                            f"first bytes: {data[:16]!r}")
    try:
        document = docx.Document(io.BytesIO(data))
        title, blocks = document.core_properties.title or "", []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                blocks.append("\n".join(_table_row_text(row) for row in block.rows))
                continue
            if not title and block.style is not None and block.style.name in ("Title", "Heading 1"):
                title = block.text
            blocks.append(block.text)
    except Exception as exc:  # zipfile, lxml and python-docx each raise their own kinds
        reason = ("parts of it are missing." if isinstance(exc, KeyError) else
                  "SLM Desk could not read its contents.")
        raise DocumentError(f"The Word document is damaged: {reason}", f"{type(exc).__name__}: {exc}") from None
    return "\n\n".join(block for block in blocks if block.strip()), title, None, None


def _table_row_text(row) -> str:
    cells, previous = [], None
    for cell in row.cells:
        if previous is None or cell._tc is not previous._tc:  # a merged cell repeats per column
            cells.append(" ".join(cell.text.split()))
        previous = cell
    return " | ".join(cells)


_READERS: dict[str, Callable[[bytes], _Extracted]] = {
    "txt": _read_txt, "md": _read_md, "html": _read_html, "pdf": _read_pdf, "docx": _read_docx}
