"""The Get models page: recommended models, Hub search, and the downloads.

Opening the page sends nothing: the catalogue is local, a search or a repository's files are
fetched when asked for, and a download starts on Download. Downloads left paused or
interrupted (the window closed, the process killed) are listed from the database with Resume.
The offline setting turns the page's requests off; the page always says where they go.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core import db
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.hub.access import describe_destination, is_offline, set_offline
from slmdesk.core.hub.downloads import start_download
from slmdesk.core.hub.store import DownloadStatus, DownloadStore
from slmdesk.core.hub.transfer import RetryPolicy, TransferProgress
from slmdesk.core.library.store import LibraryEntry
from slmdesk.paths import AppPaths
from slmdesk.ui.models.catalogue_view import catalogue_tree
from slmdesk.ui.models.downloads_view import DownloadsList
from slmdesk.ui.models.file_tree import selected_file
from slmdesk.ui.models.runner import DownloadRunner
from slmdesk.ui.models.search_view import SearchView
from slmdesk.ui.widgets.labels import heading, hint
from slmdesk.ui.widgets.notice import NoticeBar


class GetModelsPage(QWidget):
    """Find a model, download it (resumable, verified), and find it in the library."""

    #: A download was verified and added (its library entry): the library refreshes.
    library_changed = Signal()
    #: A download ended in any way (id, status): tests and the status bar listen.
    download_ended = Signal(int, str)

    def __init__(self, paths: AppPaths, policy: RetryPolicy | None = None,
                 available_bytes: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.conn = db.connect(paths.database)
        self.store = DownloadStore(self.conn)
        self.runner = DownloadRunner(paths, policy, self)
        self.runner.progress.connect(self._progress)
        self.runner.finished.connect(self._finished)
        self.runner.stopped.connect(self._stopped)
        self.runner.failed.connect(self._failed)

        self.notice = NoticeBar()
        self.where_label = hint(describe_destination())
        self.offline_box = QCheckBox("Offline: never contact the Hub")
        self.offline_box.setChecked(is_offline(self.conn))
        self.offline_box.toggled.connect(self.set_offline)

        self.catalogue = catalogue_tree(available_bytes)
        self.catalogue.itemDoubleClicked.connect(lambda *_: self.download_selected())
        self.catalogue.currentItemChanged.connect(self._selection_changed)
        self.search_view = SearchView(available_bytes)
        self.search_view.failed.connect(self._request_failed)
        self.search_view.files.itemDoubleClicked.connect(lambda *_: self.download_selected())
        self.search_view.files.currentItemChanged.connect(self._selection_changed)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.catalogue, "Recommended")
        self.tabs.addTab(self.search_view, "Search the Hub")
        self.tabs.currentChanged.connect(self._selection_changed)
        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.download_selected)
        self.selection_hint = hint("Pick a model (its recommended Q4_K_M file) or one of its "
                                   "quantizations.")

        self.downloads = DownloadsList()
        self.downloads.pause_requested.connect(self.pause)
        self.downloads.resume_requested.connect(self.resume)
        self.downloads.cancel_requested.connect(self.runner.cancel)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.downloads)

        top = QHBoxLayout()
        top.addWidget(heading("Get models"), 1)
        top.addWidget(self.offline_box)
        actions = QHBoxLayout()
        actions.addWidget(self.selection_hint, 1)
        actions.addWidget(self.download_button)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.tabs, 1)
        upper_layout.addLayout(actions)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(scroll)
        splitter.setSizes([430, 200])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.where_label)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)

        self.store.recover_interrupted()
        for download in reversed(self.store.unfinished()):
            self.downloads.show_download(download)
        self._apply_offline(self.offline_box.isChecked())

    # Actions ------------------------------------------------------------------------------

    @Slot(bool)
    def set_offline(self, offline: bool) -> None:
        set_offline(self.conn, offline)
        self._apply_offline(is_offline(self.conn))

    @Slot()
    def download_selected(self) -> int | None:
        """Start (or resume) the download of the selected file; its download id."""
        chosen = selected_file(self._current_tree())
        if chosen is None:
            self.notice.show_message("Pick a model or one of its files first.", "info")
            return None
        return self.download(*chosen)

    def download(self, repo_id: str, filename: str) -> int | None:
        try:
            download = start_download(self.store, self.paths, repo_id, filename)
        except SlmdeskError as exc:
            self.notice.show_message(exc.message, "error", exc.detail)
            return None
        self._start(download.id)
        return download.id

    @Slot(int)
    def resume(self, download_id: int) -> None:
        self._start(download_id)

    @Slot(int)
    def pause(self, download_id: int) -> None:
        row = self.downloads.row(download_id)
        if row is not None and self.runner.is_running(download_id):
            row.pause_button.setEnabled(False)
            row.status_label.setText("Pausing…")
        self.runner.pause(download_id)

    def shutdown(self) -> None:
        """Pause running downloads (their parts stay for the next start) and wait."""
        self.runner.shutdown()
        self.search_view.wait_for_tasks()

    # Runner reports -----------------------------------------------------------------------

    def _start(self, download_id: int) -> None:
        if self.runner.is_running(download_id):
            return
        row = self.downloads.show_download(self.store.get(download_id))
        row.show_state(DownloadStatus.RUNNING)
        self.notice.hide()
        self.runner.start(download_id)

    @Slot(int, object)
    def _progress(self, download_id: int, state: TransferProgress) -> None:
        row = self.downloads.row(download_id)
        if row is not None:
            row.show_progress(state)

    @Slot(int, object)
    def _finished(self, download_id: int, entry: LibraryEntry) -> None:
        self.downloads.show_download(self.store.get(download_id))
        self.notice.show_message(f"{entry.display_name} is in the library (#{entry.id}), "
                                 "checked against the Hub's SHA-256.", "info")
        self.library_changed.emit()
        self.download_ended.emit(download_id, "done")

    @Slot(int, str)
    def _stopped(self, download_id: int, status: str) -> None:
        if status == "cancelled":
            self.downloads.remove(download_id)
        else:
            self.downloads.show_download(self.store.get(download_id))
        self.download_ended.emit(download_id, status)

    @Slot(int, str, str)
    def _failed(self, download_id: int, message: str, detail: str) -> None:
        self.downloads.show_download(self.store.get(download_id))
        self.notice.show_message(message, "error", detail)
        self.download_ended.emit(download_id, "failed")

    @Slot(str, str)
    def _request_failed(self, message: str, detail: str) -> None:
        self.notice.show_message(message, "error", detail)

    @Slot()
    def _selection_changed(self, *_args: object) -> None:
        """Say which file Download will fetch."""
        chosen = selected_file(self._current_tree())
        self.selection_hint.setText(
            f"Download gets {chosen[1]} from {chosen[0]}." if chosen else
            "Pick a model (its recommended Q4_K_M file) or one of its quantizations.")

    def _current_tree(self) -> QTreeWidget:
        return self.catalogue if self.tabs.currentIndex() == 0 else self.search_view.files

    def _apply_offline(self, offline: bool) -> None:
        for widget in (self.download_button, self.search_view):
            widget.setEnabled(not offline)
        for row in self.downloads.rows.values():
            row.resume_button.setEnabled(not offline)
        self.where_label.setText(
            "Offline: SLM Desk sends nothing to the Hub. Untick Offline to search and "
            "download." if offline else describe_destination())
