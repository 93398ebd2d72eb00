"""Wizard step 5: what training achieved, in plain words, and what to do with the adapter.

Three measures, each said for someone who has never heard of them: the quiz (questions about the
documents asked in chat, before and after), how much better the model predicts the documents'
text (perplexity), and how much its ordinary writing suffered (perplexity on a general text). A
run from before these measures existed, or whose quiz could not be asked, shows what it has.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from slmdesk.core.gguf.info import format_bytes
from slmdesk.core.training.events import format_duration
from slmdesk.core.training.quiz_run import QuizResult, expectation_sentence, quiz_summary
from slmdesk.core.training.reporting import (
    FORGETTING_SEVERE_RATIO,
    describe_forgetting,
    describe_metrics,
    forgetting_warning,
    quiz_result,
)
from slmdesk.ui.finetune.wizard.quiz_view import QuizDialog
from slmdesk.ui.widgets.labels import heading, hint

_WARNING_STYLES = {
    "amber": "background:#fff4e5; border:1px solid #ffd8a8; color:#663c00;",
    "red": "background:#fdecea; border:1px solid #f5c2c0; color:#5f2120;",
}



class DonePage(QWidget):
    """Shows a finished run and offers to chat with the adapter or compare it with the base."""

    chat_requested = Signal(int, int)  # base model id, adapter id
    compare_requested = Signal(int, int)
    new_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_id: int | None = None
        self.adapter_id: int | None = None
        self.quiz_before: QuizResult | None = None
        self.quiz_after: QuizResult | None = None
        self.quiz_dialog: QuizDialog | None = None
        self.title = heading("Your adapter is ready")
        self.quiz_label = QLabel()
        self.quiz_label.setStyleSheet("font-size: 16px; font-weight: 600;")
        self.quiz_button = QPushButton("Show the questions")
        self.quiz_button.setToolTip("Every question, the answer expected, and the model's "
                                    "replies before and after training")
        self.quiz_button.clicked.connect(self.show_quiz)
        self.quiz_hint = hint("Questions about your documents, asked in chat the way you would "
                              "ask them, before and after training.")
        # what the questions about held-back sentences predict for the person's own questions
        self.expectation_label = QLabel()
        self.expectation_label.setWordWrap(True)
        self.expectation_label.setStyleSheet("font-size: 14px;")
        quiz_row = QHBoxLayout()
        quiz_row.addWidget(self.quiz_label)
        quiz_row.addSpacing(12)
        quiz_row.addWidget(self.quiz_button, 0, Qt.AlignmentFlag.AlignVCenter)
        quiz_row.addStretch(1)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setStyleSheet("font-size: 14px;")
        self.forgetting_label = QLabel()
        self.forgetting_label.setWordWrap(True)
        self.forgetting_label.setStyleSheet("font-size: 14px;")
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_level = ""
        self.notes_label = hint()
        self.notes_label.setTextFormat(Qt.TextFormat.RichText)
        self.facts_label = hint()
        self.chat_button = QPushButton("Chat with it")
        self.chat_button.setDefault(True)
        self.chat_button.clicked.connect(self._chat)
        self.compare_button = QPushButton("Compare with the base model")
        self.compare_button.clicked.connect(self._compare)
        self.new_button = QPushButton("Fine-tune again")
        self.new_button.clicked.connect(self.new_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.chat_button)
        buttons.addWidget(self.compare_button)
        buttons.addStretch(1)
        buttons.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(quiz_row)
        layout.addWidget(self.quiz_hint)
        layout.addWidget(self.expectation_label)
        layout.addSpacing(6)
        layout.addWidget(self.result_label)
        layout.addSpacing(6)
        layout.addWidget(self.forgetting_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.facts_label)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._show_quiz_line()
        self._show_forgetting({})

    def show_result(self, event: dict, model_id: int | None, model_name: str,
                    adapter_name: str, preset: str | None = None) -> None:
        """Show a ``finished`` event of a run on ``model_id`` (trained with ``preset``)."""
        metrics = event.get("metrics") or {}
        self.model_id, self.adapter_id = model_id, event.get("adapter_model_id")
        self.title.setText(f"\u201c{adapter_name}\u201d is ready")
        self.quiz_before = quiz_result(metrics.get("quiz_before"))
        self.quiz_after = quiz_result(metrics.get("quiz_after"))
        self._show_quiz_line()
        self.result_label.setText(describe_metrics(metrics))
        self._show_forgetting(metrics, preset)
        notes = [note for note in metrics.get("knowledge_notes") or [] if isinstance(note, str)]
        self.notes_label.setText("<br>".join(_escape(note) for note in notes))
        self.notes_label.setVisible(bool(notes))
        facts = [f"It is in the library under {model_name}, ready to chat with."]
        if isinstance(metrics.get("tokens_per_second"), (int, float)):
            facts.append(f"Trained {metrics.get('step', '?')} steps at "
                         f"{metrics['tokens_per_second']:.0f} tokens per second.")
        if metrics.get("peak_memory_bytes"):
            facts.append(f"Peak memory {format_bytes(int(metrics['peak_memory_bytes']))}.")
        if isinstance(metrics.get("seconds"), (int, float)):
            facts.append(f"Took {format_duration(metrics['seconds'])}.")
        self.facts_label.setText(" ".join(facts))
        usable = model_id is not None and self.adapter_id is not None
        self.chat_button.setEnabled(usable)
        self.compare_button.setEnabled(usable)

    def _show_quiz_line(self) -> None:
        asked = any(r is not None and r.total for r in (self.quiz_before, self.quiz_after))
        summary = quiz_summary(self.quiz_before, self.quiz_after, held_back=False)
        self.quiz_label.setText(f"Quiz: {summary}" if asked else "")
        expectation = expectation_sentence(self.quiz_after) if asked else ""
        self.expectation_label.setText(expectation)
        self.expectation_label.setVisible(bool(expectation))
        for widget in (self.quiz_label, self.quiz_button, self.quiz_hint):
            widget.setVisible(asked)

    def _show_forgetting(self, metrics: dict, preset: str | None = None) -> None:
        text, ratio = describe_forgetting(metrics)
        self.forgetting_label.setText(text)
        self.forgetting_label.setVisible(bool(text))
        warning = forgetting_warning(ratio, preset)
        self.warning_level = ("" if not warning else
                              "red" if ratio and ratio > FORGETTING_SEVERE_RATIO else "amber")
        if warning:
            self.warning_label.setStyleSheet(f"QLabel {{{_WARNING_STYLES[self.warning_level]} "
                                             "border-radius: 6px; padding: 8px;}")
        self.warning_label.setText(f"\u26a0 {warning}" if warning else "")
        self.warning_label.setVisible(bool(warning))

    @Slot()
    def show_quiz(self) -> None:
        """Open the question-by-question table (not blocking: the window stays usable)."""
        if self.quiz_dialog is not None:
            self.quiz_dialog.close()
            self.quiz_dialog.deleteLater()
        self.quiz_dialog = QuizDialog(self.quiz_before, self.quiz_after, self)
        self.quiz_dialog.show()

    @Slot()
    def _chat(self) -> None:
        if self.model_id is not None and self.adapter_id is not None:
            self.chat_requested.emit(self.model_id, self.adapter_id)

    @Slot()
    def _compare(self) -> None:
        if self.model_id is not None and self.adapter_id is not None:
            self.compare_requested.emit(self.model_id, self.adapter_id)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
