"""Cut a document into passages a search can find and a small model can read.

A passage is a few sentences (about :data:`TARGET_CHARACTERS`), never crossing a page of a PDF,
so every passage is cited by one page (or, in files without pages, by the line it starts on).
Paragraphs are kept whole when they fit; a long one is cut between sentences, and a sentence
longer than a passage between words. Each passage repeats the last sentence of the one before
(when that sentence is short), so a fact stated across the cut is still found in one piece.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from slmdesk.core.documents.collect import Document

TARGET_CHARACTERS = 600
MAX_CHARACTERS = 900
OVERLAP_MAX_CHARACTERS = 200
#: Stored with each file: passages cut by another chunker are cut again on the next indexing.
CHUNKER_ID = f"sentences-{TARGET_CHARACTERS}-{MAX_CHARACTERS}-{OVERLAP_MAX_CHARACTERS}"

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# After . ! ? (and a closing quote or bracket), before whitespace; "e.g. this" is cut too, a
# small price next to a sentence splitter's dependencies.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)\]])\s+")


@dataclass(frozen=True)
class Chunk:
    """One passage: its text, where it starts in its page's text, its page (PDFs) and line."""

    text: str
    start: int
    line: int  # 1-based, in the page's text (PDF) or the file's text
    page: int | None = None


def chunk_document(document: Document) -> list[Chunk]:
    """The passages of a document, in reading order."""
    if document.page_texts:
        return [chunk for number, text in document.page_texts for chunk in chunk_text(text, page=number)]
    return chunk_text(document.text)


def chunk_text(text: str, *, page: int | None = None) -> list[Chunk]:
    """The passages of one page (or one page-less text)."""
    chunks: list[Chunk] = []
    current: list[tuple[int, str]] = []
    for start, piece in _pieces(text):
        size = sum(len(p) + 1 for _, p in current)
        if current and size + len(piece) > TARGET_CHARACTERS:
            chunks.append(_make_chunk(text, current, page))
            last = current[-1]
            current = [last] if len(last[1]) <= OVERLAP_MAX_CHARACTERS and \
                len(last[1]) + len(piece) <= MAX_CHARACTERS else []
        current.append((start, piece))
    if current:  # it always ends with a piece no passage holds yet
        chunks.append(_make_chunk(text, current, page))
    return chunks


def _make_chunk(text: str, pieces: list[tuple[int, str]], page: int | None) -> Chunk:
    start = pieces[0][0]
    body = " ".join(piece for _, piece in pieces)
    return Chunk(body, start, text.count("\n", 0, start) + 1, page)


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
