"""The messages of one conversation: one widget per message in a scrolling column.

One widget per message keeps streaming cheap: while a reply grows only its own text is set
again (see :mod:`slmdesk.ui.chat.markdown`), so the cost of an update does not grow with the
length of the conversation. :func:`thread_views` describes a stored conversation's visible branch
for these widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.conversations.store import Conversation, ConversationStore, Message
from slmdesk.ui.chat.markdown import MarkdownBlocks
from slmdesk.ui.chat.sources import SourcesRow

#: Bubble fill and border per role (None: the palette's base colour). Painted, not styled:
#: a style sheet on the bubble makes every label in it re-measure on each streamed update.
_BUBBLES = {
    "user": (QColor("#e8f0fe"), QColor("#d2e3fc")),
    "assistant": (None, QColor("#dadce0")),
    "system": (QColor("#f8f9fa"), QColor("#cccccc")),
}
SECONDARY_TEXT = QColor("#5f6368")
_STATUS_TEXT = {
    "stopped": "Stopped",
    "interrupted": "Interrupted: the engine stopped before the reply was finished",
    "error": "Failed",
}


def _secondary(label: QLabel, smaller: bool = False) -> None:
    """Grey (and optionally smaller) text for details, without a style sheet."""
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, SECONDARY_TEXT)
    label.setPalette(palette)
    if smaller:
        font = QFont(label.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 0.9)
        label.setFont(font)


@dataclass
class MessageView:
    """A message with what the widget needs to know about its place in the tree."""

    message: Message
    sibling_index: int = 0  # 0-based position among the alternatives
    sibling_ids: tuple[int, ...] = ()
    author: str = ""  # the name shown above the text ("You", the model's name)


def thread_views(store: ConversationStore, conv: Conversation,
                 model_name: Callable[[int], str | None]) -> list[MessageView]:
    """The visible branch of ``conv``, each message with its alternatives and its author's name.

    ``model_name`` names the conversation's model for replies that did not record theirs.
    """
    views = []
    for msg in store.thread(conv.id):
        ids = tuple(s.id for s in store.siblings(msg.id))
        author = "You" if msg.role == "user" else _author(msg.metadata, conv, model_name)
        views.append(MessageView(msg, ids.index(msg.id), ids, author))
    return views


def _author(metadata: dict, conv: Conversation, model_name: Callable[[int], str | None]) -> str:
    name = metadata.get("model")
    if name is None and conv.model_id is not None:
        name = model_name(conv.model_id)
    adapter = metadata.get("adapter") or (conv.adapter or {}).get("name")
    return (name or "Assistant") + (f" + {adapter}" if adapter else "")


class MessageWidget(QWidget):
    """One message: who wrote it, its text, and what can be done with it."""

    regenerate_requested = Signal(int)
    edit_submitted = Signal(int, str)
    branch_requested = Signal(int)  # the id of the alternative to show

    def __init__(self, view: MessageView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("message")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        msg = view.message
        self.message_id = msg.id
        self.role = msg.role
        self.status = msg.status
        self.text = msg.content

        self.author_label = QLabel(view.author or msg.role.capitalize())
        bold = QFont(self.author_label.font())
        bold.setWeight(QFont.Weight.DemiBold)
        self.author_label.setFont(bold)
        self.prev_button = self._tool("\u2039", "Previous alternative")
        self.next_button = self._tool("\u203a", "Next alternative")
        self.branch_label = QLabel()
        _secondary(self.branch_label)
        count = len(view.sibling_ids)
        self._has_prev = count > 1 and view.sibling_index > 0
        self._has_next = count > 1 and view.sibling_index < count - 1
        if count > 1:
            self.branch_label.setText(f"{view.sibling_index + 1}/{count}")
            self.prev_button.setEnabled(view.sibling_index > 0)
            self.next_button.setEnabled(view.sibling_index < count - 1)
            if view.sibling_index > 0:
                prev_id = view.sibling_ids[view.sibling_index - 1]
                self.prev_button.clicked.connect(lambda: self.branch_requested.emit(prev_id))
            if view.sibling_index < count - 1:
                next_id = view.sibling_ids[view.sibling_index + 1]
                self.next_button.clicked.connect(lambda: self.branch_requested.emit(next_id))
        else:
            for widget in (self.prev_button, self.next_button, self.branch_label):
                widget.hide()
        header = QHBoxLayout()
        header.addWidget(self.author_label)
        header.addStretch(1)
        for widget in (self.prev_button, self.branch_label, self.next_button):
            header.addWidget(widget)

        self.content = MarkdownBlocks()

        self.editor = QPlainTextEdit()
        self.editor.setMaximumHeight(140)
        self.save_edit_button = QPushButton("Send")
        self.save_edit_button.setDefault(True)
        self.save_edit_button.clicked.connect(self._submit_edit)
        self.cancel_edit_button = QPushButton("Cancel")
        self.cancel_edit_button.clicked.connect(self.cancel_edit)
        edit_row = QHBoxLayout()
        edit_row.addStretch(1)
        edit_row.addWidget(self.cancel_edit_button)
        edit_row.addWidget(self.save_edit_button)
        self.edit_box = QWidget()
        edit_layout = QVBoxLayout(self.edit_box)
        edit_layout.setContentsMargins(0, 0, 0, 0)
        edit_layout.addWidget(self.editor)
        edit_layout.addLayout(edit_row)
        self.edit_box.hide()

        self.info_label = QLabel()
        _secondary(self.info_label, smaller=True)
        self.info_label.setWordWrap(True)
        self.copy_button = self._tool("Copy", "Copy this message as Markdown")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.edit_button = self._tool("Edit", "Change this question and ask again "
                                      "(the earlier version is kept)")
        self.edit_button.clicked.connect(self.begin_edit)
        self.regenerate_button = self._tool("Regenerate", "Write another reply "
                                            "(this one is kept as an alternative)")
        self.regenerate_button.clicked.connect(
            lambda: self.regenerate_requested.emit(self.message_id))
        self.edit_button.setVisible(msg.role == "user")
        self.regenerate_button.setVisible(msg.role == "assistant")
        footer = QHBoxLayout()
        footer.addWidget(self.info_label, 1)
        for widget in (self.copy_button, self.edit_button, self.regenerate_button):
            footer.addWidget(widget)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.content)
        layout.addWidget(self.edit_box)
        self.sources = SourcesRow()
        layout.addWidget(self.sources)
        layout.addLayout(footer)
        self.set_text(msg.content)
        self.set_info(msg)

    def paintEvent(self, event: QPaintEvent) -> None:
        fill, border = _BUBBLES.get(self.role, _BUBBLES["assistant"])
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(border, 1))
        painter.setBrush(fill if fill is not None
                         else self.palette().color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 10, 10)

    @staticmethod
    def _tool(text: str, tip: str) -> QToolButton:
        button = QToolButton(text=text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        return button

    # Content ------------------------------------------------------------------------------

    def set_text(self, text: str, placeholder: str = "\u2026") -> None:
        """Show ``text`` (Markdown); an empty reply shows ``placeholder`` in grey."""
        self.text = text
        self.content.set_text(text, placeholder)

    @property
    def block_labels(self) -> list[QLabel]:
        return self.content.labels

    def set_info(self, msg: Message) -> None:
        """The line under the message: its status, timings and notes."""
        self.status = msg.status
        meta = msg.metadata
        parts = []
        if msg.status in _STATUS_TEXT:
            parts.append(_STATUS_TEXT[msg.status])
        if msg.status == "error" and meta.get("error"):
            parts[-1] += f": {meta['error']}"
        if meta.get("time_to_first_token") is not None:
            parts.append(f"{meta['time_to_first_token']:.2f} s to first token")
        if meta.get("tokens_per_second"):
            parts.append(f"{meta['tokens_per_second']:.1f} tokens/s")
        if meta.get("completion_tokens"):
            parts.append(f"{meta['completion_tokens']} tokens")
        if meta.get("finish_reason") == "length":
            parts.append("reached the token limit")
        if meta.get("truncated_turns"):
            parts.append(f"{meta['truncated_turns']} oldest turn(s) left out")
        self.info_label.setText(" \u00b7 ".join(parts))
        self.sources.set_sources(meta if msg.role == "assistant" else {})
        editable = msg.status != "streaming"
        for button in (self.edit_button, self.regenerate_button, self.copy_button):
            button.setEnabled(editable)

    def set_actions_enabled(self, enabled: bool) -> None:
        """While a reply is written, nothing may start another (the engine does one at a time)."""
        idle = enabled and self.status != "streaming"
        self.edit_button.setEnabled(idle)
        self.regenerate_button.setEnabled(idle)
        self.prev_button.setEnabled(enabled and self._has_prev)
        self.next_button.setEnabled(enabled and self._has_next)

    @Slot()
    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.text)

    # Editing ------------------------------------------------------------------------------

    @Slot()
    def begin_edit(self) -> None:
        self.editor.setPlainText(self.text)
        self.content.hide()
        self.edit_box.show()
        self.editor.setFocus()

    @Slot()
    def cancel_edit(self) -> None:
        self.edit_box.hide()
        self.content.show()

    @Slot()
    def _submit_edit(self) -> None:
        text = self.editor.toPlainText().strip()
        if text:
            self.cancel_edit()
            self.edit_submitted.emit(self.message_id, text)


class MessageList(QScrollArea):
    """The visible thread of a conversation, newest at the bottom."""

    regenerate_requested = Signal(int)
    edit_submitted = Signal(int, str)
    branch_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.container = QWidget()
        self.column = QVBoxLayout(self.container)
        self.column.setContentsMargins(16, 12, 16, 12)
        self.column.setSpacing(10)
        self.empty_label = QLabel("Ask anything. Enter sends, Shift+Enter starts a new line, "
                                  "Escape stops the reply.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: #5f6368; font-size: 14px; padding: 40px;")
        self.column.addWidget(self.empty_label)
        self.column.addStretch(1)
        self.setWidget(self.container)
        self.widgets: list[MessageWidget] = []
        self._follow = True
        self.verticalScrollBar().rangeChanged.connect(self._range_changed)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)

    def set_messages(self, views: list[MessageView]) -> None:
        """Show a thread, replacing what was shown, and scroll to its end."""
        for widget in self.widgets:
            self.column.removeWidget(widget)
            widget.deleteLater()
        self.widgets = []
        for view in views:
            widget = MessageWidget(view, self.container)
            widget.regenerate_requested.connect(self.regenerate_requested)
            widget.edit_submitted.connect(self.edit_submitted)
            widget.branch_requested.connect(self.branch_requested)
            self.column.insertWidget(self.column.count() - 1, widget)
            widget.show()  # at once, not when the layout gets round to it
            self.widgets.append(widget)
        self.empty_label.setVisible(not views)
        self._follow = True
        self._range_changed(0, self.verticalScrollBar().maximum())

    def widget_for(self, message_id: int) -> MessageWidget | None:
        return next((w for w in self.widgets if w.message_id == message_id), None)

    def set_actions_enabled(self, enabled: bool) -> None:
        for widget in self.widgets:
            widget.set_actions_enabled(enabled)

    @Slot(int, int)
    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:  # keep the growing reply in view unless the user scrolled up
            self.verticalScrollBar().setValue(maximum)

    @Slot(int)
    def _scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 24
