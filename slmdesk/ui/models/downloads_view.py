"""The downloads list: one row per download with its progress, speed, time left and buttons.

The rows come from the ``downloads`` table, so a download paused, interrupted by closing the
window or killed is listed again at the next start, with Resume.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.gguf.info import format_bytes
from slmdesk.core.hub.store import Download, DownloadStatus
from slmdesk.core.hub.transfer import TransferProgress
from slmdesk.ui.widgets.labels import hint

_PERMILLE = 1000


class DownloadRow(QFrame):
    """One download: name, bar, a line of words and Pause / Resume / Cancel."""

    pause_requested = Signal(int)
    resume_requested = Signal(int)
    cancel_requested = Signal(int)

    def __init__(self, download: Download, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.download_id = download.id
        self.size = download.size
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.name_label = QLabel(f"<b>{download.filename}</b> "
                                 f"<span style='color:#5f6368'>{download.repo_id}</span>")
        self.bar = QProgressBar()
        self.bar.setRange(0, _PERMILLE)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.status_label = hint()
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.pause_button.clicked.connect(lambda: self.pause_requested.emit(self.download_id))
        self.resume_button.clicked.connect(lambda: self.resume_requested.emit(self.download_id))
        self.cancel_button.clicked.connect(lambda: self.cancel_requested.emit(self.download_id))
        top = QHBoxLayout()
        top.addWidget(self.name_label, 1)
        for button in (self.pause_button, self.resume_button, self.cancel_button):
            top.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.status_label)
        self.show_state(download.status, download.error, download.bytes_on_disk)

    def show_state(self, status: DownloadStatus, message: str | None = None,
                   done: int | None = None) -> None:
        self.status = status
        active = status in (DownloadStatus.RUNNING, DownloadStatus.QUEUED)
        finished = status in (DownloadStatus.DONE, DownloadStatus.CANCELLED)
        self.pause_button.setVisible(active)
        self.pause_button.setEnabled(True)
        self.resume_button.setVisible(status in (DownloadStatus.PAUSED, DownloadStatus.FAILED))
        self.resume_button.setText("Try again" if status == DownloadStatus.FAILED else "Resume")
        self.cancel_button.setVisible(not finished)
        if done is not None:
            self._set_bar(done)
        words = {DownloadStatus.QUEUED: "Starting\u2026", DownloadStatus.RUNNING: "Downloading\u2026",
                 DownloadStatus.PAUSED: "Paused", DownloadStatus.FAILED: "Stopped",
                 DownloadStatus.CANCELLED: "Cancelled",
                 DownloadStatus.DONE: "Verified and added to the library"}[status]
        kept = (f" \u2014 {format_bytes(done)} of {format_bytes(self.size)} kept"
                if done and self.size and status in (DownloadStatus.PAUSED,
                                                     DownloadStatus.FAILED) else "")
        text = f"{words}{kept}" + (f": {message}" if message else "")
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #a50e0e;" if status == DownloadStatus.FAILED
                                        else "color: #5f6368;")

    def show_progress(self, state: TransferProgress) -> None:
        if not self.pause_button.isEnabled():
            return  # "Pausing…" stays until the thread has stopped
        if state.total:
            self.size = state.total
        self._set_bar(state.done)
        self.status_label.setText(state.describe())

    def _set_bar(self, done: int) -> None:
        self.bar.setValue(int(_PERMILLE * done / self.size) if self.size else 0)


class DownloadsList(QWidget):
    """Rows for every download worth showing, newest first."""

    pause_requested = Signal(int)
    resume_requested = Signal(int)
    cancel_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[int, DownloadRow] = {}
        self.empty_label = hint("No downloads yet. Pick a model above and press Download.")
        self.box = QVBoxLayout()
        self.box.setSpacing(4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty_label)
        layout.addLayout(self.box)
        layout.addStretch(1)

    def show_download(self, download: Download) -> DownloadRow:
        row = self.rows.get(download.id)
        if row is None:
            row = DownloadRow(download)
            row.pause_requested.connect(self.pause_requested)
            row.resume_requested.connect(self.resume_requested)
            row.cancel_requested.connect(self.cancel_requested)
            self.rows[download.id] = row
            self.box.insertWidget(0, row)
        else:
            row.show_state(download.status, download.error, download.bytes_on_disk)
        self.empty_label.setVisible(not self.rows)
        return row

    @Slot(int)
    def remove(self, download_id: int) -> None:
        row = self.rows.pop(download_id, None)
        if row is not None:
            row.setParent(None)
            row.deleteLater()
        self.empty_label.setVisible(not self.rows)

    def row(self, download_id: int) -> DownloadRow | None:
        return self.rows.get(download_id)
