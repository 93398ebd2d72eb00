"""The list of notebooks beside the text: most recently written first, with New and Delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.conversations.notebooks import NotebookStore

NOTEBOOK_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class NotebookList(QWidget):
    """Shows the store's notebooks; choosing one, New and a confirmed Delete are signals."""

    notebook_selected = Signal(int)
    new_requested = Signal()
    #: A notebook was deleted (its id), after the person confirmed it.
    notebook_deleted = Signal(int)

    def __init__(self, store: NotebookStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setFixedWidth(210)
        self.new_button = QPushButton("New")
        self.new_button.setToolTip("Start a new notebook (Ctrl+N)")
        self.new_button.clicked.connect(self.new_requested)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the chosen notebook")
        self.delete_button.clicked.connect(self.confirm_delete_current)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setStyleSheet(
            "QListWidget { border: none; background: palette(base); }"
            "QListWidget::item { padding: 7px 6px; border-radius: 5px; color: palette(text); }"
            "QListWidget::item:hover { background: #f1f3f4; }"
            "QListWidget::item:selected { background: #d2e3fc; color: #174ea6; }")
        self.list.currentItemChanged.connect(self._current_changed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        self._selected: int | None = None
        self._filling = False
        self._delete_box: QMessageBox | None = None

    def refresh(self, select_id: int | None = None) -> None:
        """Reload from the store, keeping (or moving) the selection without announcing it."""
        if select_id is not None:
            self._selected = select_id
        self._filling = True
        try:
            self.list.clear()
            for notebook in self.store.list():
                item = QListWidgetItem(notebook.title, self.list)
                item.setData(NOTEBOOK_ID_ROLE, notebook.id)
                item.setToolTip(notebook.title)
                if notebook.id == self._selected:
                    self.list.setCurrentItem(item)
        finally:
            self._filling = False
        self.delete_button.setEnabled(self._selected is not None)

    def select(self, notebook_id: int | None) -> None:
        self._selected = notebook_id
        self.refresh()

    def ids(self) -> list[int]:
        return [self.list.item(row).data(NOTEBOOK_ID_ROLE) for row in range(self.list.count())]

    def titles(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    @Slot(QListWidgetItem, QListWidgetItem)
    def _current_changed(self, item: QListWidgetItem | None, _old) -> None:
        if self._filling or item is None:
            return
        notebook_id = item.data(NOTEBOOK_ID_ROLE)
        if notebook_id != self._selected:
            self._selected = notebook_id
            self.notebook_selected.emit(notebook_id)

    @Slot()
    def confirm_delete_current(self) -> None:
        """Ask first (window-modal, not blocking the event loop): deleting cannot be undone."""
        if self._selected is None:
            return
        notebook_id = self._selected
        box = QMessageBox(QMessageBox.Icon.Question, "Delete notebook",
                          f"Delete \u201c{self.store.get(notebook_id).title}\u201d and its text? "
                          "This cannot be undone.", parent=self)
        box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setProperty("notebook_id", notebook_id)
        box.buttonClicked.connect(self._delete_answered)
        self._delete_box = box
        box.open()

    @Slot(object)
    def _delete_answered(self, button) -> None:
        box, self._delete_box = self._delete_box, None
        if box is None:
            return
        box.deleteLater()
        if box.buttonRole(button) == QMessageBox.ButtonRole.DestructiveRole:
            self.delete(box.property("notebook_id"))

    def delete(self, notebook_id: int) -> None:
        self.store.delete(notebook_id)
        if self._selected == notebook_id:
            self._selected = None
        self.refresh()
        self.notebook_deleted.emit(notebook_id)
