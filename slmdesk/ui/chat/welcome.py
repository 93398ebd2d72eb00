"""What an empty chat shows: which model answers, in a few words, and three questions to try.

The first minute decides whether a newcomer keeps the app, so an empty conversation is never a
blank page. For a chat (instruction-tuned) model: its name, what kind of model it is and three
example prompts, one click each. For a base model, which continues text rather than answering:
that sentence, and the way to the Notebook, where continuing text is the point.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from slmdesk.core.library.store import LibraryEntry

#: Prompts a small chat model answers well (tried on SmolLM2 135M Instruct).
EXAMPLE_PROMPTS = ("Give me three tips for sleeping better.",
                   "Write one sentence about the sea.",
                   "What is the opposite of hot?")


class WelcomePanel(QWidget):
    """Shown instead of the message list while a conversation is empty."""

    #: An example prompt was clicked: send it.
    prompt_chosen = Signal(str)
    #: The person wants to write with this (base) model in the Notebook: its library id.
    notebook_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry: LibraryEntry | None = None
        self.title_label = QLabel()
        self.title_label.setStyleSheet("font-size: 18px; font-weight: 600;")
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title_label.setWordWrap(True)
        self.about_label = QLabel()
        self.about_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.about_label.setWordWrap(True)
        self.about_label.setStyleSheet("color: #5f6368; font-size: 13px;")
        self.example_buttons = []
        examples = QVBoxLayout()
        examples.setSpacing(8)
        for prompt in EXAMPLE_PROMPTS:
            button = QPushButton(prompt)
            button.setStyleSheet("QPushButton { padding: 8px 14px; text-align: left; "
                                 "border: 1px solid #dadce0; border-radius: 8px; } "
                                 "QPushButton:hover { background: #f1f3f4; }")
            button.clicked.connect(lambda _checked=False, text=prompt: self.prompt_chosen.emit(text))
            examples.addWidget(button)
            self.example_buttons.append(button)
        self.notebook_button = QPushButton("Write with it in the Notebook")
        self.notebook_button.clicked.connect(self._notebook)
        row = QHBoxLayout()
        row.addStretch(1)
        column = QVBoxLayout()
        column.addWidget(self.title_label)
        column.addWidget(self.about_label)
        column.addSpacing(14)
        column.addLayout(examples)
        column.addWidget(self.notebook_button, 0, Qt.AlignmentFlag.AlignCenter)
        row.addLayout(column, 3)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addLayout(row)
        layout.addStretch(3)
        self.show_model(None)

    def show_model(self, entry: LibraryEntry | None) -> None:
        """Say who answers in this chat (None: no model in the library yet)."""
        self.entry = entry
        if entry is None:
            self.title_label.setText("No model yet")
            self.about_label.setText("Import a GGUF model on the Library page to chat with it.")
            chat = False
        else:
            chat = entry.info.is_chat_model
            self.title_label.setText(f"You are chatting with {entry.display_name}")
            private = " It runs on this computer: nothing you type leaves it."
            self.about_label.setText(entry.info.model_type_sentence + private)
        for button in self.example_buttons:
            button.setVisible(chat)
        self.notebook_button.setVisible(entry is not None and not chat)

    def _notebook(self) -> None:
        if self.entry is not None:
            self.notebook_requested.emit(self.entry.id)
