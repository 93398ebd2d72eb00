"""The Chat page on the real starter model, real engine process and real database."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from slmdesk.core import db
from slmdesk.core.conversations.store import ConversationStore
from slmdesk.core.engine.sampling import DEFAULTS_KEY
from slmdesk.core.settings import get_setting
from slmdesk.ui.app import MainWindow
from slmdesk.ui.chat.messages import MessageView, MessageWidget
from slmdesk.ui.chat.view import ChatView
from tests.gguf_factory import write_tiny_adapter, write_tiny_model

REPLY_TIMEOUT = 240_000
QUESTION = "The capital of France is"


def open_window(qtbot, model: Path | None = None) -> MainWindow:
    win = MainWindow(set_up_starter=False)
    qtbot.addWidget(win)
    if model is not None:
        win.library.import_file(model, link=True)
        win.library_view.refresh()
        win.library_view.library_changed.emit()
    win.show()
    win.show_section("Chat")
    return win


def close_window(win: MainWindow) -> None:
    win.close()
    win.library.close()


@pytest.fixture
def window(qtbot, starter_model_path):
    win = open_window(qtbot, starter_model_path)
    yield win
    close_window(win)


@pytest.fixture
def empty_window(qtbot):
    win = open_window(qtbot)
    yield win
    close_window(win)


def configure(chat: ChatView, max_tokens: int = 32, seed: int = 1) -> None:
    """Repeatable, short replies at a small context (quick to load on a busy machine)."""
    panel = chat.settings_panel
    panel.temperature.setValue(0.0)
    panel.seed.setValue(seed)
    panel.max_tokens.setValue(max_tokens)
    panel.context_length.setValue(1024)


def type_and_send(qtbot, chat: ChatView, text: str) -> None:
    chat.composer.setPlainText(text)
    qtbot.keyClick(chat.composer, Qt.Key.Key_Return)


def send_and_wait(qtbot, chat: ChatView, text: str = QUESTION) -> int:
    with qtbot.waitSignal(chat.session.reply_finished, timeout=REPLY_TIMEOUT) as blocker:
        type_and_send(qtbot, chat, text)
    return blocker.args[0]


def shown(chat: ChatView) -> list[tuple[str, str, str]]:
    return [(w.role, w.text, w.status) for w in chat.message_list.widgets]


# --- with the real model -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_streamed_reply_appears_with_its_timings(qtbot, window, tmp_path):
    chat = window.chat_view
    configure(chat)
    updates = []
    chat.session.reply_changed.connect(lambda mid, text: updates.append(text))
    states = []
    chat.session.state_changed.connect(states.append)
    reply_id = send_and_wait(qtbot, chat)

    assert "loading" in states and "generating" in states
    assert updates, "the reply was never shown while it was written"
    assert chat.composer.toPlainText() == ""
    (_, question, _), (role, answer, status) = shown(chat)
    assert question == QUESTION
    assert role == "assistant" and answer.strip() and status == "complete"
    stored = chat.store.message(reply_id)
    assert stored.content == answer
    assert stored.metadata["time_to_first_token"] > 0
    assert stored.metadata["tokens_per_second"] > 0
    assert stored.metadata["model"] == "Gemma 3 270M" or stored.metadata["model"]
    info = chat.message_list.widgets[-1].info_label.text()
    assert "s to first token" in info and "tokens/s" in info
    assert "Chat format: Gemma turn format" in chat.header.format_label.full_text
    assert chat.header.status_label.text() == "Ready"
    assert chat.conversations.titles() == [QUESTION]
    conv = chat.store.get(chat.conversation_id)
    assert conv.model_id == window.library.models()[0].id
    assert conv.settings["max_tokens"] == 32 and conv.settings["temperature"] == 0.0

    window.grab().save(str(tmp_path / "chat.png"))
    chat.message_list.widgets[-1].copy_button.click()
    assert QGuiApplication.clipboard().text() == answer


@pytest.mark.slow
def test_escape_stops_the_reply_and_keeps_it(qtbot, window):
    chat = window.chat_view
    configure(chat, max_tokens=400)
    with qtbot.waitSignal(chat.session.reply_changed, timeout=REPLY_TIMEOUT):
        type_and_send(qtbot, chat, "Write a long story about a dragon.")
    reply_id = chat.session.reply.message_id
    assert chat.stop_button.isVisible() and not chat.send_button.isVisible()
    # The growing reply is saved while it streams, not only at the end.
    qtbot.waitUntil(lambda: chat.store.message(reply_id).content != "", timeout=30_000)
    assert chat.store.message(reply_id).status == "streaming"

    started = time.monotonic()
    with qtbot.waitSignal(chat.session.reply_finished, timeout=5_000):
        qtbot.keyClick(chat.composer, Qt.Key.Key_Escape)
    assert time.monotonic() - started < 0.5
    stored = chat.store.message(reply_id)
    assert stored.status == "stopped" and stored.content.strip()
    assert shown(chat)[-1] == ("assistant", stored.content, "stopped")
    assert chat.message_list.widgets[-1].info_label.text().startswith("Stopped")
    assert chat.send_button.isVisible() and not chat.stop_button.isVisible()


@pytest.mark.slow
def test_regenerate_keeps_the_earlier_reply_as_an_alternative(qtbot, window):
    chat = window.chat_view
    configure(chat, seed=1)
    first = send_and_wait(qtbot, chat)
    chat.settings_panel.temperature.setValue(0.9)  # a different reply is likely, not needed
    with qtbot.waitSignal(chat.session.reply_finished, timeout=REPLY_TIMEOUT) as blocker:
        chat.message_list.widgets[-1].regenerate_button.click()
    second = blocker.args[0]
    assert second != first
    assert [m.id for m in chat.store.siblings(second)] == [first, second]
    last = chat.message_list.widgets[-1]
    assert last.message_id == second and last.branch_label.text() == "2/2"
    assert len(chat.message_list.widgets) == 2

    last.prev_button.click()
    last = chat.message_list.widgets[-1]
    assert last.message_id == first and last.branch_label.text() == "1/2"
    assert last.text == chat.store.message(first).content
    last.next_button.click()
    assert chat.message_list.widgets[-1].message_id == second


@pytest.mark.slow
def test_editing_a_question_starts_a_branch_and_keeps_the_old_one(qtbot, window):
    chat = window.chat_view
    configure(chat)
    old_reply = send_and_wait(qtbot, chat, "Hello")
    question = chat.message_list.widgets[0]
    question.edit_button.click()
    assert question.editor.isVisible()
    question.editor.setPlainText("Hi there")
    with qtbot.waitSignal(chat.session.reply_finished, timeout=REPLY_TIMEOUT) as blocker:
        question.save_edit_button.click()
    new_reply = blocker.args[0]
    assert [(role, text) for role, text, _ in shown(chat)][0] == ("user", "Hi there")
    assert chat.message_list.widgets[-1].message_id == new_reply
    assert chat.message_list.widgets[0].branch_label.text() == "2/2"

    chat.message_list.widgets[0].prev_button.click()
    assert shown(chat)[0][1] == "Hello"
    assert chat.message_list.widgets[-1].message_id == old_reply


@pytest.mark.slow
def test_everything_is_still_there_after_a_restart(qtbot, window, starter_model_path):
    chat = window.chat_view
    configure(chat, max_tokens=24)
    send_and_wait(qtbot, chat)
    with qtbot.waitSignal(chat.session.reply_finished, timeout=REPLY_TIMEOUT):
        chat.message_list.widgets[-1].regenerate_button.click()
    before = shown(chat)
    conv_id = chat.conversation_id
    close_window(window)
    assert not chat.session.engine.running

    again = open_window(qtbot)
    try:
        chat2 = again.chat_view
        assert chat2.conversation_id == conv_id
        assert chat2.conversations.titles() == [QUESTION]
        assert shown(chat2) == before
        assert chat2.message_list.widgets[-1].branch_label.text() == "2/2"
        assert chat2.settings_panel.max_tokens.value() == 24
        assert chat2.settings_panel.temperature.value() == 0.0
        assert chat2.header.model_picker.currentText() == "Gemma 3 270M"
        assert "s to first token" in chat2.message_list.widgets[-1].info_label.text()
    finally:
        close_window(again)


@pytest.mark.slow
def test_a_killed_engine_is_reported_and_the_conversation_kept(qtbot, window):
    chat = window.chat_view
    configure(chat, max_tokens=400)
    with qtbot.waitSignal(chat.session.reply_changed, timeout=REPLY_TIMEOUT):
        type_and_send(qtbot, chat, "Write a long story about a dragon.")
    reply_id = chat.session.reply.message_id
    qtbot.waitUntil(lambda: len(chat.session.reply.text) > 10, timeout=60_000)
    with qtbot.waitSignal(chat.session.engine_crashed, timeout=30_000):
        os.kill(chat.session.engine.pid, signal.SIGKILL)

    assert "stopped unexpectedly" in chat.notice.text
    assert chat.notice.action_button.isVisible()
    assert chat.notice.action_button.text() == "Restart engine"
    assert "killed" in chat.notice.details_view.toPlainText()
    assert chat.header.status_label.text() == "Engine stopped"
    stored = chat.store.message(reply_id)
    assert stored.status == "interrupted" and stored.content.strip()
    assert shown(chat)[0] == ("user", "Write a long story about a dragon.", "complete")
    assert shown(chat)[-1][2] == "interrupted"
    assert chat.message_list.widgets[-1].info_label.text().startswith("Interrupted")

    with qtbot.waitSignal(chat.session.model_loaded, timeout=REPLY_TIMEOUT):
        chat.notice.action_button.click()
    assert not chat.notice.isVisible()
    configure(chat, max_tokens=16)
    reply = send_and_wait(qtbot, chat, "Thank you.")
    assert chat.store.message(reply).status == "complete"
    assert len(chat.store.thread(chat.conversation_id)) == 4


@pytest.mark.slow
def test_an_engine_killed_by_sigill_is_explained_and_not_restarted_in_a_loop(qtbot, window):
    """An engine built for another processor dies with SIGILL on every load: the page says so in
    plain words and offers no restart that would only crash again."""
    from tests.core.engine.sigill_host import MODULE as SIGILL_HOST

    chat = window.chat_view
    configure(chat)
    chat.session.engine.module = SIGILL_HOST
    with qtbot.waitSignal(chat.session.engine_crashed, timeout=REPLY_TIMEOUT):
        type_and_send(qtbot, chat, QUESTION)

    assert "processor does not have" in chat.notice.text
    assert "llama.cpp" in chat.notice.text and "Reinstall SLM Desk" in chat.notice.text
    assert not chat.notice.action_button.isVisible()
    assert shown(chat)[-1][2] == "interrupted"
    assert not chat.session.restart_helps

    type_and_send(qtbot, chat, "Are you there?")  # the same model again: refused, no new engine
    assert not chat.session.engine.running
    assert "cannot run this model on this computer's processor" in chat.notice.text
    assert [role for role, _, _ in shown(chat)] == ["user", "assistant"]


@pytest.mark.slow
def test_the_user_is_told_when_the_oldest_turns_were_left_out(qtbot, window):
    chat = window.chat_view
    configure(chat, max_tokens=16)
    chat.settings_panel.context_length.setValue(256)
    conv_id = chat.conversation_id
    words = " ".join(["river"] * 60)
    for turn in range(4):
        chat.store.add_message(conv_id, "user", f"Question {turn}: {words}")
        chat.store.add_message(conv_id, "assistant", f"Answer {turn}: {words}")
    chat.show_thread()
    reply = send_and_wait(qtbot, chat, "And now?")
    dropped = chat.store.message(reply).metadata["truncated_turns"]
    assert dropped > 0
    assert chat.notice.kind == "warning"
    assert f"the oldest {dropped} turn" in chat.notice.text
    assert "oldest turn(s) left out" in chat.message_list.widgets[-1].info_label.text()


@pytest.mark.slow
def test_a_damaged_model_shows_the_loaders_message(qtbot, empty_window, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.gguf", architecture="llama", name="Broken Tiny",
                             chat_template="{{ messages }}")
    empty_window.library.import_file(model, link=True)
    model.write_bytes(model.read_bytes()[:2048])  # damaged after it was added to the library
    chat = empty_window.chat_view
    chat.refresh_models()
    with qtbot.waitSignal(chat.session.reply_finished, timeout=REPLY_TIMEOUT) as blocker:
        type_and_send(qtbot, chat, "Hello")
    assert "could not open this model file" in chat.notice.text
    assert chat.notice.kind == "error"
    stored = chat.store.message(blocker.args[0])
    assert stored.status == "error"
    assert "could not open this model file" in chat.message_list.widgets[-1].info_label.text()


# --- without running a model ---------------------------------------------------------------------


def test_a_model_that_will_not_fit_is_refused_before_loading(qtbot, window):
    chat = window.chat_view
    chat.session.available_memory = lambda: 64 * 1024**2
    type_and_send(qtbot, chat, QUESTION)
    assert "will not fit" in chat.notice.text
    assert "Needs about" in chat.notice.text and "67.1 MB" in chat.notice.text
    assert not chat.session.engine.running
    assert chat.composer.toPlainText() == QUESTION  # nothing lost, nothing sent
    assert chat.store.thread(chat.conversation_id) == []


def test_shift_enter_adds_a_line_instead_of_sending(qtbot, window):
    chat = window.chat_view
    chat.composer.setPlainText("first line")
    chat.composer.moveCursor(chat.composer.textCursor().MoveOperation.End)
    qtbot.keyClick(chat.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert chat.composer.toPlainText() == "first line\n"
    assert not chat.session.busy and chat.message_list.widgets == []


def test_model_picker_lists_models_and_their_adapters(qtbot, empty_window, tmp_path):
    chat = empty_window.chat_view
    assert chat.header.model_picker.itemText(0).startswith("No models")
    library = empty_window.library
    model = library.import_file(write_tiny_model(tmp_path / "m.gguf", name="Tiny Llama"), link=True)
    adapter = library.import_file(write_tiny_adapter(tmp_path / "a.gguf"), link=True,
                                  base_model_id=model.id)
    empty_window.library_view.library_changed.emit()
    texts = [chat.header.model_picker.itemText(i) for i in range(chat.header.model_picker.count())]
    assert texts == ["Tiny Llama", f"    Tiny Llama + {adapter.display_name}"]

    chat.session.available_memory = lambda: 1  # choosing preloads; keep the engine off here
    chat.header.model_picker.setCurrentIndex(1)
    chat.header.model_picker.activated.emit(1)
    conv = chat.store.get(chat.conversation_id)
    assert conv.model_id == model.id and conv.adapter["id"] == adapter.id
    assert "will not fit" in chat.notice.text
    assert not chat.session.engine.running


def test_settings_belong_to_each_conversation_and_defaults_are_kept(qtbot, window):
    chat = window.chat_view
    panel = chat.settings_panel
    chat.header.settings_button.click()
    assert panel.isVisible()
    panel.temperature.setValue(0.2)
    panel.system_prompt.setPlainText("Be brief.")
    first = chat.conversation_id
    assert chat.store.get(first).settings["temperature"] == 0.2
    assert chat.store.get(first).system_prompt == "Be brief."

    chat.store.add_message(first, "user", "something")  # a used chat is not reused
    panel.save_defaults_button.click()
    assert get_setting(window.library.conn, DEFAULTS_KEY)["temperature"] == 0.2
    panel.max_tokens.setValue(99)
    chat.new_conversation()
    second = chat.conversation_id
    assert second != first
    assert panel.temperature.value() == pytest.approx(0.2)
    assert panel.max_tokens.value() == 512 and panel.system_prompt_text() == "Be brief."
    chat.open_conversation(first)
    assert panel.max_tokens.value() == 99


def test_the_loop_penalties_are_on_for_new_chats_and_kept_per_conversation(qtbot, window):
    chat = window.chat_view
    panel = chat.settings_panel
    assert panel.presence_penalty.value() == pytest.approx(0.5)
    assert panel.frequency_penalty.value() == pytest.approx(0.3)
    panel.presence_penalty.setValue(0.0)
    panel.frequency_penalty.setValue(1.25)
    saved = chat.store.get(chat.conversation_id).settings
    assert (saved["presence_penalty"], saved["frequency_penalty"]) == (0.0, 1.25)


def test_search_keeps_the_matching_conversations(qtbot, window):
    chat = window.chat_view
    store = chat.store
    for title, text in (("Fruit", "I like bananas"), ("Cars", "Fast engines"),
                        ("Plain", "nothing here")):
        conv = store.create(title=title)
        store.add_message(conv.id, "user", text)
    chat.conversations.refresh()
    assert sorted(chat.conversations.titles()) == ["Cars", "Fruit", "Plain"]
    chat.conversations.search.setText("banana")
    qtbot.waitUntil(lambda: chat.conversations.titles() == ["Fruit"], timeout=5_000)
    chat.conversations.list.setCurrentRow(0)
    assert shown(chat) == [("user", "I like bananas", "complete")]
    chat.conversations.search.clear()
    qtbot.waitUntil(lambda: len(chat.conversations.titles()) == 3, timeout=5_000)


def test_replies_cut_off_by_a_crash_are_marked_at_startup(qtbot, slmdesk_home):
    win = open_window(qtbot)
    store = win.chat_view.store
    conv = store.create()
    store.add_message(conv.id, "user", "Question")
    reply = store.begin_reply(conv.id)
    store.update_reply(reply.id, "Half an ans")
    close_window(win)

    again = open_window(qtbot)
    try:
        assert again.chat_view.store.message(reply.id).status == "interrupted"
        assert shown(again.chat_view)[-1] == ("assistant", "Half an ans", "interrupted")
    finally:
        close_window(again)


def test_markdown_is_rendered_with_code_blocks_and_line_breaks(qtbot, tmp_path):
    conn = db.connect(tmp_path / "messages.db")
    store = ConversationStore(conn)
    conv = store.create()
    msg = store.add_message(conv.id, "assistant",
                            "Two lines\nof **text**.\n\n```python\nprint('hi')\n```")
    widget = MessageWidget(MessageView(msg, 0, (msg.id,), "Model"))
    qtbot.addWidget(widget)
    paragraph, code = (label.text() for label in widget.block_labels)
    assert "background-color:#f1f3f5" in code and "monospace" in code
    assert "<br />" in paragraph and "font-weight:700" in paragraph
    started = time.perf_counter()
    widget.set_text("A paragraph of streamed text with `code`.\n" * 60)
    assert time.perf_counter() - started < 0.1  # one update of a long reply stays cheap
