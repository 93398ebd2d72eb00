"""The Library page: models and their adapters as a table, with a details pane beside it.

All file work (copying, scanning, assembling the starter) runs as a BackgroundTask on its own
library connection, so the window stays responsive while a gigabyte file is copied; results
and errors come back as signals and are shown in the notice bar.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal, Slot
from PySide6.QtGui import QAction, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.gguf.info import GGUFError, format_bytes
from slmdesk.core.library.store import (
    DuplicateModelError,
    ImportCancelled,
    LibraryEntry,
    LibraryError,
    ModelLibrary,
    ScanReport,
)
from slmdesk.paths import AppPaths
from slmdesk.ui.library.entry_view import (
    COLUMNS,
    ENTRY_ID_ROLE,
    ModelDetailsPane,
    entry_row,
)
from slmdesk.ui.tasks import BackgroundTask
from slmdesk.ui.widgets.notice import NoticeBar

_EXPECTED_ERRORS = (GGUFError, LibraryError, OSError)


#: The details pane's width the table leaves it, when the table would like more.
DETAILS_MIN_WIDTH = 380


class LibraryView(QWidget):
    """Lists the library and runs imports, scans and removals."""

    #: The set of entries changed (import, scan, removal): other pages refresh their pickers.
    library_changed = Signal()
    #: A background task ended (successfully or not); tests and status bars listen to it.
    task_finished = Signal()
    #: "Fine-tune this model…" was chosen on a model (its id): the wizard opens with it.
    finetune_requested = Signal(int)

    def __init__(self, library: ModelLibrary, paths: AppPaths,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.paths = paths
        self._tasks: list[BackgroundTask] = []
        self._remove_box: QMessageBox | None = None
        self.setAcceptDrops(False)  # the main window takes drops for every page

        self.notice = NoticeBar()
        self.import_button = QToolButton(text="Import model\u2026")
        self.import_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.import_button.clicked.connect(self.choose_files_to_import)
        menu = QMenu(self.import_button)
        menu.addAction("Copy into the library\u2026", self.choose_files_to_import)
        menu.addAction("Link where it is (no copy)\u2026", self.choose_files_to_link)
        self.import_button.setMenu(menu)
        self.scan_button = QPushButton("Scan folder\u2026")
        self.scan_button.clicked.connect(self.choose_folder_to_scan)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setEnabled(False)
        self.remove_button.clicked.connect(self.remove_selected)
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_tasks)
        for widget in (self.progress_label, self.progress_bar, self.cancel_button):
            widget.hide()
        toolbar = QHBoxLayout()
        for widget in (self.import_button, self.scan_button, self.remove_button):
            toolbar.addWidget(widget)
        toolbar.addStretch(1)
        for widget in (self.progress_label, self.progress_bar, self.cancel_button):
            toolbar.addWidget(widget)

        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.table = QTreeView()
        self.table.setModel(self.model)
        self.table.setRootIsDecorated(True)
        self.table.setAlternatingRowColors(True)
        self.table.setUniformRowHeights(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.header().setStretchLastSection(False)
        self.table.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.empty_label = QLabel("No models yet. Drop a .gguf file here, or use "
                                  "\u201cImport model\u2026\u201d or \u201cScan folder\u2026\u201d.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)

        self.details_pane = ModelDetailsPane(library)

        table_pane = QWidget()
        table_layout = QVBoxLayout(table_pane)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table)
        table_layout.addWidget(self.empty_label)
        self.splitter = QSplitter()
        self.splitter.addWidget(table_pane)
        self.splitter.addWidget(self.details_pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self._table_fitted = False

        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(self.notice)
        layout.addWidget(self.splitter, 1)
        self.refresh()

    # Showing ------------------------------------------------------------------------------

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self._fit_table_once()

    def _fit_table_once(self) -> None:
        """:meth:`fit_table_width` when the page first shows rows; later the person's own
        splitter position stands."""
        if not self._table_fitted and self.model.rowCount() and self.isVisible():
            self._table_fitted = True
            self.fit_table_width()

    def fit_table_width(self) -> None:
        """Give the table the width its columns need, leaving the details pane at least
        :data:`DETAILS_MIN_WIDTH`: left to the splitter's shares, the names were cut
        ("SmolLM2 135M In...") while the details pane had room to spare."""
        columns = sum(max(self.table.sizeHintForColumn(column),
                          self.table.header().sectionSizeHint(column))
                      for column in range(self.model.columnCount()))
        needed = (columns + self.table.indentation() + self.table.verticalScrollBar().sizeHint().width()
                  + 2 * self.table.frameWidth())
        total = sum(self.splitter.sizes())
        if total > 0:
            table = max(total // 2, min(needed, total - DETAILS_MIN_WIDTH))
            self.splitter.setSizes([table, total - table])

    def refresh(self, select_id: int | None = None) -> None:
        """Rebuild the table from the database (cached headers: no file is read)."""
        if select_id is None:
            select_id = self.selected_entry_id()
        self.model.removeRows(0, self.model.rowCount())
        entries = self.library.entries()
        models = [entry for entry in entries if entry.kind == "model"]
        adapters = [entry for entry in entries if entry.kind == "adapter"]
        for model in models:
            row = entry_row(model)
            for adapter in adapters:
                if adapter.base_model_id == model.id:
                    row[0].appendRow(entry_row(adapter))
            self.model.appendRow(row)
        for adapter in adapters:
            if adapter.base_model_id is None:
                self.model.appendRow(entry_row(adapter, "no base model of this architecture"))
        self.table.expandAll()
        for column in range(1, len(COLUMNS)):
            self.table.resizeColumnToContents(column)
        self.empty_label.setVisible(not entries)
        self.table.setVisible(bool(entries))
        self._fit_table_once()
        if select_id is not None:
            self.select_entry(select_id)
        if self.selected_entry_id() is None:
            self._show_details(None)

    def selected_entry_id(self) -> int | None:
        index = self.table.currentIndex()
        return index.data(ENTRY_ID_ROLE) if index.isValid() else None

    def select_entry(self, entry_id: int) -> bool:
        for index in self._all_indexes():
            if index.data(ENTRY_ID_ROLE) == entry_id:
                self.table.setCurrentIndex(index)
                return True
        return False

    def _all_indexes(self, parent: QModelIndex | None = None):
        parent = QModelIndex() if parent is None else parent
        for row in range(self.model.rowCount(parent)):
            index = self.model.index(row, 0, parent)
            yield index
            yield from self._all_indexes(index)

    def row_texts(self) -> list[list[str]]:
        """Every visible row's cell texts, adapters after their base (for tests and exports)."""
        return [[self.model.itemFromIndex(index.siblingAtColumn(column)).text()
                 for column in range(len(COLUMNS))] for index in self._all_indexes()]

    @Slot(QModelIndex, QModelIndex)
    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        entry_id = current.data(ENTRY_ID_ROLE) if current.isValid() else None
        entry = None
        if entry_id is not None:
            try:
                entry = self.library.get(entry_id)
            except LibraryError:
                entry = None
        self._show_details(entry)

    def _show_details(self, entry: LibraryEntry | None) -> None:
        self.remove_button.setEnabled(entry is not None)
        self.details_pane.show_entry(entry)

    # Importing ----------------------------------------------------------------------------

    @Slot()
    def choose_files_to_import(self) -> None:
        self._choose_files(link=False)

    @Slot()
    def choose_files_to_link(self) -> None:
        self._choose_files(link=True)

    def _choose_files(self, link: bool) -> None:
        paths, _filter = QFileDialog.getOpenFileNames(
            self, "Link model files" if link else "Import model files", str(Path.home()),
            "GGUF models (*.gguf);;All files (*)")
        if paths:
            self.import_paths([Path(path) for path in paths], link=link)

    @Slot()
    def choose_folder_to_scan(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Scan a folder for GGUF models",
                                                  str(Path.home()))
        if folder:
            self.scan_folder(Path(folder))

    def import_paths(self, paths: list[Path], link: bool = False) -> BackgroundTask:
        """Import files (folders are scanned) in the background; report in the notice bar."""
        paths = list(paths)

        def work(progress):
            library = ModelLibrary.open(self.paths)
            try:
                outcome = ScanReport()
                for path in paths:
                    if path.is_dir():
                        found = library.scan_folder(path)
                        outcome.added += found.added
                        outcome.duplicates += found.duplicates
                        outcome.errors += found.errors
                        continue
                    try:
                        outcome.added.append(library.import_file(path, link=link,
                                                                 progress=progress))
                    except DuplicateModelError as exc:
                        outcome.duplicates.append((path, exc.existing))
                    except ImportCancelled:
                        raise
                    except _EXPECTED_ERRORS as exc:
                        outcome.errors.append((path, str(exc)))
                return outcome
            finally:
                library.close()

        label = f"Importing {paths[0].name}" if len(paths) == 1 else f"Importing {len(paths)} files"
        return self._start(BackgroundTask(work, label))

    def scan_folder(self, folder: Path) -> BackgroundTask:
        def work(progress):
            library = ModelLibrary.open(self.paths)
            try:
                return library.scan_folder(folder, progress=progress)
            finally:
                library.close()

        return self._start(BackgroundTask(work, f"Scanning {folder.name or folder}"))

    def _start(self, task: BackgroundTask) -> BackgroundTask:
        task.signals.progress.connect(self._task_progress)
        task.signals.succeeded.connect(self._task_succeeded)
        task.signals.failed.connect(self._task_failed)
        self._tasks.append(task)
        self.progress_label.setText(task.name + "\u2026")
        self.progress_bar.setRange(0, 0)
        for widget in (self.progress_label, self.progress_bar, self.cancel_button):
            widget.show()
        return task.start()

    @Slot(object, object)
    def _task_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * done / total))

    @Slot(object)
    def _task_succeeded(self, report: ScanReport) -> None:
        self._task_ended()
        if isinstance(report, ScanReport):
            self._report(report)
        self.refresh(select_id=report.added[-1].id if report.added else None)
        self.library_changed.emit()
        self.task_finished.emit()

    @Slot(object, str)
    def _task_failed(self, error: Exception, detail: str) -> None:
        self._task_ended()
        if isinstance(error, ImportCancelled):
            self.notice.show_message("Import cancelled; nothing was added.", "info")
        else:
            self.notice.show_message(str(error), "error", detail)
        self.refresh()
        self.task_finished.emit()

    def _task_ended(self) -> None:
        self._tasks = [task for task in self._tasks if not task.done.is_set()]
        if not self._tasks:
            for widget in (self.progress_label, self.progress_bar, self.cancel_button):
                widget.hide()

    def _report(self, report: ScanReport) -> None:
        lines = []
        if report.added:
            names = ", ".join(entry.display_name for entry in report.added[:3])
            more = f" and {len(report.added) - 3} more" if len(report.added) > 3 else ""
            lines.append(f"Added {names}{more}.")
        for path, existing in report.duplicates:
            lines.append(f"{path.name} is already in the library as "
                         f"\u201c{existing.display_name}\u201d.")
        for path, message in report.errors:
            lines.append(f"Could not add {path.name}: {message}")
        if not lines:
            lines.append("No GGUF model files were found.")
        kind = "error" if report.errors else ("info" if report.added else "warning")
        self.notice.show_message("\n".join(lines), kind)

    @Slot()
    def cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()

    def wait_for_tasks(self) -> None:
        """Called at shutdown: stop every task and wait, so no thread outlives the window."""
        self.cancel_tasks()
        for task in self._tasks:
            task.done.wait(30)

    # Removing -----------------------------------------------------------------------------

    @Slot()
    def remove_selected(self) -> None:
        entry_id = self.selected_entry_id()
        if entry_id is None:
            return
        entry = self.library.get(entry_id)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove from library")
        box.setText(f"Remove \u201c{entry.display_name}\u201d from the library?")
        if entry.owns_file and not entry.is_missing:
            box.setInformativeText(
                f"The library holds a copy of this file ({format_bytes(entry.info.file_size)}). "
                "Delete the copy too, or keep it on disk?")
            box.addButton("Remove and delete file", QMessageBox.ButtonRole.DestructiveRole)
            box.addButton("Remove, keep file", QMessageBox.ButtonRole.AcceptRole)
        else:
            box.setInformativeText("The file itself stays where it is.")
            box.addButton("Remove", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setProperty("entry_id", entry.id)
        box.buttonClicked.connect(self._remove_answered)
        self._remove_box = box
        box.open()

    @Slot(object)
    def _remove_answered(self, button) -> None:
        box = self._remove_box
        self._remove_box = None
        if box is None:
            return
        role = box.buttonRole(button)
        entry_id = box.property("entry_id")
        box.deleteLater()
        if role == QMessageBox.ButtonRole.RejectRole:
            return
        delete_file = role == QMessageBox.ButtonRole.DestructiveRole
        try:
            entry = self.library.get(entry_id)
            self.library.remove(entry_id, delete_file=delete_file)
        except _EXPECTED_ERRORS as exc:
            self.notice.show_message(f"Could not remove the model: {exc}", "error")
            return
        deleted = " and deleted its file" if delete_file else ""
        self.notice.show_message(f"Removed \u201c{entry.display_name}\u201d{deleted}.", "info")
        self.refresh()
        self.library_changed.emit()

    @Slot(QPoint)
    def _show_context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        self.context_menu(index).popup(self.table.viewport().mapToGlobal(position))

    def context_menu(self, index: QModelIndex) -> QMenu:
        """The menu of one row (it becomes the current row)."""
        self.table.setCurrentIndex(index)
        menu = QMenu(self)
        entry_id = index.data(ENTRY_ID_ROLE)
        entry = self.library.get(entry_id) if entry_id is not None else None
        if entry is not None and entry.kind == "model" and not entry.is_missing:
            tune = QAction("Fine-tune this model\u2026", menu)
            tune.triggered.connect(self._finetune_selected)
            menu.addAction(tune)
            menu.addSeparator()
        remove = QAction("Remove from library\u2026", menu)
        remove.triggered.connect(self.remove_selected)
        menu.addAction(remove)
        return menu

    @Slot()
    def _finetune_selected(self) -> None:
        entry_id = self.selected_entry_id()
        if entry_id is not None:
            self.finetune_requested.emit(entry_id)
