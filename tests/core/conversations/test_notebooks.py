"""NotebookStore against a real SQLite file: create, list, update, delete, saves while streaming."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from slmdesk.core import db
from slmdesk.core.conversations.notebooks import (
    DEFAULT_TITLE,
    NotebookStore,
    StreamingSave,
)
from slmdesk.core.conversations.store import RecordNotFound


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "slmdesk.db"


@pytest.fixture
def conn(db_path: Path):
    connection = db.connect(db_path)
    yield connection
    connection.close()


@pytest.fixture
def store(conn: sqlite3.Connection) -> NotebookStore:
    return NotebookStore(conn)


def _model(conn: sqlite3.Connection) -> int:
    cur = conn.execute(
        "INSERT INTO models (path, storage, kind, display_name, architecture, fingerprint,"
        " file_size, info_json) VALUES ('/m.gguf', 'link', 'model', 'M', 'gemma3', 'f', 1, '{}')")
    return int(cur.lastrowid)


def test_the_migration_adds_the_notebooks_table(conn):
    assert db.schema_version(conn) == db.SCHEMA_VERSION >= 4
    columns = {r["name"] for r in conn.execute("PRAGMA table_info(notebooks)")}
    assert {"id", "title", "title_is_auto", "text", "model_id", "settings_json",
            "created_at", "updated_at"} <= columns


def test_a_database_of_the_previous_version_gains_notebooks_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    db.migrate(old, db.MIGRATIONS[:3])
    old.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('c', 'x', 'x')")
    old.close()
    conn = db.connect(path)
    assert db.schema_version(conn) == db.SCHEMA_VERSION
    assert conn.execute("SELECT title FROM conversations").fetchone()[0] == "c"
    assert NotebookStore(conn).list() == []
    conn.close()


def test_create_and_get(store, conn):
    model_id = _model(conn)
    nb = store.create(model_id=model_id, settings={"temperature": 0.0})
    assert nb.title == DEFAULT_TITLE and nb.title_is_auto
    assert nb.text == "" and nb.model_id == model_id
    assert nb.settings == {"temperature": 0.0}
    assert store.get(nb.id) == nb
    named = store.create(title="  My   story ", text="Once upon a time")
    assert named.title == "My story" and not named.title_is_auto
    assert store.create(text="\n  Chapter one\nIt was").title == "Chapter one"


def test_list_is_newest_first_and_follows_writes(store):
    first, second = store.create(), store.create()
    assert [nb.id for nb in store.list()] == [second.id, first.id]
    store.update(first.id, text="more")
    assert [nb.id for nb in store.list()] == [first.id, second.id]


def test_update_changes_only_what_is_given(store, conn):
    model_id = _model(conn)
    nb = store.create(settings={"temperature": 0.5})
    store.update(nb.id, text="The cat sat\non the mat")
    nb = store.get(nb.id)
    assert nb.text == "The cat sat\non the mat" and nb.title == "The cat sat"
    assert nb.settings == {"temperature": 0.5} and nb.model_id is None
    nb = store.update(nb.id, model_id=model_id, settings={"temperature": 0.0, "top_k": 5})
    assert nb.model_id == model_id and nb.settings == {"temperature": 0.0, "top_k": 5}
    assert nb.text == "The cat sat\non the mat"
    assert store.update(nb.id, model_id=None).model_id is None


def test_the_title_follows_the_text_until_the_person_names_it(store):
    nb = store.create()
    assert store.update(nb.id, text="Dear diary").title == "Dear diary"
    assert store.update(nb.id, text="Dear Sam").title == "Dear Sam"
    assert store.update(nb.id, text="   ").title == "Dear Sam"  # no line: the title stays
    renamed = store.rename(nb.id, "Letters")
    assert renamed.title == "Letters" and not renamed.title_is_auto
    assert store.update(nb.id, text="Something else").title == "Letters"
    assert store.rename(nb.id, "   ").title == DEFAULT_TITLE


def test_a_deleted_model_leaves_the_notebook(store, conn):
    model_id = _model(conn)
    nb = store.create(model_id=model_id, text="kept")
    conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
    assert store.get(nb.id).model_id is None and store.get(nb.id).text == "kept"


def test_delete_and_missing_notebooks(store):
    nb = store.create()
    store.delete(nb.id)
    assert store.list() == []
    with pytest.raises(RecordNotFound):
        store.get(nb.id)
    with pytest.raises(RecordNotFound):
        store.update(nb.id, text="x")
    store.delete(nb.id)  # deleting twice is harmless


def test_the_text_survives_reopening_the_database(db_path):
    conn = db.connect(db_path)
    nb = NotebookStore(conn).create(text="Once upon a time")
    NotebookStore(conn).update(nb.id, text="Once upon a time, there was a fox.")
    conn.close()
    again = db.connect(db_path)
    assert NotebookStore(again).get(nb.id).text == "Once upon a time, there was a fox."
    again.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_streaming_text_is_saved_at_most_every_half_second(store):
    nb = store.create(text="Once")
    clock = _Clock()
    save = StreamingSave(store, nb.id, clock=clock)
    assert not save.update("Once upon")
    clock.now += 0.2
    assert not save.update("Once upon a")
    assert store.get(nb.id).text == "Once"
    clock.now += 0.31
    assert save.update("Once upon a time")
    assert store.get(nb.id).text == "Once upon a time"
    clock.now += 0.1
    assert not save.update("Once upon a time there")
    assert save.finish()  # the end is always written, however soon
    assert store.get(nb.id).text == "Once upon a time there"
    assert not save.finish()  # nothing new to write
    assert save.finish("Once upon a time there was")
    assert store.get(nb.id).text == "Once upon a time there was"


def test_the_models_writing_does_not_rename_a_notebook(store):
    nb = store.create()
    store.update(nb.id, text="Dear diary,")
    save = StreamingSave(store, nb.id, clock=_Clock())
    assert save.finish("Dear diary, today I went to the market")
    stored = store.get(nb.id)
    assert stored.text == "Dear diary, today I went to the market"
    assert stored.title == "Dear diary," and stored.title_is_auto
    assert store.update(nb.id, text="Dear Sam, today").title == "Dear Sam, today"


def test_a_notebook_deleted_while_it_streams_is_not_recreated(store):
    nb = store.create()
    clock = _Clock()
    save = StreamingSave(store, nb.id, clock=clock)
    store.delete(nb.id)
    clock.now += 1
    assert not save.update("text") and save.gone
    assert not save.finish("more")
    assert store.list() == []
