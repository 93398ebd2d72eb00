"""The Documents button of the Chat page: attach collections to a conversation, add and index them.

The menu lists every collection with a check mark for those the conversation answers from, and
adds a folder as a new collection. Indexing runs on a pool thread with its own database
connection (:class:`~slmdesk.ui.tasks.BackgroundTask`), with a progress dialog whose Cancel leaves
the files done so far searchable. The attached folders are indexed again every
:data:`WATCH_INTERVAL_MS`, which costs one ``stat`` per unchanged file, so a file dropped into a
watched folder is found without anyone asking for a rebuild. After indexing, the notice bar names
the first few files that could not be read and its Details list every one, with its folder and
reason (a folder of hundreds of old .doc files is read in full there, not in one long line).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QMenu,
    QProgressDialog,
    QToolButton,
    QWidget,
)

from slmdesk.core import db
from slmdesk.core.documents.collect import SkippedFile
from slmdesk.core.documents.embedding import open_embedder
from slmdesk.core.documents.index import CollectionError, DocumentIndex, IndexReport
from slmdesk.core.documents.taught import taught_collection
from slmdesk.core.errors import ProgressCallback
from slmdesk.paths import AppPaths
from slmdesk.ui.tasks import BackgroundTask

WATCH_INTERVAL_MS = 30_000
#: Unreadable files named in the notice itself; the rest are in its Details.
NAMED_UNREADABLE = 5
#: When documents serve better than fine-tuning, from bench/rag_bench.py (README, Measured).
DOCUMENTS_VERSUS_TUNING = (
    "Answer from your documents, with the source of each answer. On our test notes SmolLM2 answered "
    "6 of 10 questions with a short note attached (it goes in whole), 7 when tuned on it, and 8 "
    "with the tuned model searching the note; for many documents, or ones that change, attach "
    "them: tuning cannot keep up.")


#: Said when a conversation on a fine-tune's result starts with its documents attached.
TAUGHT_ATTACHED = (
    "The documents it was tuned on are attached (\u201c{name}\u201d), so its answers can "
    "cite them: on documents nobody on the team wrote, the tuned model answered more questions "
    "with them than alone. Detach them under Documents.")


def index_in_background(paths: AppPaths, names: list[str], *, rebuild: bool = False) -> BackgroundTask:
    """A task that updates the named collections; its result is the list of reports."""
    def work(progress: ProgressCallback) -> list[IndexReport]:
        conn = db.connect(paths.database, check_same_thread=False)
        embedder = open_embedder(paths)  # None without the model: words alone, no vectors
        try:
            index = DocumentIndex(conn)
            reports = []
            for name in names:
                reports.append(index.update(name, progress, rebuild=rebuild, embedder=embedder))
                if reports[-1].cancelled:
                    break
            return reports
        finally:
            if embedder is not None:
                embedder.close()
            conn.close()

    return BackgroundTask(work, "Indexing documents")


def unreadable_details(skipped: list[SkippedFile]) -> str:
    """Every file that could not be read, one to a paragraph: its full path, why, and the
    technical cause when there is one (for a bug report)."""
    if not skipped:
        return ""
    lines = [f"{len(skipped)} file{'s' if len(skipped) != 1 else ''} could not be read:"]
    for file in skipped:
        lines.append(f"\n{file.path}\n    {file.reason}" + (f"\n    ({file.detail})" if file.detail else ""))
    return "\n".join(lines)


class DocumentsButton(QToolButton):
    """``Documents (2)``: which collections this conversation answers from."""

    #: The ids of the collections now attached to the conversation.
    attached_changed = Signal(list)
    #: A sentence for the notice bar, its kind ('info' or 'error') and its details (may be empty).
    message = Signal(str, str, str)

    def __init__(self, index: DocumentIndex, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.paths = paths
        self.attached: list[int] = []
        self.task: BackgroundTask | None = None
        self._lead = ""  # said before the report of the indexing under way
        self.progress_dialog: QProgressDialog | None = None
        self.setText("Documents")
        self.setToolTip(DOCUMENTS_VERSUS_TUNING)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = QMenu(self)
        self.menu_.aboutToShow.connect(self.rebuild_menu)
        self.setMenu(self.menu_)
        self.watch_timer = QTimer(self)
        self.watch_timer.setInterval(WATCH_INTERVAL_MS)
        self.watch_timer.timeout.connect(self.reindex_attached)
        self.watch_timer.start()

    def set_attached(self, collection_ids: list[int]) -> None:
        known = {collection.id for collection in self.index.collections()}
        self.attached = [cid for cid in collection_ids if cid in known]
        self.setText(f"Documents ({len(self.attached)})" if self.attached else "Documents")

    @Slot()
    def rebuild_menu(self) -> None:
        self.menu_.clear()
        collections = self.index.collections()
        if not collections:
            self.menu_.addAction("No collections yet").setEnabled(False)
        for collection in collections:
            label = f"{collection.name}  \u00b7  {collection.files} files"
            if collection.skipped:
                label += f", {collection.skipped} unreadable"
            action = self.menu_.addAction(label)
            action.setCheckable(True)
            action.setChecked(collection.id in self.attached)
            action.toggled.connect(lambda on, cid=collection.id: self._toggle(cid, on))
        self.menu_.addSeparator()
        self.menu_.addAction("Add a folder as a collection\u2026", self.add_folder)
        index_again = self.menu_.addAction("Index the attached collections again", self.reindex_attached)
        index_again.setEnabled(bool(self.attached) and self.task is None)

    def _toggle(self, collection_id: int, on: bool) -> None:
        attached = [cid for cid in self.attached if cid != collection_id] + ([collection_id] if on else [])
        self.set_attached(attached)
        self.attached_changed.emit(self.attached)

    @Slot()
    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of documents")
        if folder:
            name, ok = QInputDialog.getText(self, "New collection", "Name of the collection:",
                                            text=Path(folder).name)
            if ok:
                self.create_collection(name, [folder])

    def create_collection(self, name: str, paths: list[str]) -> BackgroundTask | None:
        """Create, attach and index a collection (the dialog's work, callable from tests)."""
        try:
            collection = self.index.create(name, paths)
        except CollectionError as exc:
            self.message.emit(exc.message, "error", exc.detail)
            return None
        self._toggle(collection.id, True)
        return self.start_indexing([collection.name], show_progress=True)

    def attach_taught(self, adapter_name: str, documents: list[str]) -> BackgroundTask | None:
        """Attach the documents an adapter was tuned on (see :mod:`slmdesk.core.documents.taught`),
        indexing them as any collection; None when none of them is there any more."""
        try:
            collection = taught_collection(self.index, adapter_name, documents)
        except CollectionError as exc:
            self.message.emit(exc.message, "error", exc.detail)
            return None
        if collection is None:
            return None
        if collection.id not in self.attached:
            self._toggle(collection.id, True)
        said = TAUGHT_ATTACHED.format(name=collection.name)
        if self.task is not None:  # another indexing: the 30 s re-scan of attached ones follows
            self.message.emit(said, "info", "")
            return None
        return self.start_indexing([collection.name], show_progress=False, lead=said)

    @Slot()
    def reindex_attached(self) -> None:
        if self.attached and self.task is None:
            names = [c.name for c in self.index.collections() if c.id in self.attached]
            self.start_indexing(names, show_progress=False)

    def start_indexing(self, names: list[str], *, show_progress: bool,
                       lead: str = "") -> BackgroundTask | None:
        """Index ``names`` in the background; ``lead`` goes before the report in the notice."""
        if self.task is not None:
            self.message.emit("Documents are being indexed already; try again when that is done.", "info", "")
            return None
        task = index_in_background(self.paths, names)
        self.task, self._lead = task, lead
        if show_progress:
            dialog = QProgressDialog("Indexing documents\u2026", "Cancel", 0, 0, self)
            dialog.setWindowTitle("Indexing")
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            dialog.setMinimumDuration(300)
            dialog.setAutoClose(False)  # closed when the task reports its end, not at 100%
            dialog.setAutoReset(False)
            dialog.canceled.connect(task.cancel)
            task.signals.progress.connect(self._progress)
            self.progress_dialog = dialog
        task.signals.succeeded.connect(self._indexed)
        task.signals.failed.connect(self._failed)
        return task.start()

    @Slot(object, object)
    def _progress(self, done: int, total: int) -> None:
        dialog = self.progress_dialog
        if dialog is not None:  # (a modal dialog's setValue runs queued events: set it last)
            dialog.setLabelText(f"Indexing documents\u2026 {done} of {total}")
            dialog.setMaximum(max(total, 1))
            dialog.setValue(min(done, max(total, 1)))

    @Slot(object)
    def _indexed(self, reports: list[IndexReport]) -> None:
        shown = self._close_progress()
        self.task, lead, self._lead = None, self._lead, ""
        self.set_attached(self.attached)
        skipped = [s for report in reports for s in report.skipped]
        if lead and not skipped:
            self.message.emit(lead, "info", "")
        elif shown or skipped or any(r.added or r.changed or r.removed for r in reports):
            words = "; ".join(report.summary() for report in reports)
            if skipped:
                words += ". Not indexed: " + "; ".join(f"{s.path.name} ({s.reason})"
                                                       for s in skipped[:NAMED_UNREADABLE])
                if len(skipped) > NAMED_UNREADABLE:
                    words += f"; and {len(skipped) - NAMED_UNREADABLE} more (Details lists them all)"
            self.message.emit(f"{lead + ' ' if lead else ''}Documents indexed: {words}",
                              "error" if skipped else "info", unreadable_details(skipped))

    @Slot(object, str)
    def _failed(self, error: Exception, detail: str) -> None:
        self._close_progress()
        self.task, self._lead = None, ""
        self.message.emit(getattr(error, "message", str(error)), "error", detail)

    def _close_progress(self) -> bool:
        dialog, self.progress_dialog = self.progress_dialog, None
        if dialog is None:
            return False
        dialog.canceled.disconnect()
        dialog.close()
        dialog.deleteLater()
        return True

    def shutdown(self) -> None:
        """Stop watching and ask a running index to stop (the files done so far are kept)."""
        self.watch_timer.stop()
        if self.task is not None:
            self.task.cancel()
            self.task.done.wait(10)
