"""Find the passages of some collections that answer a question, each with where it came from.

Two searches, fused: SQLite FTS5 ranks passages by BM25 over stemmed words (exact names and
numbers), and, when an embedder is given, cosine similarity of sentence vectors finds passages
that say the same thing in other words. Their rankings are fused by reciprocal rank fusion
(``1 / (60 + rank)`` summed, as GPT4All and Unsloth Studio do), which needs no score calibration
between the two. The relevance floor: a passage must share a content word with the question
(BM25), or, with vectors, be at least :data:`VECTOR_FLOOR` similar to it. Nothing passing the
floor is an answer too: "no relevant passages", said to the person and to the model.

At our scale (thousands of passages per collection) vectors are float32 BLOBs compared by numpy
in one matrix product, a few milliseconds; an approximate index would add a native dependency
for no gain we could measure.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from slmdesk.core.documents.index import Embedder

RRF_K = 60
CANDIDATES = 30
#: all-MiniLM-L6-v2 cosine below which a passage is unrelated (AnythingLLM uses 0.25 too).
VECTOR_FLOOR = 0.25
#: The most characters of a heading a citation shows (a long one is cut, with an ellipsis).
HEADING_SHOWN = 60

# Question words and glue: matching them alone is no evidence a passage is relevant.
_STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
such than that the their theirs them themselves then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your yours yourself
yourselves s t don tell know much many please give find say said get got going let us also one""".split())
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Passage:
    """A passage found for a question, with what a citation needs."""

    chunk_id: int
    collection: str
    path: str
    title: str
    page: int | None
    line: int
    text: str
    score: float  # the fused score (higher is better); for ordering, not for showing
    bm25_rank: int | None = None
    vector_rank: int | None = None
    similarity: float | None = None
    #: The heading the passage stands under (Markdown, Word, HTML), else None.
    heading: str | None = None

    @property
    def file_name(self) -> str:
        return Path(self.path).name

    @property
    def place(self) -> str:
        """Where in the file: ``page 3`` in a PDF, ``“Garden”, line 12`` under a heading, else
        ``line 12``. A heading is what a person looks for in a long file; the line pins it down."""
        if self.page is not None:
            return f"page {self.page}"
        if self.heading:
            heading = self.heading if len(self.heading) <= HEADING_SHOWN \
                else self.heading[:HEADING_SHOWN - 1] + "\u2026"
            return f"\u201c{heading}\u201d, line {self.line}"
        return f"line {self.line}"

    def citation(self) -> str:
        return f"{self.file_name}, {self.place}"

    @property
    def relevant(self) -> bool:
        """Whether it passed the relevance floor for the question (a passage given only as a
        neighbour of one, or as part of a collection pasted whole, may not have)."""
        return self.bm25_rank is not None or (self.similarity is not None and self.similarity >= VECTOR_FLOOR)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "file_name": self.file_name, "place": self.place, "relevant": self.relevant}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Passage:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})


def content_words(query: str) -> list[str]:
    """The words of a question worth matching, lower case, in order, without repeats."""
    words = [word.lower() for word in _WORD.findall(query)]
    return list(dict.fromkeys(word for word in words if word not in _STOPWORDS))


def search(conn: sqlite3.Connection, collection_ids: Sequence[int], query: str, *, limit: int = 4,
           embedder: Embedder | None = None) -> list[Passage]:
    """The best ``limit`` passages above the relevance floor, best first (maybe none)."""
    if not collection_ids:
        return []
    keyword = _bm25(conn, collection_ids, query)
    similar: list[tuple[int, float]] = []
    if embedder is not None:
        similar = _nearest(conn, collection_ids, query, embedder)
    scores: dict[int, float] = {}
    for rank, chunk_id in enumerate(keyword):
        scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    similarity = dict(similar)
    for rank, (chunk_id, cosine) in enumerate(similar):
        if cosine >= VECTOR_FLOOR:
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(scores, key=lambda chunk: -scores[chunk])[:limit]
    keyword_rank = {chunk_id: rank + 1 for rank, chunk_id in enumerate(keyword)}
    vector_rank = {chunk_id: rank + 1 for rank, (chunk_id, _) in enumerate(similar)}
    rows = _rows(conn, best)
    return [passage_from_row(row, scores[chunk_id], bm25_rank=keyword_rank.get(chunk_id),
                             vector_rank=vector_rank.get(chunk_id), similarity=similarity.get(chunk_id))
            for chunk_id in best if (row := rows.get(chunk_id)) is not None]


#: A passage with its file and collection, as :func:`passage_from_row` reads it; callers add
#: their WHERE (and ORDER BY).
PASSAGE_QUERY = ("SELECT c.id, c.page, c.line, c.heading, c.text, f.path, f.title, k.name AS collection "
                 "FROM doc_chunks c JOIN doc_files f ON f.id = c.file_id "
                 "JOIN doc_collections k ON k.id = f.collection_id")


def passage_from_row(row: sqlite3.Row, score: float = 0.0, *, bm25_rank: int | None = None,
                     vector_rank: int | None = None, similarity: float | None = None) -> Passage:
    """A :class:`Passage` from a row of :data:`PASSAGE_QUERY`, with what the search found of it."""
    return Passage(row["id"], row["collection"], row["path"], row["title"], row["page"], row["line"],
                   row["text"], score, bm25_rank, vector_rank, similarity, row["heading"])


def _bm25(conn: sqlite3.Connection, collection_ids: Sequence[int], query: str) -> list[int]:
    words = content_words(query)
    if not words:
        return []
    # Each word quoted, so FTS5 syntax in a question ("AND", a stray quote) is just a word.
    match = " OR ".join('"' + word.replace('"', '""') + '"' for word in words)
    marks = ",".join("?" * len(collection_ids))
    rows = conn.execute(
        f"SELECT doc_chunks_fts.rowid FROM doc_chunks_fts JOIN doc_chunks c ON c.id = doc_chunks_fts.rowid "
        f"JOIN doc_files f ON f.id = c.file_id WHERE doc_chunks_fts MATCH ? AND f.collection_id IN ({marks}) "
        f"ORDER BY bm25(doc_chunks_fts) LIMIT ?", (match, *collection_ids, CANDIDATES)).fetchall()
    return [row[0] for row in rows]


def _nearest(conn: sqlite3.Connection, collection_ids: Sequence[int], query: str, embedder: Embedder
             ) -> list[tuple[int, float]]:
    import numpy as np

    marks = ",".join("?" * len(collection_ids))
    rows = conn.execute(
        f"SELECT v.chunk_id, v.vector FROM doc_vectors v JOIN doc_chunks c ON c.id = v.chunk_id "
        f"JOIN doc_files f ON f.id = c.file_id WHERE v.embedder = ? AND f.collection_id IN ({marks})",
        (embedder.identity, *collection_ids)).fetchall()
    if not rows:
        return []
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), -1)
    question = np.frombuffer(embedder.embed([query])[0], dtype=np.float32)
    cosines = matrix @ question
    order = np.argsort(-cosines)[:CANDIDATES]
    return [(int(rows[i][0]), float(cosines[i])) for i in order]


def _rows(conn: sqlite3.Connection, chunk_ids: Iterable[int]) -> dict[int, sqlite3.Row]:
    ids = list(chunk_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {row["id"]: row for row in conn.execute(f"{PASSAGE_QUERY} WHERE c.id IN ({marks})", ids)}
