"""How one model or adapter of the library looks on the Library page: a table row and the details.

:func:`entry_row` is the entry's row in the table (its memory verdict coloured); the
:class:`ModelDetailsPane` shows everything the selected entry's header says, as label/value rows
(what SLM Desk makes of the header, where the file is stored, the memory estimate or the base
model, then every raw metadata key) above its chat template. They only show entries; the page
itself, with its imports, scans and removals, is :class:`~slmdesk.ui.library.view.LibraryView`,
which is long enough without them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QStandardItem
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.gguf.info import format_bytes, format_parameter_count
from slmdesk.core.library.memory import Verdict, estimate_memory
from slmdesk.core.library.store import LibraryEntry, ModelLibrary

COLUMNS = ["Name", "Type", "Architecture", "Parameters", "Quantization", "Size", "Context",
           "Memory"]
ENTRY_ID_ROLE = Qt.ItemDataRole.UserRole + 1
_VERDICT_COLOURS = {Verdict.FITS: "#1b7f3b", Verdict.TIGHT: "#b26a00",
                    Verdict.WILL_NOT_FIT: "#c62828"}


def entry_row(entry: LibraryEntry, note: str = "") -> list[QStandardItem]:
    """The cells of ``entry`` under :data:`COLUMNS`, each carrying its id in ENTRY_ID_ROLE."""
    info = entry.info
    if entry.is_missing:
        memory_text, colour = "File missing", "#c62828"
    elif entry.kind == "adapter":
        memory_text, colour = "LoRA adapter", None
    else:
        estimate = estimate_memory(info)
        memory_text, colour = estimate.verdict.label, _VERDICT_COLOURS[estimate.verdict]
    name = entry.display_name + (" (starter)" if entry.is_starter else "")
    values = [name, info.model_type_label.capitalize(), info.architecture,
              format_parameter_count(info.parameter_count),
              info.quantization, format_bytes(info.file_size),
              f"{info.context_length:,}" if info.context_length else "\u2013", memory_text]
    items = [QStandardItem(value) for value in values]
    for item in items:
        item.setData(entry.id, ENTRY_ID_ROLE)
        item.setToolTip(str(entry.path) + (f"\n{note}" if note else ""))
        if entry.is_missing:
            item.setForeground(QBrush(QColor("#888888")))
    items[0].setToolTip(f"{name}\n{entry.path}" + (f"\n{note}" if note else ""))
    items[1].setToolTip(info.model_type_sentence)
    if colour:
        items[-1].setForeground(QBrush(QColor(colour)))
    if entry.kind == "model" and not entry.is_missing:
        items[-1].setToolTip(estimate_memory(info).explain())
    return items


class ModelDetailsPane(QWidget):
    """The title, the header fields and the chat template of one library entry."""

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library  # to name an adapter's base model
        self.title_label = QLabel()
        self.title_label.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.title_label.setWordWrap(True)
        self.fields_table = QTableWidget(0, 2)
        self.fields_table.horizontalHeader().hide()
        self.fields_table.verticalHeader().hide()
        # The labels' column fits the app's own labels ("Embedding length"); the file's raw
        # metadata keys below them ("gemma3.attention.head_count_kv") are cut, whole in a tooltip,
        # so they do not squeeze the values into a column a word wide.
        self.fields_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.fields_table.horizontalHeader().setStretchLastSection(True)
        self.fields_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.fields_table.setWordWrap(True)
        self.template_label = QLabel("Chat template")
        self.template_view = QPlainTextEdit(readOnly=True)
        self.template_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title_label)
        layout.addWidget(self.fields_table, 3)
        layout.addWidget(self.template_label)
        layout.addWidget(self.template_view, 1)

    def show_entry(self, entry: LibraryEntry | None) -> None:
        """Show ``entry``, or ask for a selection when it is None."""
        self.fields_table.setRowCount(0)
        if entry is None:
            self.title_label.setText("Select a model to see its details.")
            self.template_view.clear()
            return
        self.title_label.setText(entry.display_name)
        rows = [("Status", "File missing: it was moved or deleted" if entry.is_missing else "Ready"),
                *entry.info.header_fields(),
                ("Stored", "copied into the library" if entry.owns_file else "linked where it is"),
                ("Path", str(entry.path))]
        if entry.kind == "model":
            rows.append(("Memory", estimate_memory(entry.info).summary()))
        elif entry.base_model_id is not None:
            rows.append(("Base model", self.library.get(entry.base_model_id).display_name))
        rows.extend((key, str(value)) for key, value in sorted(entry.info.metadata.items())
                    if key != "tokenizer.chat_template")
        self.fields_table.setRowCount(len(rows))
        own_labels = len(rows) - len(entry.info.metadata)
        bold = QFont(self.fields_table.font())
        bold.setBold(True)
        self.fields_table.setColumnWidth(0, 16 + max(QFontMetrics(bold).horizontalAdvance(label)
                                                      for label, _ in rows[:own_labels]))
        for number, (label, value) in enumerate(rows):
            label_item = QTableWidgetItem(label)
            label_item.setToolTip(label)
            font = label_item.font()
            font.setBold(number < own_labels)
            label_item.setFont(font)
            self.fields_table.setItem(number, 0, label_item)
            value_item = QTableWidgetItem(value)
            value_item.setToolTip(value)
            self.fields_table.setItem(number, 1, value_item)
        self.fields_table.resizeRowsToContents()
        if entry.info.chat_template:
            self.template_label.setText("Chat template (embedded in the file)")
            self.template_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            self.template_view.setPlainText(entry.info.chat_template)
        else:
            self.template_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
            self.template_label.setText("Chat template")
            self.template_view.setPlainText(
                "This file has no embedded chat template. SLM Desk picks a chat format from "
                f"the model's architecture ({entry.architecture}) when you chat with it.")
