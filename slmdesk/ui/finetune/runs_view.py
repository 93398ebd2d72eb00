"""Every fine-tuning run: its status, metrics and loss chart; resume a stopped one, delete one.

The list comes from the ``training_runs`` table; a run's chart and numbers from its own
``runs/<id>/events.jsonl``. A run left *running* by a worker that is gone (killed, power cut) is
shown as *interrupted*, and like a cancelled or failed run it can be resumed from its last
checkpoint.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.library.store import LibraryError, ModelLibrary
from slmdesk.core.training import events as ev
from slmdesk.core.training.reporting import describe_metrics
from slmdesk.core.training.runs import RunError, RunStore, TrainingRun
from slmdesk.paths import AppPaths
from slmdesk.ui.widgets.labels import heading, hint
from slmdesk.ui.widgets.loss_chart import LossChart
from slmdesk.ui.widgets.notice import NoticeBar

COLUMNS = ["Run", "Status", "Started", "Model", "Documents", "Progress", "Perplexity"]
ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_COLOURS = {"running": "#1a73e8", "finished": "#1b7f3b", "cancelled": "#b26a00",
                  "interrupted": "#b26a00", "failed": "#c62828"}


def _local_time(stamp: str) -> str:
    """The database's UTC time stamp in the computer's own time zone."""
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return stamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _perplexity(metrics: dict) -> str:
    split = metrics.get("evaluation_split", "validation")
    before = metrics.get(f"{split}_perplexity_before")
    after = metrics.get(f"{split}_perplexity_after")
    if isinstance(before, (int, float)) and isinstance(after, (int, float)):
        return f"{before:.1f} \u2192 {after:.1f}"
    return f"{before:.1f} before" if isinstance(before, (int, float)) else ""


class RunsView(QWidget):
    """The list of runs with one run's details; Resume and the adapter's actions go upwards."""

    resume_requested = Signal(int)
    chat_requested = Signal(int, int)
    compare_requested = Signal(int, int)

    def __init__(self, library: ModelLibrary, paths: AppPaths,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.store = RunStore(library.conn, paths)
        self._delete_box: QMessageBox | None = None
        #: The run dir the live events below belong to (the one training now).
        self.live_run_dir: Path | None = None

        self.notice = NoticeBar()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self._resume)
        self.chat_button = QPushButton("Chat with it")
        self.chat_button.clicked.connect(self._chat)
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self._compare)
        self.delete_button = QPushButton("Delete\u2026")
        self.delete_button.clicked.connect(self.delete_selected)
        toolbar = QHBoxLayout()
        for button in (self.resume_button, self.chat_button, self.compare_button):
            toolbar.addWidget(button)
        toolbar.addStretch(1)
        toolbar.addWidget(self.delete_button)
        toolbar.addWidget(self.refresh_button)

        self.table = QTreeWidget()
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.header().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.header().setStretchLastSection(False)
        self.table.currentItemChanged.connect(self._current_changed)
        self.empty_label = hint("No fine-tuning runs yet. Start one with the wizard.")
        self.title = heading("")
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chart = LossChart()
        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addWidget(self.title)
        details_layout.addWidget(self.details)
        details_layout.addWidget(self.chart, 1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.empty_label)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(details)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(toolbar)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)
        self.refresh()

    # -- listing -------------------------------------------------------------------------------

    def refresh(self, select_id: int | None = None) -> None:
        """Reload the runs (turning dead *running* ones into *interrupted*), keep the selection."""
        select_id = select_id if select_id is not None else self.selected_id()
        self.store.mark_stale_running_as_interrupted()
        runs = self.store.list()
        self.table.blockSignals(True)
        self.table.clear()
        for run in runs:
            metrics = run.metrics
            step, total = metrics.get("step"), metrics.get("total_steps")
            progress = f"{step or 0} of {total} steps" if total else ""
            documents = ", ".join(Path(doc).name for doc in run.job.get("documents", []))
            item = QTreeWidgetItem([
                f"{run.id}", run.status, _local_time(run.created_at),
                self._model_name(run), documents, progress, _perplexity(metrics)])
            item.setData(0, ID_ROLE, run.id)
            item.setForeground(1, QBrush(QColor(STATUS_COLOURS.get(run.status, "#3c4043"))))
            item.setToolTip(4, "\n".join(run.job.get("documents", [])))
            self.table.addTopLevelItem(item)
        for column in (0, 1, 2, 3, 5, 6):
            self.table.resizeColumnToContents(column)
        self.table.blockSignals(False)
        self.empty_label.setVisible(not runs)
        self.table.setVisible(bool(runs))
        if not (select_id is not None and self.select_run(select_id)) and runs:
            self.table.setCurrentItem(self.table.topLevelItem(0))
        self._show(self.selected_run())

    def _model_name(self, run: TrainingRun) -> str:
        try:
            if run.base_model_id is not None:
                return self.library.get(run.base_model_id).display_name
        except LibraryError:
            pass
        return Path(run.job.get("base_model_path", "")).name

    def select_run(self, run_id: int) -> bool:
        for row in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(row)
            if item.data(0, ID_ROLE) == run_id:
                self.table.setCurrentItem(item)
                return True
        return False

    def selected_id(self) -> int | None:
        item = self.table.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    def selected_run(self) -> TrainingRun | None:
        run_id = self.selected_id()
        if run_id is None:
            return None
        try:
            return self.store.get(run_id)
        except RunError:
            return None

    def row_texts(self) -> list[list[str]]:
        return [[self.table.topLevelItem(row).text(column) for column in range(len(COLUMNS))]
                for row in range(self.table.topLevelItemCount())]

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _current_changed(self, _current, _previous) -> None:
        self._show(self.selected_run())

    def _show(self, run: TrainingRun | None) -> None:
        has_adapter = run is not None and run.adapter_model_id is not None \
            and run.base_model_id is not None
        self.resume_button.setEnabled(run is not None and run.resumable)
        self.delete_button.setEnabled(run is not None and run.status != "running")
        self.chat_button.setEnabled(has_adapter)
        self.compare_button.setEnabled(has_adapter)
        if run is None:
            self.title.setText("")
            self.details.setText("")
            self.chart.clear_points()
            return
        job = run.job
        self.title.setText(f"Run {run.id}: {run.status}")
        lines = [f"<b>{self._model_name(run)}</b>, preset {job.get('preset')}: rank "
                 f"{job.get('lora_rank')}, learning rate {job.get('learning_rate')}, "
                 f"{job.get('epochs')} passes, chunks of {job.get('sequence_length')} tokens."]
        metrics = run.metrics
        if run.status == "finished":
            lines.append(describe_metrics(metrics))
            if run.adapter_model_id is not None:
                try:
                    lines.append("Adapter: \u201c"
                                 f"{self.library.get(run.adapter_model_id).display_name}\u201d.")
                except LibraryError:
                    lines.append("Its adapter was removed from the library.")
        elif metrics.get("total_steps"):
            lines.append(f"Reached step {metrics.get('step', 0)} of {metrics['total_steps']}.")
        if run.resumable:
            lines.append("It can be resumed from its last checkpoint.")
        if run.error:
            first, _, rest = run.error.partition("\n")
            lines.append(f"<span style='color:#c62828'>{first}</span>")
            if rest:
                lines.append("<pre style='color:#5f6368'>"
                             + rest.replace("&", "&amp;").replace("<", "&lt;") + "</pre>")
        lines.append(f"<span style='color:#5f6368'>Folder: {run.run_dir}</span>")
        self.details.setText("<br>".join(lines))
        self.chart.set_events(ev.read_events(run.run_dir))

    # -- live updates from the run training now ------------------------------------------------

    @Slot(dict)
    def live_event(self, event: dict) -> None:
        """An event of the run now training: redraw its row and chart when it is shown."""
        if event["type"] in (ev.STARTED, ev.CHECKPOINT) or ev.is_terminal(event):
            if event["type"] == ev.STARTED and event.get("run_dir"):
                self.live_run_dir = Path(event["run_dir"])
            self.refresh()
            return
        run = self.selected_run()
        if run is not None and self.live_run_dir is not None \
                and run.run_dir == self.live_run_dir:
            self.chart.add_event(event)

    # -- actions -------------------------------------------------------------------------------

    @Slot()
    def _resume(self) -> None:
        run = self.selected_run()
        if run is not None and run.resumable:
            self.resume_requested.emit(run.id)

    @Slot()
    def _chat(self) -> None:
        run = self.selected_run()
        if run is not None and run.adapter_model_id is not None:
            self.chat_requested.emit(run.base_model_id, run.adapter_model_id)

    @Slot()
    def _compare(self) -> None:
        run = self.selected_run()
        if run is not None and run.adapter_model_id is not None:
            self.compare_requested.emit(run.base_model_id, run.adapter_model_id)

    @Slot()
    def delete_selected(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Delete run")
        box.setText(f"Delete training run {run.id} and its folder (checkpoints, logs)?")
        box.setInformativeText("An adapter it made stays in the library." if
                               run.adapter_model_id else "It can no longer be resumed.")
        box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setProperty("run_id", run.id)
        box.buttonClicked.connect(self._delete_answered)
        self._delete_box = box
        box.open()

    @Slot(object)
    def _delete_answered(self, button) -> None:
        box, self._delete_box = self._delete_box, None
        if box is None:
            return
        role, run_id = box.buttonRole(button), box.property("run_id")
        box.deleteLater()
        if role != QMessageBox.ButtonRole.DestructiveRole:
            return
        try:
            self.store.delete(run_id)
        except (RunError, OSError) as exc:
            self.notice.show_message(str(exc), "error")
            return
        self.notice.show_message(f"Deleted run {run_id}.", "info")
        self.refresh()
