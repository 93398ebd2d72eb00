"""The sources under a reply written from documents, and the passage each one opens.

A reply given passages shows the ones it cites as numbered buttons (``[1] notes.pdf, page 3``,
``[2] notes.md, “Garden”, line 12``),
under the numbers it cites them by; a click opens the passage itself, its file and place. A
number the reply cites that names no passage is said in grey, not linked. A reply that cites none
shows the passages relevant to the question, marked as not cited
(:mod:`slmdesk.core.documents.citations`). When no passage was relevant the line says so, so a
person knows the reply did not come from their documents.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.documents.grounding import NO_PASSAGES


class SourcesRow(QWidget):
    """``Sources: [1] a.txt, line 3  [2] b.pdf, page 2`` (buttons), or the no-passages note."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: list[QToolButton] = []
        self.invented: QLabel | None = None
        self.label = QLabel()
        self.label.setStyleSheet("color: #5f6368;")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.label)
        self._layout.addStretch(1)
        self.hide()

    def set_sources(self, metadata: dict) -> None:
        for button in self.buttons:
            button.deleteLater()
        self.buttons = []
        if self.invented is not None:
            self.invented.deleteLater()
            self.invented = None
        sources = metadata.get("sources") or []
        if "documents_mode" not in metadata:
            self.hide()
            return
        if not sources:
            self.label.setText(f"Sources: {NO_PASSAGES} in the attached documents")
        elif metadata.get("sources_basis") == "relevant":  # the reply cites none: what matched
            self.label.setText("Not cited, but relevant:")
        else:
            self.label.setText("Sources:")
        for index, source in enumerate(sources, start=1):
            number = int(source.get("number", index))  # the number the reply cites it by
            button = QToolButton(text=f"[{number}] {source['file_name']}, {source['place']}")
            button.setAutoRaise(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setStyleSheet("color: #1a73e8;")  # a link: it opens the passage
            button.setToolTip(f"{source['path']}\nClick to read the passage")
            button.clicked.connect(lambda _=False, s=source, n=number: self._open(n, s))
            self._layout.insertWidget(self._layout.count() - 1, button)
            self.buttons.append(button)
        invented = metadata.get("invented_citations") or []
        if invented:  # plain grey text, not a link: there is no passage to open
            numbers = ", ".join(f"[{n}]" for n in invented)
            self.invented = QLabel(f"{numbers} in the reply {'cites' if len(invented) == 1 else 'cite'} "
                                   "no passage it was given")
            self.invented.setStyleSheet("color: #5f6368;")
            self._layout.insertWidget(self._layout.count() - 1, self.invented)
        self.show()

    @Slot()
    def _open(self, number: int, source: dict) -> None:
        PassageDialog(number, source, self).open()


class PassageDialog(QDialog):
    """One cited passage: the file, the place in it, and the text the model was given."""

    def __init__(self, number: int, source: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Source [{number}]: {source['file_name']}")
        # A heading is the file's own text: "<b>" in it is shown, not obeyed.
        heading = QLabel(f"<b>{html.escape(source['file_name'])}</b>, {html.escape(source['place'])}")
        where = QLabel(source["path"])
        where.setStyleSheet("color: #5f6368;")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit(source["text"])
        self.text.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(where)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(520, 320)
