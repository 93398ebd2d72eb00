"""Per-conversation chat settings: system prompt, sampling and context length.

Each conversation keeps its own settings (``Conversation.settings`` and ``system_prompt``); new
conversations start from the defaults of :mod:`slmdesk.core.engine.sampling`, which the panel
can overwrite ("Use for new chats"). The tooltips are the settings' own words from there.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.engine.sampling import SETTINGS_BY_NAME


def _tip(name: str) -> str:
    return SETTINGS_BY_NAME[name].help


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
        self.temperature = self._double(0.0, 2.0, 0.05, _tip("temperature"))
        self.top_p = self._double(0.0, 1.0, 0.05, _tip("top_p"))
        self.top_k = self._int(0, 1000, 1, _tip("top_k"))
        self.repeat_penalty = self._double(0.5, 2.0, 0.05, _tip("repeat_penalty"))
        self.presence_penalty = self._double(0.0, 2.0, 0.05, _tip("presence_penalty"))
        self.frequency_penalty = self._double(0.0, 2.0, 0.05, _tip("frequency_penalty"))
        self.max_tokens = self._int(1, 32768, 64, _tip("max_tokens"))
        self.seed = self._int(-1, 2**31 - 1, 1, _tip("seed").replace("none", "Random"))
        self.seed.setSpecialValueText("Random")
        self.context_length = self._int(256, 131072, 256, _tip("context_length")
                                        + ". Changing it reloads the model.")
        self.context_length.setSuffix(" tokens")

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Top-k", self.top_k)
        form.addRow("Repeat penalty", self.repeat_penalty)
        form.addRow("Presence penalty", self.presence_penalty)
        form.addRow("Frequency penalty", self.frequency_penalty)
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
            self.presence_penalty.setValue(float(settings["presence_penalty"]))
            self.frequency_penalty.setValue(float(settings["frequency_penalty"]))
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
            "presence_penalty": round(self.presence_penalty.value(), 3),
            "frequency_penalty": round(self.frequency_penalty.value(), 3),
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
