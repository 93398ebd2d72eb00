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
from dataclasses import dataclass, replace

from slmdesk.core.documents.collect import Document

TARGET_CHARACTERS = 600
MAX_CHARACTERS = 900
OVERLAP_MAX_CHARACTERS = 200
#: Stored with each file: passages cut by another chunker are cut again on the next indexing
#: (their vectors are kept where the text is the same, so that costs a read, not an embedding).
#: "headings": a heading starts a passage, which names it (files indexed before are re-read).
CHUNKER_ID = f"sentences-{TARGET_CHARACTERS}-{MAX_CHARACTERS}-{OVERLAP_MAX_CHARACTERS}-headings"

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# After . ! ? (and a closing quote or bracket), before whitespace; "e.g. this" is cut too, a
# small price next to a sentence splitter's dependencies.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)\]])\s+")


@dataclass(frozen=True)
class Chunk:
    """One passage: its text, where it starts in its page's text, its page (PDFs) and line, and
    the nearest heading at or above that line (None in PDFs, plain text, and above the first)."""

    text: str
    start: int
    line: int  # 1-based, in the page's text (PDF) or the file's text
    page: int | None = None
    heading: str | None = None


def chunk_document(document: Document) -> list[Chunk]:
    """The passages of a document, in reading order."""
    if document.page_texts:
        return [chunk for number, text in document.page_texts for chunk in chunk_text(text, page=number)]
    if not document.headings:
        return chunk_text(document.text)
    lines = [line for line, _ in document.headings]
    chunks = chunk_text(document.text, sections=_line_offsets(document.text, lines))
    named = []
    for chunk in chunks:
        above = bisect.bisect_right(lines, chunk.line) - 1
        named.append(replace(chunk, heading=document.headings[above][1]) if above >= 0 else chunk)
    return named


def chunk_text(text: str, *, page: int | None = None, sections: frozenset[int] = frozenset()) -> list[Chunk]:
    """The passages of one page (or one page-less text).

    A piece starting at one of the offsets in ``sections`` (a heading's line) starts a new
    passage, with no overlap from the one before: a passage then lies under one heading, the one
    its citation names. Headings in a row (a chapter and its first section) stay together."""
    chunks: list[Chunk] = []
    current: list[tuple[int, str]] = []
    body = False  # whether ``current`` holds more than headings
    lines = _LineCounter(text)
    for start, piece in _pieces(text):
        size = sum(len(p) + 1 for _, p in current)
        heading = start in sections
        if current and ((heading and body) or size + len(piece) > TARGET_CHARACTERS):
            chunks.append(_make_chunk(current, page, lines))
            last = current[-1]
            current = [last] if not heading and len(last[1]) <= OVERLAP_MAX_CHARACTERS and \
                len(last[1]) + len(piece) <= MAX_CHARACTERS else []
            body = any(offset not in sections for offset, _ in current)
        current.append((start, piece))
        body = body or not heading
    if current:  # it always ends with a piece no passage holds yet
        chunks.append(_make_chunk(current, page, lines))
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


def _line_offsets(text: str, lines: list[int]) -> frozenset[int]:
    """Where each of ``lines`` (numbers from 1, ascending) starts in ``text``."""
    offsets: set[int] = set()
    position, line = 0, 1
    for target in lines:
        while line < target:
            found = text.find("\n", position)
            if found < 0:
                return frozenset(offsets)
            position, line = found + 1, line + 1
        offsets.add(position)
    return frozenset(offsets)


def _make_chunk(pieces: list[tuple[int, str]], page: int | None, lines: _LineCounter) -> Chunk:
    start = pieces[0][0]
    body = " ".join(piece for _, piece in pieces)
    return Chunk(body, start, lines.line_of(start), page)


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
