"""ConversationStore against a real SQLite file: trees, streaming, crash recovery, search, export."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from slmdesk.core import db
from slmdesk.core.conversations._search import fts_query
from slmdesk.core.conversations.store import (
    ConversationStore,
    RecordNotFound,
    auto_title,
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "slmdesk.db"


@pytest.fixture
def conn(db_path: Path):
    connection = db.connect(db_path)
    yield connection
    connection.close()


@pytest.fixture
def store(conn: sqlite3.Connection) -> ConversationStore:
    return ConversationStore(conn)


def chat(store: ConversationStore, *turns: str, **create_args) -> int:
    """A conversation with alternating user/assistant messages; returns its id."""
    conv = store.create(**create_args)
    for i, text in enumerate(turns):
        store.add_message(conv.id, "user" if i % 2 == 0 else "assistant", text)
    return conv.id


def contents(messages) -> list[str]:
    return [m.content for m in messages]


def test_migration_creates_schema(conn: sqlite3.Connection) -> None:
    assert db.schema_version(conn) == db.SCHEMA_VERSION >= 2
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"conversations", "messages", "messages_fts", "conversations_fts"} <= tables


def test_create_get_rename(store: ConversationStore) -> None:
    conv = store.create(system_prompt="Be brief.", settings={"temperature": 0.2})
    assert conv.title == "New chat" and conv.title_is_auto
    assert conv.system_prompt == "Be brief."
    assert conv.settings == {"temperature": 0.2}
    assert conv.active_leaf_id is None and conv.model_id is None

    renamed = store.rename(conv.id, "  Holiday   plans ")
    assert renamed.title == "Holiday plans" and not renamed.title_is_auto
    store.add_message(conv.id, "user", "What should I pack?")
    assert store.get(conv.id).title == "Holiday plans"  # a chosen title is never replaced

    named = store.create(title="Given")
    assert not named.title_is_auto
    with pytest.raises(RecordNotFound):
        store.get(9999)


def test_update_settings_and_model(store: ConversationStore, conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO models (id, path, storage, kind, display_name, architecture, fingerprint,"
        " file_size, info_json) VALUES (7, '/m.gguf', 'link', 'model', 'Tiny', 'gemma3', 'f',"
        " 1, '{}')")
    conv = store.create(model_id=7)
    updated = store.update(conv.id, settings={"top_p": 0.9}, adapter={"path": "/a"})
    assert updated.settings == {"top_p": 0.9} and updated.adapter == {"path": "/a"}
    assert updated.model_id == 7 and updated.system_prompt == ""
    assert store.export_json(conv.id)["conversation"]["model_name"] == "Tiny"
    conn.execute("DELETE FROM models WHERE id = 7")
    assert store.get(conv.id).model_id is None  # ON DELETE SET NULL


def test_auto_title_from_first_user_message(store: ConversationStore) -> None:
    conv = store.create()
    store.add_message(conv.id, "system", "You are helpful.")
    store.add_message(conv.id, "user", "\n  How do I bake sourdough bread at home without a "
                                       "starter from a bakery?\nSecond line")
    title = store.get(conv.id).title
    assert title.endswith("…") and len(title) <= 48
    assert title == "How do I bake sourdough bread at home without…"
    store.add_message(conv.id, "assistant", "Like this.")
    store.add_message(conv.id, "user", "Something else entirely")
    assert store.get(conv.id).title == title  # only the first question names it


def test_auto_title_helper() -> None:
    assert auto_title("Short question") == "Short question"
    assert auto_title("   \n\n") is None
    assert auto_title("x" * 100) == "x" * 47 + "…"


def test_delete_cascades(store: ConversationStore, conn: sqlite3.Connection) -> None:
    keep = chat(store, "keep apples", "ok")
    gone = chat(store, "delete bananas", "ok")
    store.delete(gone)
    assert [c.id for c in store.list()] == [keep]
    assert conn.execute("SELECT count(*) FROM messages WHERE conversation_id = ?",
                        (gone,)).fetchone()[0] == 0
    assert store.search("bananas") == []
    assert len(store.search("apples")) == 2  # title and message


def test_list_newest_first_and_filtered(store: ConversationStore) -> None:
    first = chat(store, "about cats")
    second = chat(store, "about dogs")
    assert [c.id for c in store.list()] == [second, first]
    store.add_message(first, "assistant", "cats purr")  # activity moves it to the top
    assert [c.id for c in store.list()] == [first, second]
    assert [c.id for c in store.list("dogs")] == [second]
    assert [c.id for c in store.list("   ")] == [first, second]
    assert store.list('"(*') == []


def test_thread_order(store: ConversationStore) -> None:
    conv_id = chat(store, "one", "two", "three", "four")
    thread = store.thread(conv_id)
    assert contents(thread) == ["one", "two", "three", "four"]
    assert [m.role for m in thread] == ["user", "assistant", "user", "assistant"]
    assert thread[0].parent_id is None
    assert all(b.parent_id == a.id for a, b in zip(thread, thread[1:]))
    assert store.get(conv_id).active_leaf_id == thread[-1].id
    assert contents(store.thread(conv_id, leaf_id=thread[1].id)) == ["one", "two"]
    assert store.thread(store.create().id) == []


def test_add_message_rejects_bad_input(store: ConversationStore) -> None:
    a = chat(store, "a")
    b = chat(store, "b")
    with pytest.raises(ValueError):
        store.add_message(a, "robot", "hi")
    with pytest.raises(RecordNotFound):
        store.add_message(a, "user", "hi", parent_id=store.get(b).active_leaf_id)
    assert contents(store.thread(a)) == ["a"]  # the failed writes left nothing behind


def test_regenerate_keeps_alternative(store: ConversationStore) -> None:
    conv_id = chat(store, "question", "first answer")
    old = store.thread(conv_id)[-1]
    new = store.regenerate(old.id)
    assert new.status == "streaming" and new.content == "" and new.parent_id == old.parent_id
    store.finish_reply(new.id, "second answer")
    assert contents(store.thread(conv_id)) == ["question", "second answer"]
    assert contents(store.siblings(new.id)) == ["first answer", "second answer"]
    assert store.select(old.id).id == old.id
    assert contents(store.thread(conv_id)) == ["question", "first answer"]
    with pytest.raises(ValueError):
        store.regenerate(store.thread(conv_id)[0].id)


def test_edit_branches_and_select_switches_back(store: ConversationStore) -> None:
    conv_id = chat(store, "q1", "a1", "q2", "a2")
    q2 = store.thread(conv_id)[2]
    edited = store.edit_user_message(q2.id, "q2 edited")
    assert edited.parent_id == q2.parent_id and edited.role == "user"
    assert store.get(conv_id).active_leaf_id == edited.id
    reply = store.begin_reply(conv_id)
    store.finish_reply(reply.id, "a2 edited")
    assert contents(store.thread(conv_id)) == ["q1", "a1", "q2 edited", "a2 edited"]
    assert contents(store.siblings(q2.id)) == ["q2", "q2 edited"]

    leaf = store.select(q2.id)  # back to the old branch, down to its last message
    assert leaf.content == "a2"
    assert contents(store.thread(conv_id)) == ["q1", "a1", "q2", "a2"]
    store.select(edited.id)
    assert contents(store.thread(conv_id)) == ["q1", "a1", "q2 edited", "a2 edited"]
    with pytest.raises(ValueError):
        store.edit_user_message(reply.id, "not mine")


def test_streaming_reply_completes_with_metadata(store: ConversationStore) -> None:
    conv_id = chat(store, "Tell me a story")
    reply = store.begin_reply(conv_id, metadata={"model": "Tiny"})
    assert store.update_reply(reply.id, "Once")
    assert store.message(reply.id).content == "Once"
    done = store.finish_reply(reply.id, "Once upon a time.",
                              metadata={"completion_tokens": 5, "finish_reason": "stop"})
    assert done.status == "complete" and done.content == "Once upon a time."
    assert done.metadata == {"model": "Tiny", "completion_tokens": 5, "finish_reason": "stop"}
    assert not store.update_reply(reply.id, "late chunk")  # a finished reply stays finished
    assert store.message(reply.id).content == "Once upon a time."
    with pytest.raises(ValueError):
        store.finish_reply(reply.id, "x", status="streaming")


def test_stopped_reply_is_kept(store: ConversationStore) -> None:
    conv_id = chat(store, "Count to a million")
    reply = store.begin_reply(conv_id)
    store.update_reply(reply.id, "1, 2, 3")
    store.finish_reply(reply.id, "1, 2, 3, 4", status="stopped")
    last = store.thread(conv_id)[-1]
    assert (last.id, last.status, last.content) == (reply.id, "stopped", "1, 2, 3, 4")
    assert store.recover_interrupted() == 0


def test_crash_while_streaming_is_recovered(db_path: Path) -> None:
    crashed = db.connect(db_path)
    store = ConversationStore(crashed)
    conv_id = chat(store, "Explain gravity")
    reply = store.begin_reply(conv_id)
    store.update_reply(reply.id, "Gravity is the force")
    store.update_reply(reply.id, "Gravity is the force that pulls")
    # A crash: the process dies without finishing; the next start opens a new connection.
    reopened = db.connect(db_path)
    try:
        fresh = ConversationStore(reopened)
        assert fresh.message(reply.id).status == "streaming"
        assert fresh.recover_interrupted() == 1
        msg = fresh.message(reply.id)
        assert (msg.status, msg.content) == ("interrupted", "Gravity is the force that pulls")
        assert fresh.recover_interrupted() == 0
        assert fresh.search("pulls")[0].message_id == reply.id
    finally:
        reopened.close()
        crashed.close()


def test_search_across_conversations(store: ConversationStore) -> None:
    garden = chat(store, "How deep should I plant tulip bulbs?", "About 20 cm deep.")
    store.rename(garden, "Garden")
    kitchen = chat(store, "Can I freeze tulip bulbs? Asking for the kitchen.", "Please don't.")
    hits = store.search("tulip")
    assert {h.conversation_id for h in hits} == {garden, kitchen}
    kitchen_hit = next(h for h in hits if h.conversation_id == kitchen and h.message_id)
    assert kitchen_hit.conversation_title.startswith("Can I freeze tulip")
    assert "[tulip]" in kitchen_hit.snippet
    assert store.message(kitchen_hit.message_id).conversation_id == kitchen

    title_hits = store.search("garden")
    assert [(h.conversation_id, h.message_id) for h in title_hits] == [(garden, None)]
    assert [h.conversation_id for h in store.search("tul deep")] == [garden]  # prefix, AND
    assert store.search("Tulíp") != []  # accents are ignored


@pytest.mark.parametrize("query", ['"foo* OR (', "AND", "NOT tulip", "(((", '"', "*", "a:b",
                                   "NEAR(x y)", "^start", "don't", "", "   "])
def test_search_is_robust_to_special_characters(store: ConversationStore, query: str) -> None:
    chat(store, "don't foo OR bar tulip (start)")
    assert isinstance(store.search(query), list)
    assert isinstance(store.list(query), list)


def test_fts_query_quotes_everything() -> None:
    assert fts_query('"foo* OR (') == '"""foo*"* "OR"*'
    assert fts_query('say "hi"') == '"say"* """hi"""*'
    assert fts_query("  ( * ") == ""


