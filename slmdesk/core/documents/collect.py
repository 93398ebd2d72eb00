"""A person's documents (txt, md, pdf, docx, html) as plain text, and why the others cannot be read.

Fine-tuning starts from whatever a person drops on the window: a folder of notes, a few PDFs, a Word
file, a saved web page. :func:`collect_documents` never stops at a bad file: it becomes a
:class:`SkippedFile` whose reason says what is wrong in plain words, and the rest go on. This module
is what the rest of the app imports; the readers themselves are in
:mod:`slmdesk.core.documents._text` (text, encodings, Markdown) and
:mod:`slmdesk.core.documents._readers` (HTML, PDF, Word, whose parsers are imported only when a file
of their kind is read).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from slmdesk.core.documents._readers import read_docx, read_html, read_pdf, read_pdf_pages

# DocumentError, normalize_text and MAX_CHARACTERS are imported from here by the rest of the app.
from slmdesk.core.documents._text import (
    MAX_CHARACTERS,
    DocumentError,
    Extracted,
    heading_lines,
    normalize_text,
    read_md,
    read_txt,
)
from slmdesk.core.errors import ProgressCallback

_KINDS = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf",
          ".docx": "docx", ".html": "html", ".htm": "html", ".xhtml": "html"}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_KINDS)

# A person's notes are kilobytes; 50 MB of text is tens of millions of tokens, days of CPU training.
MAX_TEXT_FILE_BYTES = 50 * 1000 * 1000
# PDF and Word files carry images and fonts, so their size on disk says little about their text.
MAX_PACKAGE_BYTES = 500 * 1000 * 1000


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
    # Only when asked (read_document(..., with_places=True)), for the search index to cite
    # passages by: a PDF's pages with text, by number, each cleaned like ``text``; and the
    # headings of a Markdown, Word or HTML file, each with the line of ``text`` it stands on.
    page_texts: tuple[tuple[int, str], ...] = ()
    headings: tuple[tuple[int, str], ...] = ()


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


def read_document(path: str | Path, *, with_places: bool = False) -> Document:
    """Read one file into text; raise :class:`DocumentError` saying what is wrong with a bad one.

    ``with_places`` also keeps a PDF's text page by page (:attr:`Document.page_texts`) and the
    lines other files' headings stand on (:attr:`Document.headings`)."""
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
        if path.is_symlink():  # the link is there, the file it points to is not
            raise DocumentError(f"This is a link to a missing file: it points to {os.readlink(path)}, "
                                "which does not exist (it may have been moved or deleted).", str(exc)) from None
        raise DocumentError("The file does not exist (it may have been moved or deleted).", str(exc)) from None
    except OSError as exc:
        raise DocumentError(f"SLM Desk could not read the file: {exc.strerror or exc}.", str(exc)) from None
    if not data:
        raise DocumentError("The file is empty.")
    page_texts: tuple[tuple[int, str], ...] = ()
    pages: int | None
    headings: list[str] = []
    if kind == "pdf" and with_places:
        numbered, title, pages = read_pdf_pages(data)
        text, encoding = "\n\n".join(page for _, page in numbered), None
        page_texts = tuple((number, normalize_text(page)) for number, page in numbered)
    else:
        text, title, encoding, pages, headings = _READERS[kind](data)
    text = normalize_text(text)
    if not text:
        raise DocumentError("The file is empty." if kind in ("txt", "md") else "The file has no text in it.")
    if len(text) > MAX_CHARACTERS:
        raise DocumentError(f"The file holds {len(text):,} characters of text, more than SLM Desk takes "
                            f"from one file ({MAX_CHARACTERS:,}). Split it, or keep the parts you need.")
    return Document(path, kind, text, len(text), " ".join(title.split())[:200] or path.stem, encoding, pages,
                    page_texts, heading_lines(text, headings) if with_places else ())


def collect_documents(paths: Iterable[str | Path], progress: ProgressCallback | None = None) -> DocumentSet:
    """Read files and folders (recursively); a bad file is skipped with its reason, the rest go on.

    A folder gives its files in name order, then its subfolders, leaving out hidden ones. Files of
    kinds we do not read (pictures, spreadsheets) are ignored in folders, but a file named
    explicitly always ends up in ``documents`` or ``skipped``, and so does a folder named
    explicitly that holds nothing we read. A file reached twice is read once. Paths are kept as
    given: a symbolic link is reported by its own name, never by the file it points to.
    """
    result, candidates, seen = DocumentSet(), [], set()
    for path in map(Path, paths):
        path = path.expanduser()
        if path.is_dir():
            files, others = folder_contents(path, result.skipped)
            if not files and not any(skip.path == path for skip in result.skipped):
                result.skipped.append(SkippedFile(path, _empty_folder_reason(others)))
        else:
            files = [path]
        for file in files:
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
            result.skipped.append(SkippedFile(path, exc.message, exc.detail))
    if progress is not None:
        progress(len(candidates), len(candidates))
    return result


def _empty_folder_reason(others: int) -> str:
    kinds = "1 file of another type" if others == 1 else f"{others} files of other types"
    return (f"This folder holds no documents we can read ({kinds}); SLM Desk reads txt, md, pdf, "
            "docx and html files.")


def folder_files(folder: Path, skipped: list[SkippedFile]) -> list[Path]:
    """The readable-kind files under ``folder``, as :func:`collect_documents` takes them; a
    subfolder that cannot be opened is added to ``skipped``."""
    return folder_contents(folder, skipped)[0]


def folder_contents(folder: Path, skipped: list[SkippedFile]) -> tuple[list[Path], int]:
    """The files we read under ``folder``, and how many others (pictures, hidden files) it holds."""
    def report(error: OSError) -> None:
        reason = ("Permission denied." if isinstance(error, PermissionError)
                  else f"SLM Desk could not open this folder: {error.strerror or error}.")
        skipped.append(SkippedFile(Path(error.filename or folder), reason, str(error)))

    files, others = [], 0
    for root, dirs, names in os.walk(folder, onerror=report):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        # "~$notes.docx" is the lock file Word keeps beside an open document, not a document.
        taken = [Path(root, name) for name in sorted(names) if not name.startswith((".", "~$"))
                 and Path(name).suffix.lower() in SUPPORTED_SUFFIXES]
        files += taken
        others += len(names) - len(taken)
    return files, others


def _size_limit(kind: str) -> int:
    return MAX_PACKAGE_BYTES if kind in ("pdf", "docx") else MAX_TEXT_FILE_BYTES


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 1e6 else f"{size / 1e6:.1f} MB"


_READERS: dict[str, Callable[[bytes], Extracted]] = {
    "txt": read_txt, "md": read_md, "html": read_html, "pdf": read_pdf, "docx": read_docx}
