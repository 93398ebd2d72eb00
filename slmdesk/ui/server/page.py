"""The Server page: switch the local OpenAI-compatible server on and off, copy its address and
token, rotate the token, and watch the requests (time, model, tokens, duration; never the text).

It runs the same :class:`~slmdesk.core.server.server.LocalServer` as ``slmdesk serve``, on a
thread of its own, loopback only (a network bind is for the command line, with its flag). The
server imports starlette and uvicorn only when it is switched on, so the window starts as fast
as before.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.errors import SlmdeskError
from slmdesk.core.server.request_log import LOG_FILE_NAME, RequestRecord
from slmdesk.core.server.token import ServerToken
from slmdesk.paths import AppPaths
from slmdesk.ui.tasks import BackgroundTask
from slmdesk.ui.widgets.labels import heading, hint
from slmdesk.ui.widgets.notice import NoticeBar

if TYPE_CHECKING:
    from slmdesk.core.server.server import LocalServer

DEFAULT_PORT = 8765  # the same as slmdesk serve (core.server.server.DEFAULT_PORT)
COLUMNS = ["Time", "Request", "Model", "Status", "Tokens (prompt + reply)", "Seconds", "Outcome"]
SHOWN_RECORDS = 300
USAGE = ("Point any OpenAI client at the address with the token as its API key, e.g. in "
         "Python: OpenAI(base_url=\u2026, api_key=\u2026). Model names are listed at "
         "/v1/models: each model of the library, and each model with a fine-tuned adapter; "
         "all-minilm-l6-v2 makes embeddings (/v1/embeddings). Only programs on this computer can reach it.")


class _RecordSignal(QObject):
    """Carries request records from the server's thread to the page (a queued connection)."""

    record = Signal(object)


class ServerPage(QWidget):
    """The switch, the address and token with copy buttons, and the request log."""

    #: "off", "on" or "stopping".
    state_changed = Signal(str)

    def __init__(self, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.token = ServerToken.for_paths(paths)
        self.server: LocalServer | None = None
        self.state = "off"
        self._stop_task: BackgroundTask | None = None
        self._records = _RecordSignal(self)
        self._records.record.connect(self._add_record)

        self.notice = NoticeBar()
        self.switch = QPushButton("Start the server")
        self.switch.setCheckable(True)
        self.switch.clicked.connect(self._switch_clicked)
        self.port_box = QSpinBox()
        self.port_box.setRange(1024, 65535)
        self.port_box.setValue(DEFAULT_PORT)
        self.port_box.setToolTip("The port the server listens on, on this computer only")
        self.address = QLineEdit()
        self.address.setReadOnly(True)
        self.address.setPlaceholderText("not running")
        self.copy_address = QPushButton("Copy")
        self.copy_address.clicked.connect(lambda: self._copy(self.address.text()))
        self.token_field = QLineEdit()
        self.token_field.setReadOnly(True)
        self.token_field.setText(self.token.current())
        self.copy_token = QPushButton("Copy")
        self.copy_token.clicked.connect(lambda: self._copy(self.token_field.text()))
        self.rotate = QPushButton("New token")
        self.rotate.setToolTip("Make a new token; programs using the old one must be given "
                               "the new one")
        self.rotate.clicked.connect(self.rotate_token)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)

        switch_row = QHBoxLayout()
        switch_row.addWidget(self.switch)
        switch_row.addWidget(hint("on port"))
        switch_row.addWidget(self.port_box)
        switch_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Address", _row(self.address, self.copy_address))
        form.addRow("Token", _row(self.token_field, self.copy_token, self.rotate))
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Local server (OpenAI API)"))
        layout.addWidget(self.notice)
        layout.addWidget(hint(USAGE))
        layout.addLayout(switch_row)
        layout.addLayout(form)
        layout.addWidget(hint(f"Requests (also written to {paths.log_dir / LOG_FILE_NAME}; "
                              "what was asked and answered is never kept)"))
        layout.addWidget(self.table, 1)
        for record in _saved_records(paths):
            self._add_record(record)

    # --- the switch --------------------------------------------------------------------------

    @Slot(bool)
    def _switch_clicked(self, checked: bool) -> None:
        if checked:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        """Start listening on 127.0.0.1 at the chosen port (the engine starts alongside)."""
        if self.server is not None or self.state == "stopping":
            return
        from slmdesk.core.server.server import LocalServer, ServerConfig

        try:
            server = LocalServer(self.paths, ServerConfig(port=self.port_box.value()))
        except SlmdeskError as exc:
            self.notice.show_message(exc.message, "error", exc.detail)
            self._set_state("off")
            return
        server.log.subscribe(self._records.record.emit)
        server.start()
        self.server = server
        self.address.setText(server.base_url)
        self.token_field.setText(server.token.current())
        self.notice.hide()
        self._set_state("on")

    def stop(self) -> None:
        """Stop listening; the engine ends off the GUI thread."""
        server, self.server = self.server, None
        if server is None:
            return
        self._set_state("stopping")
        task = BackgroundTask(lambda progress: server.stop(), "Stopping the server")
        task.signals.succeeded.connect(self._stopped)
        task.signals.failed.connect(self._stop_failed)
        self._stop_task = task.start()

    @Slot(object)
    def _stopped(self, _result: Any) -> None:
        self.address.clear()
        self._set_state("off")

    @Slot(object, str)
    def _stop_failed(self, error: Exception, detail: str) -> None:
        self.notice.show_message(f"The server did not stop cleanly: {error}", "warning", detail)
        self._stopped(None)

    def shutdown(self) -> None:
        """At quit: stop the server and its engine before the window goes."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()
        if self._stop_task is not None:
            self._stop_task.done.wait(30)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.switch.setChecked(state == "on")
        self.switch.setEnabled(state != "stopping")
        self.switch.setText({"on": "Stop the server", "off": "Start the server",
                             "stopping": "Stopping\u2026"}[state])
        self.port_box.setEnabled(state == "off")
        self.state_changed.emit(state)

    # --- token and log -----------------------------------------------------------------------

    @Slot()
    def rotate_token(self) -> None:
        """A new token, in use at once (a running server reads it again)."""
        self.token_field.setText(self.token.rotate())
        self.notice.show_message("A new token is in use: programs with the old one are "
                                 "refused until they get the new one.", "info")

    def _copy(self, text: str) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)

    @Slot(object)
    def _add_record(self, record: RequestRecord) -> None:
        self.table.insertRow(0)
        values = [record.time.replace("T", " ")[:19], record.endpoint, record.model or "-",
                  str(record.status), f"{record.prompt_tokens} + {record.completion_tokens}",
                  f"{record.seconds:.2f}", record.outcome]
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            if column in (3, 4, 5):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(0, column, item)
        while self.table.rowCount() > SHOWN_RECORDS:
            self.table.removeRow(self.table.rowCount() - 1)


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for index, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if index == 0 else 0)
    return box


def _saved_records(paths: AppPaths) -> list[RequestRecord]:
    """The last requests of earlier sessions, oldest first, from the log file."""
    path = paths.log_dir / LOG_FILE_NAME
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[-SHOWN_RECORDS:]
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(RequestRecord(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line cut short by a crash
    return records
