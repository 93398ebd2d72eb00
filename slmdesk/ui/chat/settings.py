"""Per-conversation chat settings: system prompt, sampling and context length.

Each conversation keeps its own settings (``Conversation.settings`` and ``system_prompt``); new
conversations start from the defaults kept in the database's settings table under
``chat_defaults``, which the panel can overwrite ("Use for new chats").
"""

from __future__ import annotations

import sqlite3
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QDoubleSpinBox, QFormLayout, QFrame, QHBoxLayout, QLabel,
                               QPlainTextEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from slmdesk.core.settings import get_setting, set_setting

DEFAULTS_KEY = "chat_defaults"
#: Built-in defaults; ``seed`` None means a different reply every time.
BUILTIN_DEFAULTS: dict[str, Any] = {
    "system_prompt": "",
    "temperature": 0.7,
    "top_p": 0.95,
    "top_k": 40,
    "repeat_penalty": 1.1,
    "max_tokens": 512,
    "seed": None,
    "context_length": 4096,
}
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "repeat_penalty", "max_tokens", "seed")


def chat_defaults(conn: sqlite3.Connection) -> dict[str, Any]:
    """The defaults for new conversations: the built-in ones under the user's saved ones."""
    saved = get_setting(conn, DEFAULTS_KEY, {}) or {}
    return {**BUILTIN_DEFAULTS, **{k: v for k, v in saved.items() if k in BUILTIN_DEFAULTS}}


def save_chat_defaults(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    set_setting(conn, DEFAULTS_KEY, {k: v for k, v in values.items() if k in BUILTIN_DEFAULTS})


def effective_settings(conversation_settings: dict[str, Any],
                       defaults: dict[str, Any]) -> dict[str, Any]:
    """A conversation's settings with anything it never set taken from the defaults."""
    merged = {k: v for k, v in defaults.items() if k != "system_prompt"}
    merged.update({k: v for k, v in conversation_settings.items() if k in merged})
    return merged


def chat_params(settings: dict[str, Any]) -> dict[str, Any]:
    """The engine's ``ChatParams`` fields from a conversation's settings."""
    return {k: settings[k] for k in SAMPLING_KEYS if k in settings}


class SettingsPanel(QFrame):
    """Edits one conversation's settings; ``changed`` fires on every edit."""

    changed = Signal()
    save_defaults_requested = Signal()
    restore_defaults_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPanel")
        self.setStyleSheet("QFrame#settingsPanel { border-left: 1px solid #e0e0e0; }")
        self.setFixedWidth(290)
        self._loading = False

        title = QLabel("Chat settings")
        title.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setPlaceholderText("e.g. You are a concise assistant. "
                                              "Answer in plain English.")
        self.system_prompt.setMaximumHeight(110)
        self.system_prompt.textChanged.connect(self._edited)
        self.temperature = self._double(0.0, 2.0, 0.05, "0 = always the most likely word "
                                        "(repeatable); higher = more varied")
        self.top_p = self._double(0.0, 1.0, 0.05, "Only sample from the most likely words "
                                  "whose probabilities add up to this")
        self.top_k = self._int(0, 1000, 1, "Only sample from this many most likely words "
                               "(0 = no limit)")
        self.repeat_penalty = self._double(0.5, 2.0, 0.05, "Above 1 discourages repeating "
                                           "the same words")
        self.max_tokens = self._int(1, 32768, 64, "The longest reply, in tokens")
        self.seed = self._int(-1, 2**31 - 1, 1, "The same seed and settings give the same "
                              "reply; Random gives a new one each time")
        self.seed.setSpecialValueText("Random")
        self.context_length = self._int(256, 131072, 256, "How much of the conversation the "
                                        "model sees at once; more needs more memory. Changing "
                                        "it reloads the model.")
        self.context_length.setSuffix(" tokens")

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Top-k", self.top_k)
        form.addRow("Repeat penalty", self.repeat_penalty)
        form.addRow("Max tokens", self.max_tokens)
        form.addRow("Seed", self.seed)
        form.addRow("Context length", self.context_length)

        self.save_defaults_button = QPushButton("Use for new chats")
        self.save_defaults_button.setToolTip("Start new conversations with these settings "
                                             "and system prompt")
        self.save_defaults_button.clicked.connect(self.save_defaults_requested)
        self.restore_button = QPushButton("Restore defaults")
        self.restore_button.clicked.connect(self.restore_defaults_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.save_defaults_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        layout.addWidget(title)
        layout.addWidget(QLabel("System prompt"))
        layout.addWidget(self.system_prompt)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def _double(self, low: float, high: float, step: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setToolTip(tip)
        box.valueChanged.connect(self._edited)
        return box

    def _int(self, low: int, high: int, step: int, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setToolTip(tip)
        box.valueChanged.connect(self._edited)
        return box

    def set_values(self, system_prompt: str, settings: dict[str, Any]) -> None:
        """Show a conversation's settings (without emitting ``changed``)."""
        self._loading = True
        try:
            if self.system_prompt.toPlainText() != system_prompt:
                self.system_prompt.setPlainText(system_prompt)
            self.temperature.setValue(float(settings["temperature"]))
            self.top_p.setValue(float(settings["top_p"]))
            self.top_k.setValue(int(settings["top_k"]))
            self.repeat_penalty.setValue(float(settings["repeat_penalty"]))
            self.max_tokens.setValue(int(settings["max_tokens"]))
            seed = settings.get("seed")
            self.seed.setValue(-1 if seed is None else int(seed))
            self.context_length.setValue(int(settings["context_length"]))
        finally:
            self._loading = False

    def settings(self) -> dict[str, Any]:
        seed = self.seed.value()
        return {
            "temperature": round(self.temperature.value(), 3),
            "top_p": round(self.top_p.value(), 3),
            "top_k": self.top_k.value(),
            "repeat_penalty": round(self.repeat_penalty.value(), 3),
            "max_tokens": self.max_tokens.value(),
            "seed": None if seed < 0 else seed,
            "context_length": self.context_length.value(),
        }

    def system_prompt_text(self) -> str:
        return self.system_prompt.toPlainText()

    @Slot()
    def _edited(self) -> None:
        if not self._loading:
            self.changed.emit()
