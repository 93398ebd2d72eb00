"""The Notebook page on the real starter model (a base model), real engine process and database."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from slmdesk.core.conversations.notebooks import NotebookStore
from slmdesk.ui.app import MainWindow
from slmdesk.ui.notebook.view import NotebookView
from tests.gguf_factory import write_tiny_model

GENERATION_TIMEOUT = 240_000
COUNTING = "1, 2, 3, 4, 5, 6,"
SCREENSHOT = Path("/tmp/notebook.png")


def open_window(qtbot, *models: Path) -> MainWindow:
    win = MainWindow(set_up_starter=False)
    qtbot.addWidget(win)
    for model in models:
        win.library.import_file(model, link=True)
    if models:
        win.library_view.refresh()
        win.library_view.library_changed.emit()
    win.show()
    win.show_section("Notebook")
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


def configure(page: NotebookView, max_tokens: int = 8, temperature: float = 0.0) -> None:
    """Repeatable, short continuations at a small context (quick to load on a busy machine)."""
    boxes = page.sampling.boxes
    boxes["temperature"].setValue(temperature)
    boxes["seed"].setValue(1)
    boxes["max_tokens"].setValue(max_tokens)
    boxes["context_length"].setValue(512)


def press_and_wait(qtbot, page: NotebookView, button) -> dict:
    with qtbot.waitSignal(page.session.finished, timeout=GENERATION_TIMEOUT) as blocker:
        button.click()
    assert blocker.args[0] == page.notebook_id
    return blocker.args[1]


# --- with the real model -------------------------------------------------------------------------


@pytest.mark.slow
def test_generate_appends_the_continuation_as_it_streams(qtbot, window):
    page = window.notebook_view
    assert window.pages.currentWidget() is page
    assert page.model_picker.currentText() == "Gemma 3 270M \u2014 base"
    configure(page)
    page.editor.setPlainText(COUNTING)
    pieces, states = [], []
    page.session.text_grew.connect(lambda _id, piece: pieces.append(piece))
    page.session.state_changed.connect(states.append)

    summary = press_and_wait(qtbot, page, page.generate_button)

    assert summary["status"] == "complete" and summary["finish_reason"] == "length"
    assert "loading" in states and "generating" in states
    assert pieces, "the continuation was never shown while it was written"
    text = page.editor.toPlainText()
    assert text == COUNTING + summary["generated"] == COUNTING + "".join(pieces)
    assert text.startswith(COUNTING + " 7, 8"), text
    prompt = summary["prompt_tokens"]
    assert prompt > 5 and summary["completion_tokens"] == 8
    assert page.token_label.text().startswith(f"{prompt} + 8 = {prompt + 8} tokens of 512")
    assert page.store.get(page.notebook_id).text == text
    assert page.notebooks.titles() == [COUNTING]
    assert page.status_label.text() == "Ready"
    assert page.generate_button.isVisible() and not page.stop_button.isVisible()
    assert page.undo_button.isEnabled() and not page.editor.isReadOnly()
    notebook = page.store.get(page.notebook_id)
    assert notebook.model_id == window.library.models()[0].id
    assert notebook.settings["max_tokens"] == 8 and notebook.settings["temperature"] == 0.0


@pytest.mark.slow
def test_stop_keeps_the_text_written_so_far(qtbot, window):
    page = window.notebook_view
    configure(page, max_tokens=400, temperature=0.8)
    page.editor.setPlainText("Once upon a time, in a small village by the sea,")
    with qtbot.waitSignal(page.session.text_grew, timeout=GENERATION_TIMEOUT):
        page.generate_button.click()
    assert page.stop_button.isVisible() and not page.generate_button.isVisible()
    assert page.editor.isReadOnly() and not page.model_picker.isEnabled()
    notebook_id = page.notebook_id
    # The growing text is saved while it streams, not only at the end.
    qtbot.waitUntil(lambda: len(page.store.get(notebook_id).text) > 49, timeout=60_000)

    with qtbot.waitSignal(page.session.finished, timeout=10_000) as blocker:
        qtbot.keyClick(page.editor, Qt.Key.Key_Escape)
    summary = blocker.args[1]
    assert summary["status"] == "stopped"
    text = page.editor.toPlainText()
    assert text.startswith("Once upon a time, in a small village by the sea,") and len(text) > 49
    assert text == summary["text"] == page.store.get(notebook_id).text
    assert summary["completion_tokens"] is None or summary["completion_tokens"] < 400
    assert page.generate_button.isVisible() and not page.editor.isReadOnly()


@pytest.mark.slow
def test_generate_again_replaces_continue_appends_and_undo_goes_back(qtbot, window):
    page = window.notebook_view
    configure(page, max_tokens=4)
    page.editor.setPlainText(COUNTING)
    first = press_and_wait(qtbot, page, page.generate_button)["text"]
    assert first.startswith(COUNTING) and len(first) > len(COUNTING)

    # Nothing edited: Generate replaces the last continuation (greedy: with the same one).
    again = press_and_wait(qtbot, page, page.generate_button)
    assert page.editor.toPlainText() == again["text"] == first
    assert page.undo_stack[page.notebook_id] == [COUNTING]

    # Continue keeps it and writes more.
    more = press_and_wait(qtbot, page, page.continue_button)
    assert more["text"].startswith(first) and len(more["text"]) > len(first)
    assert more["prompt_tokens"] > again["prompt_tokens"]

    # After an edit, Generate (here its key, Ctrl+Enter) appends to the edited text.
    page.editor.moveCursor(page.editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(page.editor, " 20,")
    edited = page.editor.toPlainText()
    with qtbot.waitSignal(page.session.finished, timeout=GENERATION_TIMEOUT) as blocker:
        qtbot.keyClick(page.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    after_edit = blocker.args[1]
    assert page.editor.toPlainText() == after_edit["text"]
    assert after_edit["text"].startswith(edited) and len(after_edit["text"]) > len(edited)

    page.undo_button.click()
    assert page.editor.toPlainText() == edited
    page.undo_button.click()
    assert page.editor.toPlainText() == first
    page.undo_button.click()
    assert page.editor.toPlainText() == COUNTING
    assert not page.undo_button.isEnabled()
    assert page.store.get(page.notebook_id).text == COUNTING


@pytest.mark.slow
def test_notebooks_are_saved_and_reopened(qtbot, window):
    page = window.notebook_view
    configure(page, max_tokens=6)
    page.editor.setPlainText("Monday, Tuesday, Wednesday,")
    written = press_and_wait(qtbot, page, page.generate_button)["text"]
    first_id = page.notebook_id
    page.notebooks.new_button.click()
    assert page.notebook_id != first_id and page.editor.toPlainText() == ""
    qtbot.keyClicks(page.editor, "Dear diary,")  # typed, never generated: saved as typed
    second_id = page.notebook_id
    assert second_id is not None
    close_window(window)
    assert not page.session.engine.running

    again = open_window(qtbot)
    try:
        reopened = again.notebook_view
        assert reopened.notebooks.titles() == ["Dear diary,", "Monday, Tuesday, Wednesday,"]
        assert reopened.notebook_id == second_id
        assert reopened.editor.toPlainText() == "Dear diary,"
        reopened.notebooks.list.setCurrentRow(1)
        assert reopened.notebook_id == first_id
        assert reopened.editor.toPlainText() == written
        assert reopened.sampling.settings()["max_tokens"] == 6
        assert reopened.model_picker.currentText() == "Gemma 3 270M \u2014 base"
        assert not reopened.session.engine.running  # nothing loads until it is needed
    finally:
        close_window(again)


@pytest.mark.slow
def test_a_crashed_engine_keeps_the_text_and_generate_restarts_it(qtbot, window):
    page = window.notebook_view
    configure(page, max_tokens=400, temperature=0.8)
    page.editor.setPlainText("The history of the city begins")
    with qtbot.waitSignal(page.session.text_grew, timeout=GENERATION_TIMEOUT):
        page.generate_button.click()
    with qtbot.waitSignal(page.session.finished, timeout=30_000) as blocker:
        os.kill(page.session.engine.pid, signal.SIGKILL)
    summary = blocker.args[1]
    assert summary["status"] == "interrupted"
    assert page.editor.toPlainText() == summary["text"]
    assert page.editor.toPlainText().startswith("The history of the city begins")
    assert page.store.get(page.notebook_id).text == summary["text"]
    assert "Generate again to restart the engine" in page.notice.text
    assert page.status_label.text() == "Engine stopped"

    configure(page, max_tokens=3)
    again = press_and_wait(qtbot, page, page.continue_button)
    assert again["status"] == "complete" and again["text"].startswith(summary["text"])


@pytest.mark.slow
def test_screenshot_of_a_generated_text(qtbot, window):
    page = window.notebook_view
    window.resize(1180, 720)
    configure(page, max_tokens=60)
    page.editor.setPlainText("Once upon a time, in a small village by the sea, there lived")
    summary = press_and_wait(qtbot, page, page.generate_button)
    assert summary["status"] == "complete"
    qtbot.wait(50)
    assert window.grab().save(str(SCREENSHOT))


# --- without a model -----------------------------------------------------------------------------


def test_generate_without_a_model_says_what_to_do(empty_window):
    page = empty_window.notebook_view
    assert page.model_picker.currentText() == "No models: add one in the Library"
    page.editor.setPlainText("Once upon a time")
    page.generate_button.click()
    assert "Choose a model" in page.notice.text
    assert page.editor.toPlainText() == "Once upon a time"
    assert not page.session.busy and not page.session.engine.running
    assert not page.undo_button.isEnabled()


def test_a_base_model_is_the_default_and_open_notebook_with_picks_the_model(
        qtbot, empty_window, tmp_path):
    chat_model = write_tiny_model(tmp_path / "chat.gguf", name="Tiny Chat",
                                  chat_template="{{ messages }}")
    base_model = write_tiny_model(tmp_path / "base.gguf", name="Tiny Base")
    library = empty_window.library
    chat_entry = library.import_file(chat_model, link=True)
    base_entry = library.import_file(base_model, link=True)
    empty_window.library_view.library_changed.emit()
    page = empty_window.notebook_view
    assert page.model_picker.model_ids == [base_entry.id, chat_entry.id]
    assert page.model_picker.currentText().endswith("\u2014 base")

    page.editor.setPlainText("typed first")
    qtbot.waitUntil(lambda: page.notebook_id is not None, timeout=5_000)  # saved as typed
    assert page.store.get(page.notebook_id).model_id == base_entry.id

    empty_window.show_section("Chat")
    notebook_id = empty_window.open_notebook_with(chat_entry.id)
    assert empty_window.pages.currentWidget() is page
    assert page.notebook_id == notebook_id and page.editor.toPlainText() == ""
    assert page.store.get(notebook_id).model_id == chat_entry.id
    assert page.model_picker.current_model() == chat_entry.id
    assert page.notebooks.ids()[0] == notebook_id and len(page.notebooks.ids()) == 2
    # An empty notebook is reused rather than piling up.
    assert empty_window.open_notebook_with(base_entry.id) == notebook_id
    assert page.model_picker.current_model() == base_entry.id


def test_delete_asks_first_and_removes_the_notebook(qtbot, empty_window):
    page = empty_window.notebook_view
    store = NotebookStore(empty_window.library.conn)
    kept = store.create(text="kept")
    gone = store.create(text="to be deleted")
    page.notebooks.refresh()
    page.open_notebook(gone.id)
    page.notebooks.delete_button.click()
    box = page.notebooks._delete_box
    assert box is not None and "to be deleted" in box.text()
    delete = next(b for b in box.buttons() if b.text() == "Delete")
    delete.click()
    assert [nb.id for nb in store.list()] == [kept.id]
    assert page.notebook_id == kept.id and page.editor.toPlainText() == "kept"
