"""Put a person's documents into a chat prompt, numbered so the reply can cite them.

When all the attached documents fit the context budget they go in whole (every passage, in
reading order): a small collection needs no search, and nothing is missed. Otherwise the best
passages for the question go in (:func:`slmdesk.core.documents.search.search`). Either way they are
added to the last user message only, as numbered passages the model is asked to cite as ``[1]``;
the chat format then wraps them in the model's own template, like any message. When no passage
passes the relevance floor the model is told so, rather than left to guess.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from slmdesk.core.documents.excerpts import PASSAGE_OVERHEAD, excerpts
from slmdesk.core.documents.index import Embedder
from slmdesk.core.documents.search import PASSAGE_QUERY, Passage, passage_from_row, search

#: Characters per token, for budgets: English averages about four; three leaves room.
CHARACTERS_PER_TOKEN = 3
NO_PASSAGES = "no relevant passages"


@dataclass(frozen=True)
class Grounding:
    """What goes into the prompt: ``mode`` is 'whole', 'search' or 'none' (nothing relevant)."""

    mode: str
    passages: list[Passage] = field(default_factory=list)

    def sources_json(self) -> list[dict[str, Any]]:
        return [passage.to_json() for passage in self.passages]


def context_budget_characters(context_length: int, reply_tokens: int, history_characters: int = 0) -> int:
    """How many characters of documents fit: the context less the reply, the history and a
    margin for the template and the instructions."""
    tokens = context_length - reply_tokens - history_characters // CHARACTERS_PER_TOKEN - 128
    return max(0, tokens * CHARACTERS_PER_TOKEN)


def find_grounding(conn: sqlite3.Connection, collection_ids: Sequence[int], question: str, *,
                   budget_characters: int, limit: int = 4, embedder: Embedder | None = None) -> Grounding:
    """The whole collections when they fit ``budget_characters``, else the best passages."""
    if not collection_ids:
        return Grounding("none")
    everything = _all_passages(conn, collection_ids)
    if everything and sum(len(p.text) + PASSAGE_OVERHEAD for p in everything) <= budget_characters:
        return Grounding("whole", with_relevance(conn, collection_ids, question, everything, embedder))
    return searched_grounding(conn, collection_ids, question, budget_characters=budget_characters,
                              limit=limit, embedder=embedder)


def searched_grounding(conn: sqlite3.Connection, collection_ids: Sequence[int], question: str, *,
                       budget_characters: int, limit: int = 4, embedder: Embedder | None = None) -> Grounding:
    """The best passages for the question with their neighbours, in reading order
    (:mod:`slmdesk.core.documents.excerpts`), within the budget; 'none' when nothing is relevant."""
    found = search(conn, collection_ids, question, limit=limit, embedder=embedder)
    kept = excerpts(conn, found, budget_characters)
    return Grounding("search", kept) if kept else Grounding("none")


def with_relevance(conn: sqlite3.Connection, collection_ids: Sequence[int], question: str,
                   passages: Sequence[Passage], embedder: Embedder | None = None) -> list[Passage]:
    """``passages`` (a collection pasted whole) marked with how the question's search ranked
    them, so a reply that cites none shows only the relevant ones as its sources."""
    found = {p.chunk_id: p for p in search(conn, collection_ids, question, limit=len(passages), embedder=embedder)}
    return [replace(p, score=hit.score, bm25_rank=hit.bm25_rank, vector_rank=hit.vector_rank,
                    similarity=hit.similarity) if (hit := found.get(p.chunk_id)) is not None else p
            for p in passages]


def grounded_messages(messages: Sequence[dict[str, str]], grounding: Grounding) -> list[dict[str, str]]:
    """``messages`` with the passages (or the note that none is relevant) in the last user turn."""
    result = [dict(message) for message in messages]
    last = max((i for i, message in enumerate(result) if message["role"] == "user"), default=None)
    if last is None:
        return result
    result[last]["content"] = grounded_question(result[last]["content"], grounding)
    return result


def grounded_question(question: str, grounding: Grounding) -> str:
    if not grounding.passages:
        return ("No passage in my documents is relevant to this question. If you do not know the answer "
                f"otherwise, say that my documents do not cover it.\n\nQuestion: {question}")
    numbered = "\n\n".join(f"[{number}] ({passage.citation()}) {passage.text}"
                           for number, passage in enumerate(grounding.passages, start=1))
    return ("Answer the question using these passages from my documents, and cite the passage you "
            f"used by its number, like [1].\n\n{numbered}\n\nQuestion: {question}")


def _all_passages(conn: sqlite3.Connection, collection_ids: Sequence[int], limit: int = 400) -> list[Passage]:
    marks = ",".join("?" * len(collection_ids))
    rows = conn.execute(
        f"{PASSAGE_QUERY} WHERE f.collection_id IN ({marks}) ORDER BY k.name, f.path, c.ordinal LIMIT ?",
        (*collection_ids, limit + 1)).fetchall()
    if len(rows) > limit:
        return []  # far too much to paste whole; the caller searches instead
    return [passage_from_row(row) for row in rows]


def ground_conversation(conn: sqlite3.Connection, collection_ids: Sequence[int], messages: Sequence[dict[str, str]],
                        *, context_length: int, reply_tokens: int, embedder: Embedder | None = None
                        ) -> tuple[list[dict[str, str]], Grounding]:
    """The messages to send, with the documents for the last question, and what was used.

    Collections deleted since they were attached are left out; the history and the reply are
    counted against the context so the passages never push the question out of it.
    """
    known = {row[0] for row in conn.execute("SELECT id FROM doc_collections")}
    ids = [collection_id for collection_id in collection_ids if collection_id in known]
    question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    history = sum(len(m["content"]) for m in messages)
    budget = context_budget_characters(context_length, reply_tokens, history)
    grounding = find_grounding(conn, ids, question, budget_characters=budget, embedder=embedder)
    return grounded_messages(messages, grounding), grounding


def ground_reply(database: Path, collection_ids: Sequence[int], messages: Sequence[dict[str, str]], *,
                 context_length: int, reply_tokens: int, embedder: Embedder | None = None
                 ) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """:func:`ground_conversation` on its own connection (for a worker thread), with what the
    reply keeps in its metadata: its sources, the mode, and a note when nothing was relevant or
    the embedder failed (words alone then still find the names and numbers)."""
    from slmdesk.core import db
    from slmdesk.core.documents.embedding import EmbedderError

    conn = db.connect(database, check_same_thread=False)
    note = None
    try:
        try:
            grounded, grounding = ground_conversation(conn, collection_ids, messages, context_length=context_length,
                                                      reply_tokens=reply_tokens, embedder=embedder)
        except EmbedderError as exc:
            grounded, grounding = ground_conversation(conn, collection_ids, messages, context_length=context_length,
                                                      reply_tokens=reply_tokens)
            note = exc.message
    finally:
        conn.close()
    documents: dict[str, Any] = {"sources": grounding.sources_json(), "documents_mode": grounding.mode}
    if not grounding.passages:
        documents["documents_note"] = NO_PASSAGES
    if note:
        documents["embedder_note"] = note
    return grounded, documents