def test_export_markdown_shows_active_thread(store: ConversationStore) -> None:
    conv_id = chat(store, "What is 2+2?", "5", system_prompt="You are a maths tutor.")
    store.regenerate(store.thread(conv_id)[-1].id)
    store.finish_reply(store.get(conv_id).active_leaf_id, "4", status="stopped")
    md = store.export_markdown(conv_id)
    assert md.startswith("# What is 2+2?\n")
    assert "## System prompt\n\nYou are a maths tutor." in md
    assert "## User\n\nWhat is 2+2?" in md
    assert "## Assistant (stopped)\n\n4" in md
    assert "\n5" not in md  # the inactive alternative is not part of the thread
    assert md.index("## User") < md.index("## Assistant")


def test_export_json_keeps_the_whole_tree(store: ConversationStore) -> None:
    conv_id = chat(store, "q", "a1", system_prompt="sys", settings={"temperature": 0.7})
    first = store.thread(conv_id)[-1]
    alt = store.regenerate(first.id)
    store.finish_reply(alt.id, "a2", metadata={"tokens_per_second": 12.5})
    data = store.export_json(conv_id)
    assert data["format"] == "slmdesk.conversation"
    conv = data["conversation"]
    assert conv["settings"] == {"temperature": 0.7} and conv["system_prompt"] == "sys"
    assert conv["active_leaf_id"] == alt.id and conv["title"] == "q"
    msgs = {m["content"]: m for m in data["messages"]}
    assert set(msgs) == {"q", "a1", "a2"}
    assert msgs["a1"]["parent_id"] == msgs["a2"]["parent_id"] == msgs["q"]["id"]
    assert msgs["a2"]["metadata"] == {"tokens_per_second": 12.5}
    json.dumps(data)  # serialisable as-is


def test_everything_survives_reopening(db_path: Path) -> None:
    first = db.connect(db_path)
    store = ConversationStore(first)
    conv_id = chat(store, "persist me", "persisted", settings={"seed": 1})
    q = store.thread(conv_id)[0]
    store.edit_user_message(q.id, "persist me too")
    before = store.export_json(conv_id)
    first.close()

    second = db.connect(db_path)
    try:
        assert db.migrate(second) == db.SCHEMA_VERSION  # migrating again is a no-op
        again = ConversationStore(second)
        assert again.export_json(conv_id) == before
        assert contents(again.thread(conv_id)) == ["persist me too"]
        assert [c.id for c in again.list("persisted")] == [conv_id]
        assert again.get(conv_id).settings == {"seed": 1}
    finally:
        second.close()
