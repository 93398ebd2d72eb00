"""Full-text search over conversations: what the user typed made safe for FTS5, and the matches.

Titles and messages are indexed by SQLite FTS5 (``conversations_fts`` and ``messages_fts``, kept in
step by triggers in :mod:`slmdesk.core.db`). Searching is a language of its own, query syntax,
ranking and snippets, apart from the message tree :class:`~slmdesk.core.conversations.store.ConversationStore`
keeps, so it lives here; the store's ``search`` and ``list(query)`` call into it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field


@dataclass
class SearchHit:
    conversation_id: int
    conversation_title: str
    message_id: int | None = field(metadata={"help": "None when the title matched."})
    snippet: str


def fts_query(text: str) -> str:
    """Turn what the user typed into a safe FTS5 query: every word must appear (as a prefix).

    Each word is quoted, so FTS syntax such as ``OR``, ``*``, ``(`` or ``"`` is searched for
    literally instead of raising a syntax error. Words without letters or digits are dropped.
    """
    words = [w for w in text.split() if any(ch.isalnum() for ch in w)]
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def search_conversations(conn: sqlite3.Connection, text: str, limit: int = 100,
                         marks: tuple[str, str] = ("[", "]")) -> list[SearchHit]:
    """Find conversations whose title or messages contain every word of ``text``.

    Title matches come first, then messages by relevance. ``marks`` surround the matched
    words in the snippet.
    """
    match = fts_query(text or "")
    if not match:
        return []
    start, end = marks
    rows = conn.execute(
        "SELECT * FROM ("
        " SELECT c.id AS cid, c.title, NULL AS mid,"
        "  snippet(conversations_fts, 0, :s, :e, '…', 12) AS snip, 0 AS kind, rank"
        "  FROM conversations_fts JOIN conversations c ON c.id = conversations_fts.rowid"
        "  WHERE conversations_fts MATCH :q"
        " UNION ALL SELECT c.id, c.title, m.id,"
        "  snippet(messages_fts, 0, :s, :e, '…', 12), 1, rank"
        "  FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
        "  JOIN conversations c ON c.id = m.conversation_id WHERE messages_fts MATCH :q)"
        " ORDER BY kind, rank, mid DESC LIMIT :n",
        {"q": match, "s": start, "e": end, "n": limit}).fetchall()
    return [SearchHit(r["cid"], r["title"], r["mid"], r["snip"]) for r in rows]
