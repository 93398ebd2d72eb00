"""The quiz, question by question: what was asked, what was expected, and both replies.

The quiz asks the model questions about the documents in chat, before and after training
(:mod:`slmdesk.core.training.quiz_run`). The score alone does not say whether a reply was close
or nonsense; this table shows every reply, marked right or wrong, so a person can judge the
marking too.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.training.quiz_run import QuizAnswer, QuizResult, quiz_summary
from slmdesk.core.training.reporting import form_title
from slmdesk.ui.widgets.labels import hint

COLUMNS = ["Question", "Expected answer", "Before training", "After training"]
QUESTION, EXPECTED, BEFORE, AFTER = range(len(COLUMNS))
RIGHT, WRONG = "\u2713", "\u2717"
_RIGHT_COLOUR, _WRONG_COLOUR, _MISSING_COLOUR = "#1b7f3b", "#c62828", "#5f6368"
#: Replies longer than this are cut in the table; the tooltip has all of it.
_SHOWN_CHARACTERS = 160


def _merged(before: QuizResult | None,
            after: QuizResult | None) -> list[tuple[QuizAnswer, QuizAnswer | None,
                                                    QuizAnswer | None]]:
    """One row per question: (the answer that names it, before's, after's), in asking order."""
    rows: dict[str, list] = {}
    for result, side in ((before, 1), (after, 2)):
        for answer in (result.answers if result is not None else []):
            row = rows.setdefault(answer.question, [answer, None, None])
            row[side] = answer
    return [tuple(row) for row in rows.values()]  # type: ignore[misc]


def _reply_item(answer: QuizAnswer | None) -> QTableWidgetItem:
    if answer is None:
        item = QTableWidgetItem("\u2013 not asked")
        item.setForeground(QBrush(QColor(_MISSING_COLOUR)))
        return item
    reply = " ".join(answer.reply.split()) or "(no reply)"
    shown = reply if len(reply) <= _SHOWN_CHARACTERS else reply[:_SHOWN_CHARACTERS] + "\u2026"
    item = QTableWidgetItem(f"{RIGHT if answer.correct else WRONG}  {shown}")
    item.setForeground(QBrush(QColor(_RIGHT_COLOUR if answer.correct else _WRONG_COLOUR)))
    item.setToolTip(("Counted as right" if answer.correct else "Counted as wrong")
                    + f":\n{answer.reply}")
    return item


class QuizTable(QTableWidget):
    """Every quiz question with its expected answer and the replies before and after."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no focus frame on a cell: nothing to edit
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(EXPECTED, QHeaderView.ResizeMode.Interactive)
        self.setColumnWidth(EXPECTED, 150)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

    def set_results(self, before: QuizResult | None, after: QuizResult | None) -> None:
        rows = _merged(before, after)
        self.setRowCount(len(rows))
        for row, (first, before_answer, after_answer) in enumerate(rows):
            question = QTableWidgetItem(first.question)
            where = f" from \u201c{first.source}\u201d" if first.source else ""
            question.setToolTip(f"{form_title(first.form) or 'Question'}{where}:\n"
                                f"{first.question}")
            self.setItem(row, QUESTION, question)
            self.setItem(row, EXPECTED, QTableWidgetItem(first.expected))
            self.setItem(row, BEFORE, _reply_item(before_answer))
            self.setItem(row, AFTER, _reply_item(after_answer))
        self._fit_rows()

    def row_texts(self) -> list[list[str]]:
        return [[self.item(row, column).text() for column in range(self.columnCount())]
                for row in range(self.rowCount())]

    def _fit_rows(self) -> None:
        """Rows as tall as their wrapped text, with a little air between them."""
        self.resizeRowsToContents()
        for row in range(self.rowCount()):
            self.setRowHeight(row, self.rowHeight(row) + 8)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_rows()  # wrapped text needs taller rows when columns narrow


class QuizDialog(QDialog):
    """The quiz table in a window of its own, with the score above it."""

    def __init__(self, before: QuizResult | None, after: QuizResult | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quiz: questions about your documents")
        self.summary_label = QLabel(f"Quiz: {quiz_summary(before, after)}")
        self.summary_label.setStyleSheet("font-size: 15px; font-weight: 600;")
        chat_format = next((r.chat_format for r in (after, before) if r and r.chat_format), "")
        how = ("Each question was asked in a new chat, the way you would ask it, with the same "
               "settings each time so that the answers are repeatable. A reply counts as right "
               "when it contains the expected answer (a date or a number may be written "
               "another way).")
        if chat_format:
            how += f" Chat format: {chat_format}."
        self.table = QuizTable()
        self.table.set_results(before, after)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addWidget(hint(how))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(960, 560)
