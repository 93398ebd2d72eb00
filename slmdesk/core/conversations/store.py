"""Conversations kept forever: a tree of messages per conversation, streaming-safe and searchable.

Each conversation is a tree, not a list: regenerating a reply or editing a question adds a
sibling under the same parent, so no earlier answer is ever lost. ``active_leaf_id`` says which
branch the user is looking at; the visible thread is the path from the root to that leaf.

A reply being generated is written to the database while it streams (status ``streaming``),
so a crash loses at most the last second of text; ``recover_interrupted`` at startup marks
such replies ``interrupted`` and keeps what was saved.

The connection is in autocommit mode, so every single statement is durable at once and
multi-statement writes use an explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``. A store is not
thread-safe; give each thread its own connection and store.

Full-text search is in :mod:`slmdesk.core.conversations._search` and the export formats in
:mod:`slmdesk.core.conversations._export`; the store's ``search`` and ``export_*`` methods use them.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from slmdesk.core.conversations._export import conversation_json, conversation_markdown
from slmdesk.core.conversations._search import (
    SearchHit,
    fts_query,
    search_conversations,
)
from slmdesk.core.errors import SlmdeskError

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 48
ROLES = ("system", "user", "assistant")
FINISH_STATUSES = ("complete", "stopped", "error", "interrupted")

_ACTIVE_LEAF: Any = object()  # "attach to whatever the user is looking at"
_UNSET: Any = object()


class RecordNotFound(SlmdeskError, LookupError):
    """The conversation or message does not exist (it may have been deleted)."""


@dataclass
class Conversation:
    id: int
    title: str
    title_is_auto: bool
    system_prompt: str
    model_id: int | None
    adapter: dict[str, Any] | None
    settings: dict[str, Any] = field(metadata={"help": "Sampling settings (temperature, top_p, ...)."})
    created_at: str
    updated_at: str
    active_leaf_id: int | None = field(metadata={"help": "The message the visible thread ends at."})


@dataclass
class Message:
    id: int
    conversation_id: int
    parent_id: int | None
    role: str
    content: str
    status: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = field(metadata={
        "help": "Token counts, time to first token, tokens/s, model name, finish reason."})


_last_time = datetime.min.replace(tzinfo=timezone.utc)


def _now() -> str:
    """A UTC timestamp that never repeats within this process.

    "Most recent first" sorts on these; a coarse system clock (about 16 ms on some Windows
    versions) would otherwise give two quick writes the same time and an arbitrary order.
    """
    global _last_time
    _last_time = max(datetime.now(timezone.utc), _last_time + timedelta(microseconds=1))
    return _last_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def auto_title(text: str, limit: int = TITLE_LENGTH) -> str | None:
    """A title from the first non-empty line of ``text``, cut on a word boundary."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    if not line:
        return None
    if len(line) <= limit:
        return line
    cut = line[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:  # a single very long word is cut mid-word rather than to nothing
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"], title=row["title"], title_is_auto=bool(row["title_is_auto"]),
        system_prompt=row["system_prompt"], model_id=row["model_id"],
        adapter=json.loads(row["adapter_json"]) if row["adapter_json"] else None,
        settings=json.loads(row["settings_json"]), created_at=row["created_at"],
        updated_at=row["updated_at"], active_leaf_id=row["active_leaf_id"])


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"], conversation_id=row["conversation_id"], parent_id=row["parent_id"],
        role=row["role"], content=row["content"], status=row["status"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        metadata=json.loads(row["metadata_json"]))


