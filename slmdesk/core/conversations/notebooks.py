"""Notebooks kept like conversations: one text a base model continues, saved as it grows.

A notebook is a single document rather than a tree of messages: the person writes, the model
continues the text, the person edits anywhere and asks for more. So a row holds the whole text,
the model and the sampling settings (the same keys as a conversation's). Undo lives in the
window (a stack of earlier texts): it is a tool for the minutes of one sitting, while the
database keeps the text itself.

While the model writes, :class:`StreamingSave` stores the growing text at most every half
second (as chat replies are stored), so a crash of the window loses at most that much, without
a write for every token.

Like :class:`~slmdesk.core.conversations.store.ConversationStore`, a store is not thread-safe;
give each thread its own connection and store.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slmdesk.core.conversations.store import RecordNotFound, _now, auto_title

DEFAULT_TITLE = "New notebook"
#: How often a text that is being generated is written to the database.
SAVE_INTERVAL_S = 0.5

_UNSET: Any = object()


@dataclass
class Notebook:
    id: int
    title: str
    title_is_auto: bool = field(metadata={"help": "Named after the text's first line."})
    text: str
    model_id: int | None
    settings: dict[str, Any] = field(metadata={"help": "Sampling settings (temperature, ...)."})
    created_at: str
    updated_at: str


def _notebook(row: sqlite3.Row) -> Notebook:
    return Notebook(
        id=row["id"], title=row["title"], title_is_auto=bool(row["title_is_auto"]),
        text=row["text"], model_id=row["model_id"], settings=json.loads(row["settings_json"]),
        created_at=row["created_at"], updated_at=row["updated_at"])


class NotebookStore:
    """Reads and writes notebooks in the SLM Desk database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def create(self, title: str | None = None, text: str = "", model_id: int | None = None,
               settings: dict[str, Any] | None = None) -> Notebook:
        """A new notebook; without a title it is named after its text's first line."""
        now = _now()
        name = (auto_title(text) or DEFAULT_TITLE) if title is None else _clean_title(title)
        cur = self._conn.execute(
            "INSERT INTO notebooks (title, title_is_auto, text, model_id, settings_json,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, title is None, text, model_id, json.dumps(settings or {}), now, now))
        assert cur.lastrowid is not None  # set by every INSERT
        return self.get(cur.lastrowid)

    def get(self, notebook_id: int) -> Notebook:
        row = self._conn.execute("SELECT * FROM notebooks WHERE id = ?",
                                 (notebook_id,)).fetchone()
        if row is None:
            raise RecordNotFound(f"Notebook {notebook_id} does not exist.")
        return _notebook(row)

    def list(self) -> list[Notebook]:
        """Every notebook, the most recently written first."""
        rows = self._conn.execute(
            "SELECT * FROM notebooks ORDER BY updated_at DESC, id DESC").fetchall()
        return [_notebook(r) for r in rows]

    def update(self, notebook_id: int, *, text: str = _UNSET, title: str = _UNSET,
               model_id: int | None = _UNSET, settings: dict[str, Any] = _UNSET,
               keep_title: bool = False) -> Notebook:
        """Change any of text, title, model and settings; the others stay as they are.

        A title given here is the person's and is never replaced; until then the title
        follows the text's first line, except with ``keep_title`` (the model's own writing:
        a notebook is named after the person's words, not renamed as a continuation streams).
        """
        assignments: list[str] = []
        values: list[Any] = []
        if title is not _UNSET:
            assignments += ["title = ?", "title_is_auto = 0"]
            values.append(_clean_title(title))
        elif text is not _UNSET and not keep_title and (named := auto_title(text)) is not None:
            assignments.append("title = CASE WHEN title_is_auto THEN ? ELSE title END")
            values.append(named)
        for column, value in (("text", text), ("model_id", model_id)):
            if value is not _UNSET:
                assignments.append(f"{column} = ?")
                values.append(value)
        if settings is not _UNSET:
            assignments.append("settings_json = ?")
            values.append(json.dumps(settings or {}))
        if assignments:
            cur = self._conn.execute(
                f"UPDATE notebooks SET {', '.join(assignments)}, updated_at = ? WHERE id = ?",
                (*values, _now(), notebook_id))
            if cur.rowcount == 0:
                raise RecordNotFound(f"Notebook {notebook_id} does not exist.")
        return self.get(notebook_id)

    def rename(self, notebook_id: int, title: str) -> Notebook:
        return self.update(notebook_id, title=title)

    def delete(self, notebook_id: int) -> None:
        self._conn.execute("DELETE FROM notebooks WHERE id = ?", (notebook_id,))


def _clean_title(title: str) -> str:
    return " ".join(title.split()) or DEFAULT_TITLE


class StreamingSave:
    """Saves a notebook's text while the model writes it: at most every ``interval`` seconds.

    The title is left as it is (see :meth:`NotebookStore.update`'s ``keep_title``).

    Call :meth:`update` with the whole text on every change and :meth:`finish` at the end
    (always written). A notebook deleted meanwhile is not recreated: the saves stop quietly.
    """

    def __init__(self, store: NotebookStore, notebook_id: int,
                 interval: float = SAVE_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.notebook_id = store, notebook_id
        self._interval, self._clock = interval, clock
        self._saved_at = clock()
        self._pending: str | None = None
        self.gone = False

    def update(self, text: str) -> bool:
        """Note the text; write it if the last write is ``interval`` old. True if written."""
        self._pending = text
        if self._clock() - self._saved_at < self._interval:
            return False
        return self._save()

    def finish(self, text: str | None = None) -> bool:
        """Write the final text (default: the last one noted). True if written."""
        if text is not None:
            self._pending = text
        return self._save()

    def _save(self) -> bool:
        text, self._pending = self._pending, None
        if text is None or self.gone:
            return False
        try:
            self.store.update(self.notebook_id, text=text, keep_title=True)
        except RecordNotFound:
            self.gone = True
            return False
        self._saved_at = self._clock()
        return True
