"""Wizard step 1: the base model to adapt, with whether training it fits in memory."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.gguf.info import format_bytes, format_parameter_count
from slmdesk.core.library.memory import Verdict, available_memory_bytes
from slmdesk.core.library.starters import StarterRole
from slmdesk.core.library.store import LibraryEntry, ModelLibrary
from slmdesk.core.training.base_model import is_cached
from slmdesk.core.training.job import TrainingJob
from slmdesk.ui.finetune.wizard.common import VERDICT_COLOURS, training_memory
from slmdesk.ui.widgets.labels import heading, hint

COLUMNS = ["Model", "Parameters", "Quantization", "Training memory"]
ID_ROLE = Qt.ItemDataRole.UserRole + 1


class ModelPage(QWidget):
    """Lists the library's models; the memory column follows the current training settings."""

    changed = Signal()

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        #: Seam for tests: bytes of memory available.
        self.available_memory: Callable[[], int] = available_memory_bytes
        #: Builds the job to estimate for a model (the wizard's current settings).
        self.job_for: Callable[[LibraryEntry], TrainingJob] | None = None
        self._entries: dict[int, LibraryEntry] = {}
        self._cached: dict[int, bool] = {}

        self.table = QTreeWidget()
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.header().setStretchLastSection(True)
        self.table.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.currentItemChanged.connect(self._current_changed)
        self.verdict_label = hint()
        self.verdict_label.setTextFormat(Qt.TextFormat.RichText)
        self.empty_label = hint("There is no model in the library yet. Add one in the Library "
                                "section first.")
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Which model should learn your documents?"))
        layout.addWidget(hint(
            "Fine-tuning teaches a model the facts and style of your documents by training a "
            "small add-on (a LoRA adapter); the model itself stays as it is. Small models train "
            "in minutes on a laptop; larger ones take longer and need more memory."))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.verdict_label)

    def refresh(self) -> None:
        """Rebuild from the library, keeping the selection."""
        keep = self.selected_id()
        self.table.clear()
        self._entries = {e.id: e for e in self.library.models() if not e.is_missing}
        for entry in self._entries.values():
            if entry.id not in self._cached:
                self._cached[entry.id] = is_cached(entry.path)
            info = entry.info
            item = QTreeWidgetItem([
                entry.display_name + (" (starter)" if entry.is_starter else ""),
                format_parameter_count(info.parameter_count), info.quantization, ""])
            item.setData(0, ID_ROLE, entry.id)
            item.setToolTip(0, str(entry.path))
            self.table.addTopLevelItem(item)
        self.empty_label.setVisible(not self._entries)
        self.update_memory()
        if keep in self._entries:
            self.select_model(keep)
        elif self._entries and self.table.currentItem() is None:
            proposed = self.library.starter(StarterRole.TRAINING)  # measured: see starters.py
            if proposed is None or not self.select_model(proposed.id):
                self.table.setCurrentItem(self.table.topLevelItem(0))
        for column in range(1, len(COLUMNS)):
            self.table.resizeColumnToContents(column)
        self.changed.emit()

    def select_model(self, model_id: int) -> bool:
        for row in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(row)
            if item.data(0, ID_ROLE) == model_id:
                self.table.setCurrentItem(item)
                return True
        return False

    def selected_id(self) -> int | None:
        item = self.table.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    def selected_model(self) -> LibraryEntry | None:
        return self._entries.get(self.selected_id())

    def is_cached(self, entry: LibraryEntry) -> bool:
        return self._cached.get(entry.id, False)

    def update_memory(self) -> None:
        """Recompute the memory column and the verdict (called when settings change)."""
        if self.job_for is None:
            return
        available = self.available_memory()
        for row in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(row)
            entry = self._entries[item.data(0, ID_ROLE)]
            needed, verdict, text = training_memory(self.job_for(entry), entry.info, available,
                                                    self.is_cached(entry))
            item.setText(3, f"{format_bytes(needed)}: {verdict.label.lower()}")
            item.setForeground(3, QBrush(QColor(VERDICT_COLOURS[verdict])))
            item.setToolTip(3, text)
        self._show_verdict()

    def _show_verdict(self) -> None:
        entry = self.selected_model()
        if entry is None or self.job_for is None:
            self.verdict_label.setText("")
            return
        _needed, verdict, text = training_memory(self.job_for(entry), entry.info,
                                                 self.available_memory(), self.is_cached(entry))
        colour = VERDICT_COLOURS[verdict]
        warning = ""
        if verdict == Verdict.WILL_NOT_FIT:
            warning = (" Choose a smaller model, close other programs, or pick a shorter "
                       "sequence length in the settings step.")
        elif not self.is_cached(entry):
            warning = (" The first training of a model converts it once (a minute or two per "
                       "billion parameters); later runs start in seconds.")
        self.verdict_label.setText(f"<b style='color:{colour}'>{entry.display_name}</b>: "
                                   f"{text}{warning}")

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _current_changed(self, _current, _previous) -> None:
        self._show_verdict()
        self.changed.emit()
