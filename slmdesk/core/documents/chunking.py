"""Cut a document into passages a search can find and a small model can read.

A passage is a few sentences (about :data:`TARGET_CHARACTERS`), never crossing a page of a PDF,
so every passage is cited by one page (or, in files without pages, by the line it starts on and
the heading it stands under, in Markdown, Word and HTML files).
Paragraphs are kept whole when they fit; a long one is cut between sentences, and a sentence
longer than a passage between words. Each passage repeats the last sentence of the one before
(when that sentence is short), so a fact stated across the cut is still found in one piece; a
heading starts a new passage, without that overlap.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from slmdesk.core.documents.collect import Document

TARGET_CHARACTERS = 600
MAX_CHARACTERS = 900
OVERLAP_MAX_CHARACTERS = 200
#: Stored with each file: passages cut by another chunker are cut again on the next indexing
#: (their vectors are kept where the text is the same, so that costs a read, not an embedding).
#: "headings": a heading starts a passage, which names it (files indexed before are re-read);
#: "2": Markdown's underlined (setext) headings count too.
CHUNKER_ID = f"sentences-{TARGET_CHARACTERS}-{MAX_CHARACTERS}-{OVERLAP_MAX_CHARACTERS}-headings2"

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# After . ! ? (and a closing quote or bracket), before whitespace; "e.g. this" is cut too, a
# small price next to a sentence splitter's dependencies.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)\]])\s+")


@dataclass(frozen=True)
class Chunk:
    """One passage: its text, where it starts in its page's text, its page (PDFs) and line, and
    the heading it stands under (None in PDFs, plain text, and above the first heading)."""

    text: str
    start: int
    line: int  # 1-based, in the page's text (PDF) or the file's text
    page: int | None = None
    heading: str | None = None


def chunk_document(document: Document) -> list[Chunk]:
    """The passages of a document, in reading order."""
    if document.page_texts:
        return [chunk for number, text in document.page_texts for chunk in chunk_text(text, page=number)]
    offsets = _line_offsets(document.text, [line for line, _ in document.headings])
    return chunk_text(document.text, sections=dict(zip(offsets, (name for _, name in document.headings))))


def chunk_text(text: str, *, page: int | None = None, sections: dict[int, str] | None = None) -> list[Chunk]:
    """The passages of one page (or one page-less text).

    ``sections`` maps the offset of each heading's line to the heading. A piece starting at one
    starts a new passage, with no overlap from the one before, so a passage lies under one
    heading: the one in force where its own text begins, which it is cited by. Headings in a row
    (a chapter and its first section) stay together, named by the last of them."""
    sections = sections or {}
    starts = sorted(sections)
    chunks: list[Chunk] = []
    current: list[tuple[int, str]] = []
    lines = _LineCounter(text)

    def heading_of(pieces: list[tuple[int, str]]) -> str | None:
        body = [offset for offset, _ in pieces if offset not in sections]
        above = bisect.bisect_right(starts, body[0] if body else pieces[-1][0]) - 1
        return sections[starts[above]] if above >= 0 else None

    for start, piece in _pieces(text):
        size = sum(len(p) + 1 for _, p in current)
        heading = start in sections
        has_body = any(offset not in sections for offset, _ in current)
        if current and ((heading and has_body) or size + len(piece) > TARGET_CHARACTERS):
            chunks.append(_make_chunk(current, page, lines, heading_of(current)))
            last = current[-1]
            current = [last] if not heading and len(last[1]) <= OVERLAP_MAX_CHARACTERS and \
                len(last[1]) + len(piece) <= MAX_CHARACTERS else []
        current.append((start, piece))
    if current:  # it always ends with a piece no passage holds yet
        chunks.append(_make_chunk(current, page, lines, heading_of(current)))
    return chunks


class _LineCounter:
    """Line numbers of offsets that never go back (passages start in reading order), counted from
    the last one asked: counting from the top each time was quadratic, minutes on a 50 MB file."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def line_of(self, offset: int) -> int:
        if offset < self.offset:  # never in reading order; correct anyway
            self.offset, self.line = 0, 1
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def _line_offsets(text: str, lines: list[int]) -> list[int]:
    """Where each of ``lines`` (numbers from 1, ascending) starts in ``text`` (those it has)."""
    offsets: list[int] = []
    position, line = 0, 1
    for target in lines:
        while line < target:
            found = text.find("\n", position)
            if found < 0:
                return offsets
            position, line = found + 1, line + 1
        offsets.append(position)
    return offsets


def _make_chunk(pieces: list[tuple[int, str]], page: int | None, lines: _LineCounter,
                heading: str | None) -> Chunk:
    start = pieces[0][0]
    body = " ".join(piece for _, piece in pieces)
    return Chunk(body, start, lines.line_of(start), page, heading or None)


def _pieces(text: str) -> Iterator[tuple[int, str]]:
    """Sentences (or whole short paragraphs) with their offsets, none over MAX_CHARACTERS."""
    position = 0
    for paragraph in _PARAGRAPH_BREAK.split(text):
        offset = text.find(paragraph, position) if paragraph else position
        position = offset + len(paragraph)
        flat = " ".join(paragraph.split())
        if not flat:
            continue
        if len(flat) <= TARGET_CHARACTERS:
            yield offset, flat
            continue
        cursor = offset
        for sentence in _SENTENCE_END.split(paragraph):
            found = text.find(sentence, cursor)
            start = found if found >= 0 else cursor
            cursor = start + len(sentence)
            words = " ".join(sentence.split())
            while len(words) > MAX_CHARACTERS:
                cut = words.rfind(" ", 0, TARGET_CHARACTERS)
                cut = cut if cut > 0 else TARGET_CHARACTERS
                yield start, words[:cut]
                words = words[cut:].lstrip()
            if words:
                yield start, words
