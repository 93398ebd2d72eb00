"""The list of conversations beside the chat, with search, rename and delete."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.conversations.store import ConversationStore

CONVERSATION_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class ConversationList(QWidget):
    """Most recent first; typing in the search box keeps the conversations that match."""

    #: The user chose a conversation (its id).
    conversation_selected = Signal(int)
    new_requested = Signal()
    #: A conversation was deleted (its id).
    conversation_deleted = Signal(int)

    def __init__(self, store: ConversationStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setFixedWidth(230)
        self.new_button = QPushButton("New chat")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.new_requested)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._search_timer.start)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setStyleSheet(
            "QListWidget { border: none; background: palette(base); }"
            "QListWidget::item { padding: 7px 6px; border-radius: 5px; color: palette(text); }"
            "QListWidget::item:hover { background: #f1f3f4; }"
            "QListWidget::item:selected { background: #d2e3fc; color: #174ea6; }")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemClicked.connect(self._clicked)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.itemChanged.connect(self._renamed)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.list)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.confirm_delete_current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        self._selected: int | None = None
        self._filling = False
        self._delete_box: QMessageBox | None = None

    def refresh(self, select_id: int | None = None) -> None:
        """Reload from the store, keeping (or moving) the selection without re-announcing it."""
        if select_id is not None:
            self._selected = select_id
        self._filling = True
        try:
            self.list.clear()
            for conv in self.store.list(self.search.text() or None):
                item = QListWidgetItem(conv.title, self.list)
                item.setData(CONVERSATION_ID_ROLE, conv.id)
                item.setToolTip(conv.title)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                if conv.id == self._selected:
                    self.list.setCurrentItem(item)
        finally:
            self._filling = False

    def select(self, conversation_id: int | None) -> None:
        self._selected = conversation_id
        self.refresh()

    def ids(self) -> list[int]:
        return [self.list.item(row).data(CONVERSATION_ID_ROLE) for row in range(self.list.count())]

    def titles(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    @Slot(QListWidgetItem)
    def _clicked(self, item: QListWidgetItem) -> None:
        self._choose(item)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _current_changed(self, item: QListWidgetItem | None, _old) -> None:
        if not self._filling and item is not None:
            self._choose(item)

    def _choose(self, item: QListWidgetItem) -> None:
        conv_id = item.data(CONVERSATION_ID_ROLE)
        if conv_id != self._selected:
            self._selected = conv_id
            self.conversation_selected.emit(conv_id)

    @Slot(QPoint)
    def _context_menu(self, position: QPoint) -> None:
        item = self.list.itemAt(position)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("Rename\u2026", lambda: self.rename(item.data(CONVERSATION_ID_ROLE)))
        menu.addAction("Delete\u2026",
                       lambda: self.confirm_delete(item.data(CONVERSATION_ID_ROLE)))
        menu.popup(self.list.viewport().mapToGlobal(position))

    def rename(self, conversation_id: int) -> None:
        """Edit the title in place (F2 does the same); Enter keeps it."""
        row = self.ids().index(conversation_id) if conversation_id in self.ids() else -1
        if row >= 0:
            self.list.editItem(self.list.item(row))

    @Slot(QListWidgetItem)
    def _renamed(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        conv_id = item.data(CONVERSATION_ID_ROLE)
        if item.text().strip() and item.text() != self.store.get(conv_id).title:
            self.store.rename(conv_id, item.text())
        QTimer.singleShot(0, self.refresh)  # not inside the editor's own signal

    @Slot()
    def confirm_delete_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.confirm_delete(item.data(CONVERSATION_ID_ROLE))

    def confirm_delete(self, conversation_id: int) -> None:
        """Ask first (window-modal, not blocking the event loop): deleting cannot be undone."""
        box = QMessageBox(QMessageBox.Icon.Question, "Delete conversation",
                          f"Delete \u201c{self.store.get(conversation_id).title}\u201d and all "
                          "its messages? This cannot be undone.", parent=self)
        box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setProperty("conversation_id", conversation_id)
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
            self.delete(box.property("conversation_id"))

    def delete(self, conversation_id: int) -> None:
        self.store.delete(conversation_id)
        if self._selected == conversation_id:
            self._selected = None
        self.refresh()
        self.conversation_deleted.emit(conversation_id)