class ConversationStore:
    """Reads and writes conversations and their message trees in the SLM Desk database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- conversations -------------------------------------------------------------------

    def create(self, title: str | None = None, system_prompt: str = "",
               model_id: int | None = None, settings: dict[str, Any] | None = None,
               adapter: dict[str, Any] | None = None) -> Conversation:
        """Start a conversation; without a title it is named after the first question."""
        now = _now()
        cur = self._conn.execute(
            "INSERT INTO conversations (title, title_is_auto, system_prompt, model_id,"
            " adapter_json, settings_json, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (title or DEFAULT_TITLE, title is None, system_prompt, model_id,
             json.dumps(adapter) if adapter is not None else None,
             json.dumps(settings or {}), now, now))
        assert cur.lastrowid is not None  # set by every INSERT
        return self.get(cur.lastrowid)

    def get(self, conversation_id: int) -> Conversation:
        row = self._conn.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            raise RecordNotFound(f"Conversation {conversation_id} does not exist.")
        return _conversation(row)

    def list(self, query: str | None = None) -> list[Conversation]:
        """All conversations, most recently active first; ``query`` keeps only those matching."""
        if query is None or not query.strip():
            rows = self._conn.execute(
                "SELECT * FROM conversations ORDER BY updated_at DESC, id DESC").fetchall()
            return [_conversation(r) for r in rows]
        match = fts_query(query)
        if not match:
            return []
        rows = self._conn.execute(
            "SELECT * FROM conversations WHERE id IN ("
            " SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH :q"
            " UNION SELECT m.conversation_id FROM messages_fts"
            " JOIN messages m ON m.id = messages_fts.rowid WHERE messages_fts MATCH :q)"
            " ORDER BY updated_at DESC, id DESC", {"q": match}).fetchall()
        return [_conversation(r) for r in rows]

    def rename(self, conversation_id: int, title: str) -> Conversation:
        """Give the conversation a title of the user's choosing (never replaced automatically)."""
        title = " ".join(title.split()) or DEFAULT_TITLE
        self._update_conversation(conversation_id, "title = ?, title_is_auto = 0", (title,))
        return self.get(conversation_id)

    def update(self, conversation_id: int, *, system_prompt: str = _UNSET,
               model_id: int | None = _UNSET, adapter: dict[str, Any] | None = _UNSET,
               settings: dict[str, Any] = _UNSET) -> Conversation:
        """Change the system prompt, model, adapter or sampling settings; others stay as they are."""
        changed = {k: v for k, v in (("system_prompt", system_prompt), ("model_id", model_id),
                                     ("adapter_json", adapter), ("settings_json", settings))
                   if v is not _UNSET}
        if changed.get("adapter_json") is not None:
            changed["adapter_json"] = json.dumps(changed["adapter_json"])
        if "settings_json" in changed:
            changed["settings_json"] = json.dumps(changed["settings_json"] or {})
        if changed:
            self._update_conversation(conversation_id, ", ".join(f"{k} = ?" for k in changed),
                                      tuple(changed.values()))
        return self.get(conversation_id)

    def delete(self, conversation_id: int) -> None:
        """Delete the conversation and all its messages."""
        self._conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def _update_conversation(self, conversation_id: int, assignments: str,
                             params: tuple[Any, ...]) -> None:
        cur = self._conn.execute(
            f"UPDATE conversations SET {assignments}, updated_at = ? WHERE id = ?",
            (*params, _now(), conversation_id))
        if cur.rowcount == 0:
            raise RecordNotFound(f"Conversation {conversation_id} does not exist.")

    # -- messages ------------------------------------------------------------------------

    def message(self, message_id: int) -> Message:
        row = self._conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise RecordNotFound(f"Message {message_id} does not exist.")
        return _message(row)

    def add_message(self, conversation_id: int, role: str, content: str,
                    parent_id: int | None = _ACTIVE_LEAF, status: str = "complete",
                    metadata: dict[str, Any] | None = None) -> Message:
        """Add a message under ``parent_id`` (default: the active leaf) and make it active.

        ``parent_id=None`` starts a new root. The first user message names an auto-titled
        conversation.
        """
        if role not in ROLES:
            raise ValueError(f"Unknown role {role!r}; expected one of {ROLES}.")
        with self._write() as conn:
            conv = conn.execute("SELECT active_leaf_id, title_is_auto FROM conversations"
                                " WHERE id = ?", (conversation_id,)).fetchone()
            if conv is None:
                raise RecordNotFound(f"Conversation {conversation_id} does not exist.")
            if parent_id is _ACTIVE_LEAF:
                parent_id = conv["active_leaf_id"]
            if parent_id is not None and conn.execute(
                    "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?",
                    (parent_id, conversation_id)).fetchone() is None:
                raise RecordNotFound(
                    f"Message {parent_id} is not part of conversation {conversation_id}.")
            title = None
            if role == "user" and conv["title_is_auto"] and conn.execute(
                    "SELECT 1 FROM messages WHERE conversation_id = ? AND role = 'user'",
                    (conversation_id,)).fetchone() is None:
                title = auto_title(content)
            now = _now()
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, parent_id, role, content, status,"
                " created_at, updated_at, metadata_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, parent_id, role, content, status, now, now,
                 json.dumps(metadata or {})))
            conn.execute(
                "UPDATE conversations SET active_leaf_id = ?, updated_at = ?,"
                " title = coalesce(?, title) WHERE id = ?",
                (cur.lastrowid, now, title, conversation_id))
        assert cur.lastrowid is not None  # set by every INSERT
        return self.message(cur.lastrowid)

    def thread(self, conversation_id: int, leaf_id: int | None = None) -> builtins.list[Message]:
        """The messages from the root down to ``leaf_id`` (default: the active leaf)."""
        if leaf_id is None:
            leaf_id = self.get(conversation_id).active_leaf_id
            if leaf_id is None:
                return []
        rows = self._conn.execute(
            "WITH RECURSIVE path(id, depth) AS ("
            " SELECT id, 0 FROM messages WHERE id = ? AND conversation_id = ?"
            " UNION ALL SELECT m.parent_id, path.depth + 1 FROM messages m"
            "  JOIN path ON m.id = path.id WHERE m.parent_id IS NOT NULL)"
            " SELECT m.* FROM path JOIN messages m ON m.id = path.id ORDER BY path.depth DESC",
            (leaf_id, conversation_id)).fetchall()
        return [_message(r) for r in rows]

    def siblings(self, message_id: int) -> builtins.list[Message]:
        """The alternatives at this point of the tree (including the message), oldest first."""
        msg = self.message(message_id)
        rows = self._conn.execute(
            "SELECT * FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY id",
            (msg.conversation_id, msg.parent_id)).fetchall()
        return [_message(r) for r in rows]

    def select(self, message_id: int) -> Message:
        """Show the branch through ``message_id``; return the new active leaf.

        The leaf is the newest message below it, i.e. where the user last worked in that
        branch (a message's children are always newer than it, so the newest is a leaf).
        """
        msg = self.message(message_id)
        leaf_id = self._conn.execute(
            "WITH RECURSIVE below(id) AS (SELECT ? UNION ALL"
            " SELECT m.id FROM messages m JOIN below ON m.parent_id = below.id)"
            " SELECT max(id) FROM below", (message_id,)).fetchone()[0]
        self._update_conversation(msg.conversation_id, "active_leaf_id = ?", (leaf_id,))
        return self.message(leaf_id)

    def edit_user_message(self, message_id: int, new_content: str) -> Message:
        """Ask again with different words: a new sibling question; the old branch is kept."""
        msg = self.message(message_id)
        if msg.role != "user":
            raise ValueError("Only your own messages can be edited.")
        return self.add_message(msg.conversation_id, "user", new_content,
                                parent_id=msg.parent_id)

    # -- streaming replies ---------------------------------------------------------------

    def begin_reply(self, conversation_id: int, parent_id: int | None = None,
                    metadata: dict[str, Any] | None = None) -> Message:
        """An empty assistant reply (status ``streaming``) under ``parent_id`` or the active leaf."""
        return self.add_message(conversation_id, "assistant", "",
                                parent_id=_ACTIVE_LEAF if parent_id is None else parent_id,
                                status="streaming", metadata=metadata)

    def update_reply(self, message_id: int, content: str) -> bool:
        """Save the text generated so far; False if the reply is no longer streaming."""
        cur = self._conn.execute(
            "UPDATE messages SET content = ?, updated_at = ? WHERE id = ? AND status = 'streaming'",
            (content, _now(), message_id))
        return cur.rowcount > 0

    def finish_reply(self, message_id: int, content: str, status: str = "complete",
                     metadata: dict[str, Any] | None = None) -> Message:
        """Store the final text and status; ``metadata`` is merged into what begin_reply saved."""
        if status not in FINISH_STATUSES:
            raise ValueError(f"Unknown final status {status!r}; expected one of {FINISH_STATUSES}.")
        msg = self.message(message_id)
        now = _now()
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET content = ?, status = ?, metadata_json = ?, updated_at = ?"
                " WHERE id = ?",
                (content, status, json.dumps({**msg.metadata, **(metadata or {})}), now,
                 message_id))
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                         (now, msg.conversation_id))
        return self.message(message_id)

    def recover_interrupted(self) -> int:
        """Mark replies left ``streaming`` by a crash as ``interrupted``; return how many."""
        return self._conn.execute(
            "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'").rowcount

    def regenerate(self, assistant_message_id: int) -> Message:
        """Begin a new streaming reply beside an old one; the old reply stays as an alternative."""
        msg = self.message(assistant_message_id)
        if msg.role != "assistant":
            raise ValueError("Only replies from the model can be regenerated.")
        return self.add_message(msg.conversation_id, "assistant", "", parent_id=msg.parent_id,
                                status="streaming")

    # -- search and export ---------------------------------------------------------------

    def search(self, text: str, limit: int = 100,
               marks: tuple[str, str] = ("[", "]")) -> builtins.list[SearchHit]:
        """Find conversations whose title or messages contain every word of ``text``.

        Title matches come first, then messages by relevance. ``marks`` surround the matched
        words in the snippet.
        """
        return search_conversations(self._conn, text, limit, marks)

    def export_markdown(self, conversation_id: int) -> str:
        """The visible thread as Markdown, for sharing or pasting elsewhere."""
        return conversation_markdown(self.get(conversation_id), self.thread(conversation_id))

    def export_json(self, conversation_id: int) -> dict[str, Any]:
        """The whole conversation tree with its settings, so nothing is lost."""
        conv = self.get(conversation_id)
        model = self._conn.execute("SELECT display_name FROM models WHERE id = ?",
                                   (conv.model_id,)).fetchone()
        rows = self._conn.execute("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id",
                                  (conversation_id,)).fetchall()
        return conversation_json(conv, [_message(r) for r in rows],
                                 model["display_name"] if model else None)
