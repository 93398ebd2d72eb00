"""Wizard step 5: what training achieved, in plain words, and what to do with the adapter."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from slmdesk.core.gguf_info import format_bytes
from slmdesk.core.training.events import format_duration
from slmdesk.ui.wizard.common import heading, hint


def describe_metrics(metrics: dict) -> str:
    """Perplexity before and after, said for someone who has never heard the word."""
    split = metrics.get("evaluation_split", "validation")
    before = metrics.get(f"{split}_perplexity_before")
    after = metrics.get(f"{split}_perplexity_after")
    if not isinstance(before, (int, float)) or not isinstance(after, (int, float)):
        return "The adapter was trained; its progress could not be measured."
    where = ("on the part of your documents held back from training (text it never saw while "
             "learning)" if split == "validation" else
             "on your documents themselves (they were too short to hold some back, so this "
             "shows how well it learned them rather than how well it generalises)")
    if after < before:
        ratio = before / after
        change = (f"It now predicts your text <b>{ratio:.1f} times better</b>."
                  if ratio >= 1.1 else "That is only a small improvement.")
    else:
        change = ("It did not get better at predicting your text; try more passes or the "
                  "Balanced preset.")
    return (f"Measured {where}:<br>"
            f"Before training, the model was on average as unsure of the next word as if "
            f"choosing among <b>{before:,.1f}</b> equally likely words (its <i>perplexity</i>). "
            f"After training: <b>{after:,.1f}</b>. {change}")


class DonePage(QWidget):
    """Shows a finished run and offers to chat with the adapter or compare it with the base."""

    chat_requested = Signal(int, int)  # base model id, adapter id
    compare_requested = Signal(int, int)
    new_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_id: int | None = None
        self.adapter_id: int | None = None
        self.title = heading("Your adapter is ready")
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setStyleSheet("font-size: 14px;")
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
        layout.addWidget(self.result_label)
        layout.addWidget(self.facts_label)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def show_result(self, event: dict, model_id: int | None, model_name: str,
                    adapter_name: str) -> None:
        """Show a ``finished`` event of a run on ``model_id``."""
        metrics = event.get("metrics") or {}
        self.model_id, self.adapter_id = model_id, event.get("adapter_model_id")
        self.title.setText(f"\u201c{adapter_name}\u201d is ready")
        self.result_label.setText(describe_metrics(metrics))
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

    @Slot()
    def _chat(self) -> None:
        if self.model_id is not None and self.adapter_id is not None:
            self.chat_requested.emit(self.model_id, self.adapter_id)

    @Slot()
    def _compare(self) -> None:
        if self.model_id is not None and self.adapter_id is not None:
            self.compare_requested.emit(self.model_id, self.adapter_id)
