"""An inline message bar: errors and results shown in the window, never in a blocking popup.

A popup would stop the person (and the tests) until dismissed; a bar at the top of the page
says what happened, keeps the technical detail one click away, and goes when closed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

_STYLES = {
    "error": "background:#fdecea; border:1px solid #f5c2c0; color:#5f2120;",
    "warning": "background:#fff4e5; border:1px solid #ffd8a8; color:#663c00;",
    "info": "background:#e8f4fd; border:1px solid #b6dcfb; color:#0d3c61;",
}


class NoticeBar(QFrame):
    """Shows one message at a time; ``show_message`` replaces the previous one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.kind = "info"
        self.text_label = QLabel()
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton(text="Details")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._toggle_details)
        close_button = QToolButton(text="\u2715")
        close_button.setToolTip("Dismiss")
        close_button.setAutoRaise(True)
        close_button.clicked.connect(self.hide)
        self.details_view = QPlainTextEdit(readOnly=True)
        self.details_view.setMaximumHeight(140)
        self.details_view.hide()
        row = QHBoxLayout()
        row.addWidget(self.text_label, 1)
        row.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(close_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.details_view)
        self.hide()

    def show_message(self, text: str, kind: str = "info", details: str = "") -> None:
        self.kind = kind
        self.setStyleSheet(f"QFrame#noticeBar {{{_STYLES[kind]} border-radius:6px;}}"
                           f" QLabel {{border:none; background:transparent;}}")
        self.text_label.setText(text)
        self.details_view.setPlainText(details)
        self.details_button.setVisible(bool(details))
        self.details_button.setChecked(False)
        self.show()

    @property
    def text(self) -> str:
        return self.text_label.text() if self.isVisible() else ""

    @Slot(bool)
    def _toggle_details(self, shown: bool) -> None:
        self.details_view.setVisible(shown)
