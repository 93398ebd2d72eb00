"""Wizard step 2: the documents to learn from, what was read from each, and the training chunks.

Files are read on the thread pool (:class:`~slmdesk.ui.tasks.BackgroundTask`), so a large PDF never
freezes the window; each file shows whether it was read or why it was skipped. Token counts need
the model's tokenizer, which lives outside the GUI process: until the short
:class:`~slmdesk.ui.processes.token_preview.TokenPreview` child answers (a second or two), totals
are estimated from the characters, and they are marked as estimates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.documents.collect import (
    SUPPORTED_SUFFIXES,
    Document,
    DocumentSet,
    collect_documents,
)
from slmdesk.ui.finetune.wizard.documents_display import (
    belongs,
    chunks_preview_text,
    document_item,
    skipped_item,
    summary_html,
)
from slmdesk.ui.finetune.wizard.examples_preview import KnowledgePreview
from slmdesk.ui.processes.token_preview import TokenPreview
from slmdesk.ui.tasks import BackgroundTask
from slmdesk.ui.widgets.labels import heading, hint

COLUMNS = ["Document", "Status", "Characters", "Tokens"]
SOURCE_ROLE = Qt.ItemDataRole.UserRole + 1
_FILTER = "Documents ({});;All files (*)".format(
    " ".join(f"*{suffix}" for suffix in sorted(SUPPORTED_SUFFIXES)))

class DocumentsPage(QWidget):
    """Files and folders to learn from; ``changed`` fires whenever what is known changes."""

    changed = Signal()
    #: A reading task ended (for tests and the wizard's Next button).
    read_finished = Signal()
    #: The token preview answered (or failed: the estimates stay).
    preview_finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._sources: list[Path] = []
        self.found = DocumentSet()
        self.preview_answer: dict | None = None
        self._task: BackgroundTask | None = None
        self._all_tasks: list[BackgroundTask] = []  # cancelled ones may still be finishing
        self._generation = 0
        #: Set by the wizard: the preview request's settings (model_path, sequence_length...).
        self.preview_params: Callable[[], dict | None] = lambda: None
        self.token_preview = TokenPreview(self)
        self.token_preview.ready.connect(self._preview_ready)
        self.token_preview.failed.connect(self._preview_failed)

        add_files = QPushButton("Add files\u2026")
        add_files.clicked.connect(self.choose_files)
        add_folder = QPushButton("Add folder\u2026")
        add_folder.clicked.connect(self.choose_folder)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.busy_label = QLabel()
        self.busy_bar = QProgressBar()
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setRange(0, 0)
        buttons = QHBoxLayout()
        for widget in (add_files, add_folder, self.remove_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.busy_label)
        buttons.addWidget(self.busy_bar)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setStretchLastSection(False)
        self.drop_hint = QLabel("Drop files or folders here (txt, md, pdf, docx, html), or use "
                                "\u201cAdd files\u2026\u201d.")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setStyleSheet("border: 2px dashed #bdc1c6; border-radius: 8px;"
                                     " color: #5f6368; padding: 30px;")
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.preview_view = QPlainTextEdit(readOnly=True)
        self.preview_view.setPlaceholderText("The first training chunks appear here, as the "
                                             "model will see them.")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.preview_view.setFont(mono)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.tree, 1)
        top_layout.addWidget(self.drop_hint, 1)
        top_layout.addWidget(self.summary_label)
        # What training will see: the text cut into chunks, and the questions written from it.
        self.knowledge_preview = KnowledgePreview()
        self.knowledge_preview.changed.connect(self._knowledge_changed)
        self.preview_tabs = QTabWidget()
        self.preview_tabs.setDocumentMode(True)
        self.preview_tabs.addTab(self.preview_view, "Training chunks")
        self.preview_tabs.addTab(self.knowledge_preview, self.knowledge_preview.title())
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.preview_tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(heading("What should it learn?"))
        layout.addWidget(hint("Add the documents the model should learn from: notes, reports, "
                              "manuals. Everything stays on this computer."))
        layout.addWidget(hint("Fine-tuning suits a few pages the model should know by heart. On our "
                              "test notes a tuned model answered a little more often than the same "
                              "model with the note attached in Chat (Documents), and most often "
                              "with both. For many "
                              "documents, or ones that change, attach them in Chat instead: no "
                              "training, and each answer shows its source."))
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)
        self._show()

    # -- what the wizard reads -----------------------------------------------------------------

    def sources(self) -> list[Path]:
        return list(self._sources)

    @property
    def documents(self) -> list[Document]:
        return self.found.documents

    @property
    def reading(self) -> bool:
        return self._task is not None

    @property
    def ready(self) -> bool:
        """Something readable and nothing still being read."""
        return not self.reading and bool(self.documents)

    def token_counts(self) -> list[int] | None:
        """Real token counts per readable document, once the preview has them."""
        if self.preview_answer is None:
            return None
        return [file["tokens"] for file in self.preview_answer["files"]]

    # -- adding and removing -------------------------------------------------------------------

    @Slot()
    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Documents to learn from", str(Path.home()),
                                                _FILTER)
        if paths:
            self.add_paths([Path(p) for p in paths])

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of documents", str(Path.home()))
        if folder:
            self.add_paths([Path(folder)])

    def add_paths(self, paths: list[Path]) -> None:
        # Absolute, not resolved: a symbolic link keeps the name the person chose.
        new = [Path(os.path.abspath(Path(p).expanduser())) for p in paths]
        self._sources += [p for p in new if p not in self._sources]
        self._read()

    @Slot()
    def remove_selected(self) -> None:
        chosen = {item.data(0, SOURCE_ROLE) for item in self.tree.selectedItems()}
        self._sources = [s for s in self._sources if str(s) not in chosen]
        self._read()

    def clear(self) -> None:
        self._sources = []
        self._read()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # -- reading (thread pool) -----------------------------------------------------------------

    def _read(self) -> None:
        """Read every source again in the background; a newer read makes older ones moot."""
        if self._task is not None:
            self._task.cancel()
        self.token_preview.stop()
        self.preview_answer = None
        self._generation += 1
        generation, sources = self._generation, [str(s) for s in self._sources]
        if not sources:
            self._task = None
            self.found = DocumentSet()
            self.knowledge_preview.set_documents([])
            self._show()
            self.read_finished.emit()
            return

        def work(progress):
            try:
                return generation, collect_documents(sources, progress)
            except Exception as exc:
                exc.generation = generation  # type: ignore[attr-defined]
                raise

        # Slots, not lambdas: a lambda connected here would run on the pool thread.
        task = BackgroundTask(work, "Reading documents")
        task.signals.progress.connect(self._read_progress)
        task.signals.succeeded.connect(self._read_done)
        task.signals.failed.connect(self._read_failed)
        self._task = task
        self._all_tasks = [t for t in self._all_tasks if not t.done.is_set()] + [task]
        self._show()
        task.start()

    @Slot(object, object)
    def _read_progress(self, done: int, total: int) -> None:
        if self._task is not None and total:
            self.busy_label.setText(f"Reading {min(done + 1, total)} of {total} files\u2026")

    @Slot(object)
    def _read_done(self, result: tuple[int, DocumentSet]) -> None:
        generation, found = result
        if generation != self._generation or found.cancelled:
            return
        self._task = None
        self.found = found
        self.knowledge_preview.set_documents(found.documents)
        self._show()
        self.refresh_preview()
        self.read_finished.emit()

    @Slot(object, str)
    def _read_failed(self, error: Exception, _detail: str) -> None:
        if getattr(error, "generation", None) != self._generation:
            return
        self._task = None
        self.found = DocumentSet()
        self.knowledge_preview.set_documents([])
        self._show()
        self.summary_label.setText(f"The documents could not be read: {error}")
        self.read_finished.emit()

    def wait_for_tasks(self) -> None:
        """At shutdown: no reading thread or preview process may outlive the window."""
        for task in self._all_tasks:
            task.cancel()
        for task in self._all_tasks:
            task.done.wait(30)
        self.knowledge_preview.wait_for_tasks()
        self.token_preview.stop()

    @Slot()
    def _knowledge_changed(self) -> None:
        self.preview_tabs.setTabText(1, self.knowledge_preview.title())
        self.changed.emit()  # the estimate counts the questions too

    # -- token preview (child process) ---------------------------------------------------------

    def refresh_preview(self) -> None:
        """Count tokens and cut chunks for the current documents and settings, unless the
        answer on hand is for exactly these."""
        params = self.preview_params()
        if params is None or not self.documents or self.reading:
            return
        request = {**params, "documents": [str(s) for s in self._sources]}
        if self.preview_answer is not None and self.token_preview.request == request:
            return
        if self.token_preview.running and self.token_preview.request == request:
            return
        self.preview_answer = None
        self.token_preview.start(request)
        self._show()

    @Slot(dict)
    def _preview_ready(self, answer: dict) -> None:
        self.preview_answer = answer
        self._show()
        self.preview_finished.emit()

    @Slot(str)
    def _preview_failed(self, reason: str) -> None:
        self.preview_answer = None
        self._show()
        self.summary_label.setText(self.summary_label.text() + f"<br><span style='color:#5f6368'>"
                                   f"(Exact token counts are not available: {reason}. They "
                                   "are shown once training starts.)</span>")
        self.preview_finished.emit()

    # -- showing -------------------------------------------------------------------------------

    def _show(self) -> None:
        tokens = {f["path"]: f["tokens"] for f in (self.preview_answer or {}).get("files", [])}
        self.tree.clear()
        for source in self._sources:
            docs = [d for d in self.documents if belongs(Path(d.path), source)]
            skipped = [s for s in self.found.skipped if belongs(Path(s.path), source)]
            if source.is_dir() and not docs and [Path(s.path) for s in skipped] == [source]:
                item = skipped_item(source, skipped[0].reason, source.parent)  # nothing we read in it
                item.setText(0, source.name + "/")
            elif source.is_dir():
                item = QTreeWidgetItem([source.name + "/", "", "", ""])
                for doc in docs:
                    item.addChild(document_item(doc, tokens, source))
                for skip in skipped:
                    item.addChild(skipped_item(skip.path, skip.reason, source))
                if not self.reading:
                    item.setText(1, f"{len(docs)} read" + (f", {len(skipped)} skipped"
                                                           if skipped else ""))
                    item.setText(2, f"{sum(d.characters for d in docs):,}")
                    known = [tokens.get(str(d.path)) for d in docs]
                    if docs and None not in known:
                        item.setText(3, f"{sum(known):,}")
            elif docs:
                item = document_item(docs[0], tokens, source.parent)
            elif skipped:
                item = skipped_item(skipped[0].path, skipped[0].reason, source.parent)
            else:
                item = QTreeWidgetItem([source.name, "Reading\u2026" if self.reading else "", "",
                                        ""])
            item.setData(0, SOURCE_ROLE, str(source))
            item.setToolTip(0, str(source))
            self.tree.addTopLevelItem(item)
        self.tree.expandAll()
        for column in (2, 3):
            self.tree.resizeColumnToContents(column)
        has = bool(self._sources)
        self.tree.setVisible(has)
        self.drop_hint.setVisible(not has)
        self.remove_button.setEnabled(has)
        counting = self.token_preview.running
        self.busy_label.setVisible(self.reading or counting)
        self.busy_bar.setVisible(self.reading or counting)
        if counting and not self.reading:
            self.busy_label.setText("Counting tokens\u2026")
        elif self.reading and not self.busy_label.text().startswith("Reading"):
            self.busy_label.setText("Reading\u2026")
        self.summary_label.setText(summary_html(self._sources, self.found, self.reading,
                                                self.preview_answer))
        self.preview_view.setPlainText(chunks_preview_text(self.documents, self.reading,
                                                           self.preview_answer))
        self.changed.emit()
