"""The notebook's text box: a plain-text editor where Ctrl+Enter generates and Escape stops.

The keys are handled by the editor itself rather than by window shortcuts, so they work
whenever the text has the focus (also while it is read-only, as it is while the model writes).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit


class NotebookEditor(QPlainTextEdit):
    generate_requested = Signal()
    stop_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.stop_requested.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and (
                event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.generate_requested.emit()
            return
        super().keyPressEvent(event)
