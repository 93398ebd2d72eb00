"""The main window and its Library page, driven by pytest-qt on real files and a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from slmdesk.ui.app import MainWindow
from slmdesk.ui.library.view import DETAILS_MIN_WIDTH
from tests.gguf_factory import write_tiny_adapter, write_tiny_model


@pytest.fixture
def window(qtbot):
    win = MainWindow(set_up_starter=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    win.library.close()


def drop_files(window: MainWindow, paths: list[Path]) -> None:
    """Drag files over the window and drop them, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(window.rect().center(), Qt.DropAction.CopyAction, mime, buttons,
                            modifiers)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(window.rect().center()), Qt.DropAction.CopyAction, mime, buttons,
                      modifiers)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()


def test_sidebar_has_the_six_sections(window):
    texts = [window.sidebar.item(row).text() for row in range(window.sidebar.count())]
    assert texts == ["Library", "Chat", "Notebook", "Fine-tune", "Get models", "Server"]
    window.show_section("Chat")
    assert window.pages.currentIndex() == 1
    window.show_section("Notebook")
    assert window.pages.currentWidget() is window.notebook_view
    window.show_section("Fine-tune")
    assert window.pages.currentWidget() is window.finetune_page


def test_empty_library_says_how_to_add_a_model(window):
    assert window.library_view.empty_label.isVisible()
    assert "Drop a .gguf file" in window.library_view.empty_label.text()


def test_import_shows_the_row_and_its_details(window, qtbot, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.gguf", architecture="qwen2", name="Tiny Qwen",
                             chat_template="{{ messages }}")
    view = window.library_view
    with qtbot.waitSignal(view.task_finished, timeout=30_000):
        view.import_paths([model])
    assert view.row_texts()[0][:3] == ["Tiny Qwen", "Chat", "qwen2"]  # it has a chat template
    assert view.row_texts()[0][-1] == "Fits"
    assert "Added Tiny Qwen" in view.notice.text
    details = view.details_pane
    assert details.title_label.text() == "Tiny Qwen"
    labels = [details.fields_table.item(row, 0).text() for row in range(details.fields_table.rowCount())]
    assert {"Architecture", "Parameters", "Quantization", "Memory", "Path"} <= set(labels)
    assert details.template_view.toPlainText() == "{{ messages }}"


def test_a_long_model_name_is_shown_whole_beside_a_readable_details_pane(window, qtbot, tmp_path):
    window.resize(1280, 760)
    name = "SmolLM2 135M Instruct (starter)"
    model = write_tiny_model(tmp_path / "long.gguf", architecture="llama", name=name)
    view = window.library_view
    with qtbot.waitSignal(view.task_finished, timeout=30_000):
        view.import_paths([model])
    qtbot.wait(50)
    text_width = view.table.fontMetrics().horizontalAdvance(view.row_texts()[0][0])
    assert view.table.columnWidth(0) >= text_width + view.table.indentation()
    assert view.details_pane.width() >= DETAILS_MIN_WIDTH - 10


def test_dropped_corrupt_file_gives_a_clear_message_and_changes_nothing(window, qtbot, tmp_path):
    good = write_tiny_model(tmp_path / "good.gguf")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    view = window.library_view
    with qtbot.waitSignal(view.task_finished, timeout=30_000):
        drop_files(window, [truncated])
    assert view.notice.kind == "error"
    assert "truncated.gguf" in view.notice.text and "incomplete" in view.notice.text
    assert window.library.entries() == []
    assert view.row_texts() == []
    assert not list(window.paths.models_dir.iterdir())


def test_dropped_folder_is_scanned_and_adapters_sit_under_their_base(window, qtbot, tmp_path):
    write_tiny_model(tmp_path / "base.gguf", architecture="gemma3", name="Tiny Gemma")
    write_tiny_adapter(tmp_path / "lora.gguf", architecture="gemma3")
    view = window.library_view
    with qtbot.waitSignal(view.task_finished, timeout=30_000):
        drop_files(window, [tmp_path])
    rows = view.row_texts()
    assert rows[0][0] == "Tiny Gemma"
    assert rows[1][-1] == "LoRA adapter"
    base_index = view.model.index(0, 0)
    assert view.model.rowCount(base_index) == 1  # the adapter is a child row of its base


def test_remove_asks_about_the_copied_file(window, qtbot, tmp_path):
    view = window.library_view
    with qtbot.waitSignal(view.task_finished, timeout=30_000):
        view.import_paths([write_tiny_model(tmp_path / "tiny.gguf")])
    copied = window.library.entries()[0].path
    view.select_entry(window.library.entries()[0].id)
    view.remove_selected()
    box = view._remove_box
    assert box is not None and box.isVisible()
    delete = next(button for button in box.buttons()
                  if box.buttonRole(button) == QMessageBox.ButtonRole.DestructiveRole)
    with qtbot.waitSignal(view.library_changed):
        delete.click()
    assert window.library.entries() == []
    assert not copied.exists()
    assert "deleted its file" in view.notice.text


def test_missing_file_shows_as_missing(window, qtbot, tmp_path):
    source = write_tiny_model(tmp_path / "tiny.gguf")
    view = window.library_view
    with qtbot.waitSignal(view.task_finished, timeout=30_000):
        view.import_paths([source], link=True)
    source.unlink()
    view.refresh()
    assert view.row_texts()[0][-1] == "File missing"
    assert view.details_pane.fields_table.item(0, 1).text().startswith("File missing")


@pytest.mark.slow
def test_first_start_sets_up_both_starter_models(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.starter_task.signals.succeeded, timeout=120_000):
        pass
    rows = win.library_view.row_texts()
    assert len(rows) == 2
    assert rows[0][:5] == ["Gemma 3 270M (starter)", "Base", "gemma3", "268 M", "Q4_K_M"]
    assert rows[1][:5] == ["SmolLM2 135M Instruct (starter)", "Chat", "llama", "135 M", "Q4_1"]
    win.close()
    win.library.close()
