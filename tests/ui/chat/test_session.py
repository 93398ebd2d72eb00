"""ChatSession on its own: a real engine process, a real database, a tiny model that runs."""

from __future__ import annotations

import pytest

from slmdesk.core.conversations.store import ConversationStore
from slmdesk.core.library.store import ModelLibrary
from slmdesk.paths import app_paths
from slmdesk.ui.chat.session import ChatRefused, ChatSession
from tests.core.engine.sigill_host import MODULE as SIGILL_HOST
from tests.loadable_models import write_loadable_model

TIMEOUT = 120_000
GREEDY = {"temperature": 0.0, "seed": 1, "max_tokens": 8, "context_length": 256}


@pytest.fixture
def session(qtbot, tmp_path):
    paths = app_paths().ensure()
    library = ModelLibrary.open(paths)
    store = ConversationStore(library.conn)
    chat = ChatSession(store, library, paths)
    chat.model = library.import_file(write_loadable_model(tmp_path / "tiny.gguf", "llama"),
                                     link=True)
    yield chat
    chat.shutdown()
    library.close()


def _conversation(session, **settings):
    return session.store.create(model_id=session.model.id, settings={**GREEDY, **settings})


def test_a_reply_streams_and_is_saved_complete(qtbot, session):
    conv = _conversation(session)
    states = []
    session.state_changed.connect(states.append)
    with qtbot.waitSignal(session.reply_finished, timeout=TIMEOUT) as finished:
        reply = session.ask(conv.id, "the cat")
    saved = session.store.message(finished.args[0])
    assert saved.id == reply.id and saved.status == "complete" and saved.content
    assert saved.metadata["model_id"] == session.model.id
    assert states[:3] == ["loading", "generating", "ready"]
    assert [m.role for m in session.store.thread(conv.id)] == ["user", "assistant"]


def test_a_second_question_while_one_is_written_is_refused(qtbot, session):
    conv = _conversation(session, max_tokens=200)
    session.ask(conv.id, "the cat")
    with pytest.raises(ChatRefused, match="still being written"):
        session.ask(conv.id, "and the dog")
    with qtbot.waitSignal(session.reply_finished, timeout=TIMEOUT):
        session.stop()
    assert session.store.thread(conv.id)[-1].status == "stopped"


def test_without_a_model_nothing_starts(qtbot, session):
    conv = session.store.create(model_id=None)
    with pytest.raises(ChatRefused, match="Choose a model"):
        session.ask(conv.id, "hello")
    assert not session.engine.running and session.store.thread(conv.id) == []


def test_a_model_too_big_for_memory_is_refused_before_loading(qtbot, session):
    session.available_memory = lambda: 1024  # a kilobyte free
    conv = _conversation(session)
    with pytest.raises(ChatRefused, match="will not fit"):
        session.ask(conv.id, "hello")
    assert not session.engine.running


def test_after_a_sigill_the_same_model_is_not_started_again(qtbot, session):
    session.engine.module = SIGILL_HOST
    conv = _conversation(session)
    with qtbot.waitSignal(session.engine_crashed, timeout=TIMEOUT) as crashed:
        session.ask(conv.id, "the cat")
    assert "processor does not have" in crashed.args[0]
    assert session.state == "crashed" and not session.restart_helps
    assert session.store.thread(conv.id)[-1].status == "interrupted"
    with pytest.raises(ChatRefused, match="processor"):
        session.restart()
    with pytest.raises(ChatRefused, match="processor"):
        session.ask(conv.id, "again")
    assert not session.engine.running


@pytest.mark.slow
def test_a_reply_with_an_adapter_and_documents_cites_the_right_file(qtbot, tmp_path):
    """#18: "works with a fine-tuned adapter too", through the Chat session on the real engine: a
    conversation with SmolLM2, an adapter and a collection attached answers from the passage and
    keeps it as its source."""
    from slmdesk.core.documents.index import DocumentIndex
    from slmdesk.core.library.starters import _smollm2_file
    from tests.document_factory import write_town_notes
    from tests.gguf_factory import write_smollm2_lora

    paths = app_paths().ensure()
    library = ModelLibrary.open(paths)
    store = ConversationStore(library.conn)
    session = ChatSession(store, library, paths)
    try:
        model = library.import_file(_smollm2_file(), link=True)
        adapter = library.import_file(write_smollm2_lora(tmp_path / "lora.gguf", name="Town notes"), link=True,
                                      base_model_id=model.id)
        folder = write_town_notes(tmp_path / "notes")
        index = DocumentIndex(library.conn)
        collection = index.create("town", [folder])
        index.update("town")
        conv = store.create(model_id=model.id, adapter={"id": adapter.id, "scale": 1.0},
                            settings={"temperature": 0.0, "seed": 1, "max_tokens": 40, "context_length": 1024,
                                      "documents": [collection.id]})
        loaded: list[dict] = []
        session.model_loaded.connect(loaded.append)
        with qtbot.waitSignal(session.reply_finished, timeout=TIMEOUT) as finished:
            session.ask(conv.id, "Who is the lighthouse keeper?")
        reply = store.message(finished.args[0])
    finally:
        session.shutdown()
        library.close()
    assert loaded and loaded[-1]["adapters"] == [{"path": str(adapter.path), "scale": 1.0}]
    assert reply.status == "complete" and "Agnes" in reply.content, reply.content
    assert reply.metadata["adapter"] == adapter.display_name
    assert reply.metadata["documents_mode"] == "whole"
    assert [s["file_name"] for s in reply.metadata["given"]] == ["bakery.md", "light.txt"]
    assert [s["file_name"] for s in reply.metadata["sources"]] == ["light.txt"], reply.metadata["sources_basis"]
    assert reply.metadata["invented_citations"] == []
