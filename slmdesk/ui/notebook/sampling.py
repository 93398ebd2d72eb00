"""The notebook's sampling settings: one compact form made from ``CHAT_SETTINGS``.

The Chat page's :class:`~slmdesk.ui.chat.settings.SettingsPanel` is about conversations (a
system prompt, "Use for new chats"); a notebook has neither, so this form shows only the
sampling settings and the context length, with the same names, words and defaults as the chat
and ``slmdesk complete`` (all from :mod:`slmdesk.core.engine.sampling`). Each notebook keeps its
own values.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QFrame, QSpinBox, QVBoxLayout, QWidget

from slmdesk.core.engine.sampling import CHAT_SETTINGS
from slmdesk.ui.widgets.labels import heading, hint

#: (lowest, highest, step) of each setting's box; seed -1 shows as "Random" (None).
RANGES: dict[str, tuple[float, float, float]] = {
    "temperature": (0.0, 2.0, 0.05),
    "top_p": (0.0, 1.0, 0.05),
    "top_k": (0, 1000, 1),
    "repeat_penalty": (0.5, 2.0, 0.05),
    "presence_penalty": (0.0, 2.0, 0.05),
    "frequency_penalty": (0.0, 2.0, 0.05),
    "max_tokens": (1, 32768, 16),
    "seed": (-1, 2**31 - 1, 1),
    "context_length": (256, 131072, 256),
}
#: For a setting added to CHAT_SETTINGS later, until it is given a range of its own.
DEFAULT_RANGES: dict[type, tuple[float, float, float]] = {float: (-2.0, 2.0, 0.05),
                                                          int: (0, 2**31 - 1, 1)}
LABELS = {"top_p": "Top-p", "top_k": "Top-k", "max_tokens": "New tokens"}


class SamplingForm(QFrame):
    """Edits one notebook's settings; ``changed`` fires on every edit by the person."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("samplingForm")
        self.setStyleSheet("QFrame#samplingForm { border-left: 1px solid #e0e0e0; }")
        self.setFixedWidth(240)
        self._loading = False
        self.boxes: dict[str, QSpinBox | QDoubleSpinBox] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        for setting in CHAT_SETTINGS:
            low, high, step = RANGES.get(setting.name, DEFAULT_RANGES[setting.kind])
            box: QSpinBox | QDoubleSpinBox
            if setting.kind is float:
                box = QDoubleSpinBox()
                box.setDecimals(2)
            else:
                box = QSpinBox()
            box.setRange(low, high)
            box.setSingleStep(step)
            box.setToolTip(setting.help)
            box.valueChanged.connect(self._edited)
            self.boxes[setting.name] = box
            form.addRow(LABELS.get(setting.name, setting.name.replace("_", " ").capitalize()),
                        box)
        self.boxes["seed"].setSpecialValueText("Random")
        self.boxes["context_length"].setToolTip(
            self.boxes["context_length"].toolTip() + ". Changing it reloads the model.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        layout.addWidget(heading("Settings"))
        layout.addLayout(form)
        layout.addWidget(hint("The text's end is kept when it grows longer than the context."))
        layout.addStretch(1)

    def set_values(self, settings: dict[str, Any]) -> None:
        """Show a notebook's settings (without emitting ``changed``)."""
        self._loading = True
        try:
            for name, box in self.boxes.items():
                value = settings.get(name)
                if name == "seed" and value is None:
                    value = -1
                if value is not None:
                    box.setValue(value)
        finally:
            self._loading = False

    def settings(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, box in self.boxes.items():
            value = box.value()
            values[name] = round(value, 3) if isinstance(box, QDoubleSpinBox) else value
        values["seed"] = None if values["seed"] < 0 else values["seed"]
        return values

    @Slot()
    def _edited(self) -> None:
        if not self._loading:
            self.changed.emit()
