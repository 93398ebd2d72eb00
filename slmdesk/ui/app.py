"""The application: QApplication, the main window with its sidebar, clean shutdown."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSize, QTimer, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from slmdesk import __version__
from slmdesk.core.library.store import LibraryEntry, ModelLibrary
from slmdesk.core.logs import send_library_logs_to_file
from slmdesk.core.settings import get_setting, set_setting
from slmdesk.paths import AppPaths, app_paths
from slmdesk.ui.chat.view import ChatView
from slmdesk.ui.finetune.page import FineTunePage
from slmdesk.ui.library.view import LibraryView
from slmdesk.ui.models.page import GetModelsPage
from slmdesk.ui.notebook.view import NotebookView
from slmdesk.ui.server.page import ServerPage
from slmdesk.ui.tasks import BackgroundTask

ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "slmdesk.svg"
SECTIONS = ["Library", "Chat", "Notebook", "Fine-tune", "Get models", "Server"]  # in the order of the pages


def app_icon() -> QIcon:
    return QIcon(str(ICON_PATH))


class MainWindow(QMainWindow):
    """Sidebar on the left, one page per section on the right; files can be dropped anywhere."""

    def __init__(self, paths: AppPaths | None = None, *, set_up_starter: bool = True) -> None:
        super().__init__()
        self.paths = (paths or app_paths()).ensure()
        self.library = ModelLibrary.open(self.paths)
        self.setWindowTitle("SLM Desk")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1180, 720)

        self.sidebar = QListWidget()
        self.sidebar.setFixedWidth(150)
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setStyleSheet(
            "QListWidget { border: none; background: palette(window); font-size: 14px; }"
            "QListWidget::item { padding: 10px 12px; border-radius: 6px; }"
            "QListWidget::item:selected { background: palette(highlight);"
            " color: palette(highlighted-text); }")
        for name in SECTIONS:
            QListWidgetItem(name, self.sidebar)

        self.library_view = LibraryView(self.library, self.paths)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.library_view)
        self.chat_view = ChatView(self.library, self.paths)
        self.library_view.library_changed.connect(self.chat_view.refresh_models)
        self.pages.addWidget(self.chat_view)
        self.notebook_view = NotebookView(self.library, self.paths)
        self.library_view.library_changed.connect(self.notebook_view.refresh_models)
        self.pages.addWidget(self.notebook_view)
        self.finetune_page = FineTunePage(self.library, self.paths)
        self.pages.addWidget(self.finetune_page)
        self.library_view.library_changed.connect(self.finetune_page.refresh_models)
        self.library_view.finetune_requested.connect(self.fine_tune)
        self.get_models_page = GetModelsPage(self.paths)
        self.pages.addWidget(self.get_models_page)
        self.server_page = ServerPage(self.paths)
        self.pages.addWidget(self.server_page)
        self.get_models_page.library_changed.connect(self._models_downloaded)
        self.finetune_page.library_changed.connect(self._adapters_changed)
        self.finetune_page.chat_requested.connect(self.open_chat)
        self.chat_view.welcome.notebook_requested.connect(self.open_notebook_with)
        self.finetune_page.training_state_changed.connect(self._training_state_changed)
        self._close_box: QMessageBox | None = None
        self._quit_after_training = False
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.sidebar.setCurrentRow(0)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage(f"SLM Desk {__version__} \u2014 {self.paths.data_dir}")

        # The engine process must end with the application, however it is left.
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.chat_view.shutdown)
            app.aboutToQuit.connect(self.notebook_view.shutdown)
            app.aboutToQuit.connect(self.finetune_page.shutdown)
            app.aboutToQuit.connect(self.get_models_page.shutdown)
            app.aboutToQuit.connect(self.server_page.shutdown)

        self.starter_task: BackgroundTask | None = None
        if set_up_starter:
            self.set_up_starter()

    def show_section(self, name: str) -> None:
        self.sidebar.setCurrentRow(SECTIONS.index(name))

    @Slot(int)
    def fine_tune(self, model_id: int) -> None:
        """Open the fine-tuning wizard with this model chosen."""
        self.show_section("Fine-tune")
        self.finetune_page.start_wizard(model_id)

    @Slot(int, int)
    def open_chat(self, model_id: int, adapter_id: int) -> None:
        """A new conversation on a base model and adapter (a fine-tune's result)."""
        self.chat_view.start_conversation(model_id, adapter_id)
        self.show_section("Chat")

    @Slot(int)
    def open_notebook_with(self, model_id: int) -> int:
        """A new notebook on this model (e.g. a base model from the Chat page); its id."""
        notebook_id = self.notebook_view.open_notebook_with(model_id)
        self.show_section("Notebook")
        return notebook_id

    @Slot()
    def _models_downloaded(self) -> None:
        self.library_view.refresh()
        self.library_view.library_changed.emit()

    @Slot()
    def _adapters_changed(self) -> None:
        self.library_view.refresh()
        self.chat_view.refresh_models()

    # The starter model --------------------------------------------------------------------

    def set_up_starter(self) -> BackgroundTask:
        """Assemble the bundled starter model on first start, off the GUI thread."""
        paths = self.paths

        def work(progress):
            library = ModelLibrary.open(paths)
            try:
                return library.ensure_starter(progress)
            finally:
                library.close()

        task = BackgroundTask(work, "Setting up the starter model")
        task.signals.succeeded.connect(self._starter_ready)
        task.signals.failed.connect(self._starter_failed)
        self.statusBar().showMessage("Setting up the starter models (SmolLM2 135M Instruct, "
                                     "Gemma 3 270M)\u2026")
        self.starter_task = task
        return task.start()

    @Slot(object)
    def _starter_ready(self, entry: LibraryEntry | None) -> None:
        self.statusBar().showMessage("Ready" if entry else "Ready (starter model removed)", 5000)
        self.library_view.refresh()
        self.library_view.library_changed.emit()
        if not get_setting(self.library.conn, FIRST_START_KEY, False):
            # The very first start opens on Chat, with the instruct starter and its examples.
            set_setting(self.library.conn, FIRST_START_KEY, True)
            self.chat_view.new_conversation()
            self.show_section("Chat")

    @Slot(object, str)
    def _starter_failed(self, error: Exception, detail: str) -> None:
        self.library_view.notice.show_message(
            f"The starter model could not be set up: {error}", "error", detail)

    # Drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.show_section("Library")
        self.library_view.import_paths(paths)

    # Shutdown -----------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        if self.finetune_page.training_active:
            event.ignore()  # closed once the worker has saved its checkpoint and stopped
            if not self._quit_after_training:
                self._ask_to_stop_training()
            return
        self.chat_view.shutdown()
        self.notebook_view.shutdown()
        self.finetune_page.shutdown()
        self.get_models_page.shutdown()
        self.server_page.shutdown()
        self.library_view.wait_for_tasks()
        if self.starter_task is not None:
            self.starter_task.done.wait(60)
        super().closeEvent(event)


    def _ask_to_stop_training(self) -> None:
        if self._close_box is not None:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("A model is training")
        box.setText("A model is still being fine-tuned. Stop it and quit?")
        box.setInformativeText("SLM Desk saves a checkpoint first, so you can resume the run "
                               "later from Fine-tune \u203a Runs.")
        box.addButton("Save and quit", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Keep training", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(self._close_answered)
        self._close_box = box
        box.open()

    @Slot(object)
    def _close_answered(self, button) -> None:
        box, self._close_box = self._close_box, None
        if box is None:
            return
        role = box.buttonRole(button)
        box.deleteLater()
        if role != QMessageBox.ButtonRole.AcceptRole:
            return
        self._quit_after_training = True
        self.statusBar().showMessage("Saving a training checkpoint before closing\u2026")
        if not self.finetune_page.stop_training_to_quit():
            self.close()

    @Slot(str)
    def _training_state_changed(self, state: str) -> None:
        if self._quit_after_training and not self.finetune_page.training_active:
            self.close()


def run_gui(argv: list[str] | None = None) -> int:
    send_library_logs_to_file(app_paths().log_dir)
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName("SLM Desk")
    app.setOrganizationName("SLMDesk")
    app.setDesktopFileName("slmdesk")
    app.setWindowIcon(app_icon())
    window = MainWindow()
    window.show()
    if os.environ.get(STARTUP_PROBE_VARIABLE):
        QTimer.singleShot(0, lambda: _report_startup(app))
    code = app.exec()
    window.library.close()
    return code


#: Set once the first start has shown the Chat page.
FIRST_START_KEY = "first_start_done"
#: Set by bench/package_bench.py: print when the window is up, then quit.
STARTUP_PROBE_VARIABLE = "SLMDESK_STARTUP_PROBE"


def _report_startup(app: QApplication) -> None:
    """Runs on the first event-loop turn after show(): the window is on screen."""
    print(f"window visible at {time.time():.3f}", file=sys.stderr, flush=True)
    app.quit()
