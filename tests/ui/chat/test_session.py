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
