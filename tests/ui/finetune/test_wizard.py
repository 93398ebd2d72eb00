"""The fine-tuning wizard, driven by pytest-qt: fast tests on its pages, slow ones on the real
starter model with a real training worker, a real engine and a real database."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from slmdesk.core.processes import ChildLaunch, child_environment
from slmdesk.core.training import events as ev
from slmdesk.core.training.loop import latest_checkpoint
from slmdesk.core.training.preview import chunk_lengths_from_tokens
from slmdesk.core.training.runs import RunStore
from slmdesk.ui.app import MainWindow
from slmdesk.ui.finetune.wizard.wizard import DOCUMENTS, DONE, MODEL, SETTINGS, TRAINING
from slmdesk.ui.processes import training as training_process
from slmdesk.ui.processes.training import TrainingProcess
from tests.gguf_factory import write_tiny_model

NOTE = Path(__file__).parents[2] / "core" / "training" / "data" / "family_note.txt"
TRAIN_TIMEOUT = int(os.environ.get("SLMDESK_TRAIN_TIMEOUT_MS", 900_000))  # a busy 2-core machine
REPLY_TIMEOUT = 300_000
SHOTS = Path(os.environ.get("SLMDESK_SHOTS", "")) if os.environ.get("SLMDESK_SHOTS") else None
ENDED = ("finished", "paused", "cancelled", "failed", "crashed")


def open_window(qtbot, model: Path | None = None) -> MainWindow:
    win = MainWindow(set_up_starter=False)
    qtbot.addWidget(win)
    if model is not None:
        win.library.import_file(model, link=True)
        win.library_view.refresh()
        win.library_view.library_changed.emit()
    win.resize(1280, 820)
    win.show()
    return win


def close_window(win: MainWindow) -> None:
    if win.finetune_page.training_active:
        win.finetune_page.wizard.training_page.process.kill()
        win.finetune_page.wizard.training_page.process.wait(30)
    win.close()
    win.library.close()


@pytest.fixture
def tiny_window(qtbot, tmp_path):
    win = open_window(qtbot, write_tiny_model(tmp_path / "tiny.gguf", architecture="llama",
                                              name="Tiny Llama"))
    yield win
    close_window(win)


@pytest.fixture
def starter_window(qtbot, starter_model_path, cached_training_base):
    win = open_window(qtbot, starter_model_path)
    yield win
    close_window(win)


def add_documents(qtbot, wizard, paths: list[Path], *, preview: bool = True) -> None:
    page = wizard.documents_page
    signal_ = page.preview_finished if preview else page.read_finished
    with qtbot.waitSignal(signal_, timeout=120_000):
        page.add_paths(paths)


def fill_in(qtbot, window: MainWindow, *, epochs: int = 1, sequence_length: int = 32) -> None:
    """Steps 1 to 3 for a tiny run on the note: the starter, the note, Quick made very short."""
    window.show_section("Fine-tune")
    wizard = window.finetune_page.wizard
    assert wizard.restart(window.library.models()[0].id)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert wizard.step == DOCUMENTS
    add_documents(qtbot, wizard, [NOTE])
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert wizard.step == SETTINGS
    settings = wizard.settings_page
    settings.set_preset("quick")  # these runs are sized for Quick (the default is Balanced)
    settings.advanced_button.click()
    settings.epochs.setValue(epochs)
    settings.sequence_length.setValue(sequence_length)
    assert wizard.next_button.text() == "Start training" and wizard.next_button.isEnabled()


def start(qtbot, window: MainWindow):
    wizard = window.finetune_page.wizard
    with qtbot.waitSignal(wizard.run_started, timeout=10_000) as started:
        qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert wizard.step == TRAINING
    return started.args[0]


def wait_for_end(qtbot, page, timeout: int = TRAIN_TIMEOUT) -> str:
    if page.state not in ENDED:
        with qtbot.waitSignal(page.state_changed, timeout=timeout,
                              check_params_cb=lambda state: state in ENDED):
            pass
    return page.state


def get_run(run_id: int):
    from slmdesk.paths import app_paths

    store = RunStore.open(app_paths())
    try:
        return store.get(run_id)
    finally:
        store.close()


def shot(window: MainWindow, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(SHOTS / name))


# --- fast: the pages on a tiny model -------------------------------------------------------------


def test_documents_are_read_off_the_gui_thread_with_reasons_for_skipped_ones(qtbot, tiny_window,
                                                                           tmp_path):
    wizard = tiny_window.finetune_page.wizard
    wizard.go_to(DOCUMENTS)
    assert not wizard.next_button.isEnabled()
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text("# Alpha\n\nThe alpha project started in 2019.\n")
    (folder / "empty.txt").write_text("")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")  # not a document kind: ignored in folders
    sheet = tmp_path / "budget.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    add_documents(qtbot, wizard, [folder, sheet, NOTE], preview=False)

    page = wizard.documents_page
    assert [d.title for d in page.documents] == ["Alpha", "family_note"]
    top = [page.tree.topLevelItem(i) for i in range(page.tree.topLevelItemCount())]
    assert [item.text(0) for item in top] == ["notes/", "budget.xlsx", "family_note.txt"]
    assert top[0].text(1) == "1 read, 1 skipped"
    children = {top[0].child(i).text(0): top[0].child(i).text(1)
                for i in range(top[0].childCount())}
    assert children["a.md"].startswith("Read")
    assert children["empty.txt"] == "Skipped: The file is empty."
    assert "cannot read .xlsx files" in top[1].text(1)
    assert top[2].text(1).startswith("Read") and top[2].text(2) == "898"
    assert "2</b> documents read, 2 skipped" in page.summary_label.text()
    assert wizard.next_button.isEnabled()

    page.tree.setCurrentItem(top[1])
    with qtbot.waitSignal(page.read_finished, timeout=60_000):
        page.remove_selected()
    assert [Path(s).name for s in page.sources()] == ["notes", "family_note.txt"]


def test_documents_can_be_dropped_on_the_page(qtbot, tiny_window):
    tiny_window.show_section("Fine-tune")
    wizard = tiny_window.finetune_page.wizard
    wizard.go_to(DOCUMENTS)
    page = wizard.documents_page
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(NOTE))])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(page.rect().center(), Qt.DropAction.CopyAction, mime, buttons,
                            modifiers)
    QApplication.sendEvent(page, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(page.rect().center()), Qt.DropAction.CopyAction, mime, buttons,
                      modifiers)
    with qtbot.waitSignal(page.read_finished, timeout=60_000):
        QApplication.sendEvent(page, drop)
    assert drop.isAccepted()
    assert [d.title for d in page.documents] == ["family_note"]
    assert not tiny_window.library_view._tasks  # the library was not asked to import it


def test_settings_update_the_estimate_and_memory_warns(qtbot, tiny_window):
    wizard = tiny_window.finetune_page.wizard
    wizard.go_to(DOCUMENTS)
    add_documents(qtbot, wizard, [NOTE], preview=False)
    wizard.go_to(SETTINGS)
    settings = wizard.settings_page
    quick = settings.estimate_label.text()
    assert "tokens in all" in quick and "estimated from the characters" in quick
    assert "Training needs about" in quick
    settings.set_preset("thorough")
    assert settings.rank.value() == 32 and settings.sequence_length.value() == 512
    assert settings.estimate_label.text() != quick
    settings.advanced_button.click()
    settings.sequence_length.setValue(64)
    job = wizard.current_job()
    assert (job.preset, job.sequence_length, job.overlap, job.lora_alpha) == ("thorough", 64, 8,
                                                                              64.0)

    wizard.model_page.available_memory = lambda: 10 * 1024**2  # 10 MB free: nothing fits
    settings.epochs.setValue(3)  # any change recomputes
    assert "will not fit" in settings.estimate_label.text()
    wizard.go_to(MODEL)
    assert "will not fit" in wizard.model_page.verdict_label.text()
    assert wizard.model_page.table.topLevelItem(0).text(3).endswith("will not fit")


def test_library_context_menu_opens_the_wizard_with_the_model(qtbot, tiny_window, tmp_path):
    second = write_tiny_model(tmp_path / "two.gguf", architecture="qwen2", name="Tiny Qwen")
    entry = tiny_window.library.import_file(second, link=True)
    tiny_window.library_view.refresh()
    tiny_window.library_view.library_changed.emit()
    view = tiny_window.library_view
    view.select_entry(entry.id)
    menu = view.context_menu(view.table.currentIndex())
    actions = [a for a in menu.actions() if a.text()]
    assert actions[0].text() == "Fine-tune this model\u2026"
    actions[0].trigger()
    assert tiny_window.pages.currentWidget() is tiny_window.finetune_page
    wizard = tiny_window.finetune_page.wizard
    assert wizard.step == MODEL and wizard.model_page.selected_id() == entry.id


def test_chunk_lengths_from_tokens_match_the_dataset_cutter():
    from slmdesk.core.training.dataset import build_dataset

    class Counting:
        bos_token_id, eos_token_id = 1, 2

        def encode(self, text):
            return [5] * len(text.split())

        def decode(self, ids):
            return ""

    for words, seq, overlap in ((229, 32, 4), (10, 32, 4), (3000, 256, 32), (31, 32, 4)):
        dataset = build_dataset(["w " * words], Counting(), sequence_length=seq, overlap=overlap,
                                validation_fraction=0.1)
        lengths = chunk_lengths_from_tokens([words], seq, overlap, 0.1)
        assert lengths == [len(c.tokens) for c in dataset.train], (words, seq)


def _fake_worker(monkeypatch, script: str) -> None:
    monkeypatch.setattr(training_process, "child_launch", lambda module, *args: ChildLaunch(
        [sys.executable, "-c", script, *args], child_environment()))


def test_a_worker_dying_without_a_word_is_reported_with_its_log(qtbot, monkeypatch, tmp_path):
    _fake_worker(monkeypatch, (
        "import json, sys, os\n"
        "print(json.dumps({'type': 'step', 'time': 0, 'step': 1, 'total_steps': 4,"
        " 'loss': 2.5}), flush=True)\n"
        "print('Traceback: something deep went wrong', file=sys.stderr, flush=True)\n"
        "os._exit(7)\n"))
    process = TrainingProcess()
    steps = []
    process.progress.connect(steps.append)
    with qtbot.waitSignal(process.crashed, timeout=60_000) as crashed:
        process.start(tmp_path)
    message, tail = crashed.args
    assert "stopped unexpectedly (exit code 7)" in message and "resumed" in message
    assert "something deep went wrong" in tail
    assert steps and steps[0]["loss"] == 2.5
    assert process.terminal["type"] == ev.INTERRUPTED
    assert "worker started" in (tmp_path / "worker.log").read_text()


def test_events_split_across_reads_are_reassembled(qtbot):
    process = TrainingProcess()
    seen = []
    process.event.connect(seen.append)
    line = ev.encode_event(ev.make_event(ev.STEP, step=3, total_steps=9, loss=1.0)).encode()
    process.feed(line[:10])
    assert seen == []
    process.feed(line[10:] + b"not json\n")
    assert [e["step"] for e in seen] == [3]



@pytest.mark.skipif(os.name != "posix", reason="symbolic links need privileges on Windows")
def test_an_empty_folder_and_a_dangling_link_say_so_under_the_names_given(qtbot, tiny_window, tmp_path):
    wizard = tiny_window.finetune_page.wizard
    wizard.go_to(DOCUMENTS)
    empty = tmp_path / "a-folder.md"
    empty.mkdir()
    link = tmp_path / "dangling-link.txt"
    link.symlink_to(tmp_path / "gone.txt")
    add_documents(qtbot, wizard, [empty, link, NOTE], preview=False)
    page = wizard.documents_page
    top = [page.tree.topLevelItem(i) for i in range(page.tree.topLevelItemCount())]
    assert [item.text(0) for item in top] == ["a-folder.md/", "dangling-link.txt", "family_note.txt"]
    assert top[0].text(1).startswith("Skipped: This folder holds no documents we can read (0 files of other")
    assert top[0].childCount() == 0
    assert top[1].text(1).startswith("Skipped: This is a link to a missing file")

# --- slow: the real thing ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_whole_wizard_trains_an_adapter_and_chats_with_it(qtbot, starter_window):
    window = starter_window
    fill_in(qtbot, window)
    wizard = window.finetune_page.wizard
    docs = wizard.documents_page
    assert docs.preview_answer is not None, docs.summary_label.text()
    stats = docs.preview_answer["stats"]
    assert stats["tokens"] > 200 and "tokens</b> in" in docs.summary_label.text()
    assert "<bos>Notes on the Lindqvist family" in docs.preview_view.toPlainText()
    assert "tokens counted exactly" in wizard.settings_page.estimate_label.text()

    run_id = start(qtbot, window)
    page = wizard.training_page
    shot_taken = []

    def picture(event):  # the training page mid-run, with its chart
        if event.get("step") == 5 and not shot_taken:
            shot_taken.append(True)
            shot(window, "training-live.png")

    page.process.progress.connect(picture)
    began = time.monotonic()
    assert wait_for_end(qtbot, page) == "finished", page.notice.text or page.status_label.text()
    print(f"\ntraining in the wizard took {time.monotonic() - began:.0f} s")
    assert len(page.chart.train_points) == page.progress_bar.maximum() > 1
    assert len(page.chart.validation_points) == 2
    assert wizard.step == DONE
    done = wizard.done_page
    assert "perplexity" in done.result_label.text() and "After training" in done.result_label.text()
    run = get_run(run_id)
    assert run.status == "finished" and run.adapter_model_id is not None
    # the adapter is listed under its base in the library
    rows = window.library_view.row_texts()
    assert len(rows) == 2 and rows[1][-1] == "LoRA adapter"
    wizard.go_to(TRAINING)
    shot(window, "training.png")
    wizard.go_to(DONE)

    # Chat with it: a new conversation on base + adapter, in the Chat section
    chat = window.chat_view
    qtbot.mouseClick(done.chat_button, Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is chat
    conv = chat.store.get(chat.conversation_id)
    assert conv.adapter["id"] == run.adapter_model_id and conv.model_id == run.base_model_id
    assert chat.header.adapter_strength.isVisible()
    chat.settings_panel.temperature.setValue(0.0)
    chat.settings_panel.max_tokens.setValue(24)
    chat.settings_panel.context_length.setValue(1024)
    chat.composer.setPlainText("Where does my uncle Tobias Ferrand live?")
    with qtbot.waitSignal(chat.session.reply_finished, timeout=REPLY_TIMEOUT) as replied:
        qtbot.keyClick(chat.composer, Qt.Key.Key_Return)
    reply = chat.store.message(replied.args[0])
    assert reply.status == "complete" and reply.content.strip()
    assert reply.metadata["adapter"] == window.library.get(run.adapter_model_id).display_name

    # The strength slider changes the LoRA scale on the live model, without a reload
    reloads = []
    chat.session.engine.loaded.connect(reloads.append)
    with qtbot.waitSignal(chat.session.engine.adapters_set, timeout=60_000) as applied:
        chat.header.adapter_strength.slider.setValue(50)
    assert applied.args[0]["adapters"][0]["scale"] == 0.5
    assert reloads == [] and chat.store.get(conv.id).adapter["scale"] == 0.5

    # Compare: the same question, base and tuned, side by side
    window.show_section("Fine-tune")
    qtbot.mouseClick(done.compare_button, Qt.MouseButton.LeftButton)
    compare = window.finetune_page.compare_view
    assert window.finetune_page.tabs.currentWidget() is compare
    compare.max_tokens.setValue(40)
    compare.composer.setPlainText("Complete: My grandmother Astrid Lindqvist was born on")
    with qtbot.waitSignal(compare.both_finished, timeout=REPLY_TIMEOUT):
        qtbot.mouseClick(compare.ask_button, Qt.MouseButton.LeftButton)
    answers = compare.answers()
    assert answers["base"].strip() and answers["tuned"].strip()
    shot(window, "compare.png")
    compare.shutdown()


@pytest.mark.slow
def test_pause_cancel_by_closing_the_window_then_resume_from_runs(qtbot, starter_window):
    window = starter_window
    fill_in(qtbot, window, epochs=3)
    run_id = start(qtbot, window)
    page = window.finetune_page.wizard.training_page

    # Pause after the first step, then resume on the same page
    with qtbot.waitSignal(page.process.progress, timeout=TRAIN_TIMEOUT):
        pass
    qtbot.mouseClick(page.pause_button, Qt.MouseButton.LeftButton)
    assert wait_for_end(qtbot, page) == "paused", page.notice.text
    qtbot.waitUntil(page.pause_button.isEnabled, timeout=60_000)  # the worker has exited
    paused_at = get_run(run_id).metrics["step"]
    assert latest_checkpoint(get_run(run_id).run_dir).step == paused_at
    assert page.pause_button.text() == "Resume" and "Paused at step" in page.status_label.text()
    with qtbot.waitSignal(page.process.progress, timeout=TRAIN_TIMEOUT) as resumed:
        qtbot.mouseClick(page.pause_button, Qt.MouseButton.LeftButton)
    assert resumed.args[0]["step"] == paused_at + 1

    # Closing the window asks, then checkpoints and closes once the worker has stopped
    window.close()
    assert window.isVisible() and window._close_box is not None
    box = window._close_box
    save = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole)
    with qtbot.waitSignal(page.process.ended, timeout=TRAIN_TIMEOUT):
        save.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    run = get_run(run_id)
    assert run.status == "cancelled" and run.resumable
    stopped_at = run.metrics["step"]
    assert stopped_at > paused_at and latest_checkpoint(run.run_dir).step == stopped_at
    window.library.close()

    # A new window: the run is listed as cancelled; Resume finishes it
    again = open_window(qtbot)
    try:
        again.show_section("Fine-tune")
        finetune = again.finetune_page
        finetune.tabs.setCurrentWidget(finetune.runs_view)
        runs = finetune.runs_view
        assert runs.row_texts()[0][:2] == [str(run_id), "cancelled"]
        assert runs.select_run(run_id) and runs.resume_button.isEnabled()
        assert len(runs.chart.train_points) == stopped_at
        qtbot.mouseClick(runs.resume_button, Qt.MouseButton.LeftButton)
        page = finetune.wizard.training_page
        assert finetune.tabs.currentWidget() is finetune.wizard and page.active
        assert wait_for_end(qtbot, page) == "finished", page.notice.text
        steps = [p[0] for p in page.chart.train_points]
        assert steps == list(range(1, len(steps) + 1))  # the chart joins both halves
        assert get_run(run_id).status == "finished"
        assert runs.row_texts()[0][1] == "finished" and "\u2192" in runs.row_texts()[0][6]
    finally:
        close_window(again)


@pytest.mark.slow
def test_a_killed_worker_shows_its_error_and_log_and_stays_resumable(qtbot, starter_window):
    window = starter_window
    fill_in(qtbot, window, epochs=3)
    run_id = start(qtbot, window)
    page = window.finetune_page.wizard.training_page
    with qtbot.waitSignal(page.process.progress, timeout=TRAIN_TIMEOUT):
        pass
    os.kill(page.process.pid, signal.SIGKILL)
    assert wait_for_end(qtbot, page, timeout=60_000) == "crashed"
    assert "The training process stopped unexpectedly: it was killed (SIGKILL)" in page.notice.text
    assert "resumed" in page.notice.text
    details = page.notice.details_view
    assert details.isVisible() and "Last lines of the training log" in details.toPlainText()
    assert "worker started" in details.toPlainText()
    assert page.pause_button.text() == "Resume" and page.pause_button.isEnabled()
    run = get_run(run_id)
    assert run.status == "interrupted" and run.resumable and "SIGKILL" in run.error
    shot(window, "crashed.png")
