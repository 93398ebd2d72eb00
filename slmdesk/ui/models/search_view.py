"""The Search tab: GGUF repositories on the Hub, and the chosen one's files.

Each request runs as a BackgroundTask; nothing is sent until the person searches or picks a
repository.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.gguf.info import format_bytes
from slmdesk.core.hub.access import hub_endpoint
from slmdesk.core.hub.search import RepoFiles, RepoSummary, list_gguf_files, search_gguf_repos
from slmdesk.core.library.memory import available_memory_bytes
from slmdesk.ui.models.file_tree import FILE_ROLE, file_tree, set_badge
from slmdesk.ui.tasks import BackgroundTask
from slmdesk.ui.widgets.labels import hint

FILE_COLUMNS = ["File", "Quantization", "Size", "On this computer"]


class SearchView(QWidget):
    """Search box, results, and the files of the selected repository."""

    #: A request failed: message, detail (the page shows it in its notice bar).
    failed = Signal(str, str)
    #: A search or a file listing arrived (tests wait for it).
    results_shown = Signal()

    def __init__(self, available_bytes: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.available_bytes = available_bytes
        self._tasks: list[BackgroundTask] = []
        self.query_edit = QLineEdit(placeholderText="Search the Hub for GGUF models, e.g. qwen "
                                    "instruct")
        self.query_edit.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.search)
        self.results = QListWidget()
        self.results.currentItemChanged.connect(self._repo_chosen)
        self.files = file_tree(FILE_COLUMNS)
        self.files.setRootIsDecorated(False)
        self.status = hint("Type a few words and press Enter.")
        row = QHBoxLayout()
        row.addWidget(self.query_edit, 1)
        row.addWidget(self.search_button)
        splitter = QSplitter()
        splitter.addWidget(self.results)
        splitter.addWidget(self.files)
        splitter.setSizes([280, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

    @Slot()
    def search(self) -> None:
        query = self.query_edit.text().strip()
        endpoint = hub_endpoint()
        self.status.setText(f"Searching {endpoint}\u2026")
        self._run(lambda progress: search_gguf_repos(endpoint, query), self._show_results)

    def show_files_of(self, repo_id: str) -> None:
        endpoint = hub_endpoint()
        self.status.setText(f"Listing the files of {repo_id}\u2026")
        self.files.clear()
        self._run(lambda progress: list_gguf_files(endpoint, repo_id), self._show_files)

    def wait_for_tasks(self) -> None:
        for task in self._tasks:
            task.done.wait(30)

    def _run(self, work, on_success) -> None:  # type: ignore[no-untyped-def]
        task = BackgroundTask(work, "Hub request")
        task.signals.succeeded.connect(on_success)
        task.signals.failed.connect(self._failed)
        self._tasks = [t for t in self._tasks if not t.done.is_set()] + [task]
        task.start()

    @Slot(object)
    def _show_results(self, found: list[RepoSummary]) -> None:
        self.results.clear()
        self.files.clear()
        for repo in found:
            item = QListWidgetItem(repo.repo_id + ("  (gated)" if repo.gated else ""))
            item.setData(FILE_ROLE, repo.repo_id)
            item.setToolTip(f"{repo.downloads:,} downloads")
            self.results.addItem(item)
        self.status.setText(f"{len(found)} repositories with GGUF files. Pick one to see its "
                            "files." if found else "No GGUF repository matches.")
        self.results_shown.emit()

    @Slot(object, object)
    def _repo_chosen(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.show_files_of(current.data(FILE_ROLE))

    @Slot(object)
    def _show_files(self, listing: RepoFiles) -> None:
        self.files.clear()
        available = (available_memory_bytes() if self.available_bytes is None
                     else self.available_bytes)
        for file in listing.files:
            size = format_bytes(file.size) if file.size else "?"
            item = QTreeWidgetItem([file.filename, file.quantization or "-", size, ""])
            if file.is_split:
                item.setText(3, f"split in {file.split_parts} parts")
                item.setDisabled(True)
            else:
                set_badge(item, 3, file.estimate(available), lower_bound=True)
                item.setData(0, FILE_ROLE, (file.repo_id, file.filename))
            self.files.addTopLevelItem(item)
        gated = " It is gated: accept its terms on the Hub first." if listing.gated else ""
        self.status.setText(f"{listing.repo_id}: {len(listing.files)} GGUF files, license "
                            f"{listing.license or 'not stated'}.{gated}")
        self.results_shown.emit()

    @Slot(object, str)
    def _failed(self, error: Exception, detail: str) -> None:
        self.status.setText("The request failed.")
        self.failed.emit(str(error), detail)
