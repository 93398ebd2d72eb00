"""The two lines above the chat thread: which chat this is, which model answers, how the engine is.

The first line holds the conversation's title, the model picker and the Settings button; the second
the chat format of the loaded model, the adapter-strength slider (shown only for a conversation with
a LoRA adapter) and the engine's state. :class:`~slmdesk.ui.chat.view.ChatView` decides what they
show and reacts to them; building and filling them lives here so the page's own module is about
what happens, not about where each label sits.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from slmdesk.ui.chat.adapter_strength import AdapterStrength
from slmdesk.ui.chat.session import LoadSpec
from slmdesk.ui.chat.widgets import ElidedLabel, ModelPicker

_STATE_TEXT = {"off": "Model not loaded", "loading": "Loading model\u2026", "ready": "Ready",
               "generating": "Writing\u2026", "crashed": "Engine stopped"}


class ChatHeader(QWidget):
    """Title, model picker and Settings button; then chat format, adapter strength and state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title_label = ElidedLabel()
        self.title_label.setStyleSheet("font-size: 17px; font-weight: 600;")
        self.title_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.model_picker = ModelPicker()
        self.settings_button = QToolButton(text="Settings")
        self.settings_button.setCheckable(True)
        self.settings_button.setToolTip("System prompt, sampling and context length")
        self.format_label = ElidedLabel()
        self.format_label.setStyleSheet("color: #5f6368;")
        self.format_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label = QLabel()
        self.status_label.setStyleSheet("color: #5f6368;")
        self.adapter_strength = AdapterStrength()
        self.adapter_strength.hide()
        top = QHBoxLayout()
        self.top_row = top  # the page adds its Documents button here, before Settings
        top.addWidget(self.title_label, 1)
        top.addWidget(self.model_picker)
        top.addWidget(self.settings_button)
        second = QHBoxLayout()
        second.addWidget(self.format_label, 1)
        second.addWidget(self.adapter_strength)
        second.addWidget(self.status_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(second)

    def show_state(self, state: str) -> None:
        """The engine's state ('off', 'loading', 'ready', 'generating', 'crashed') in words."""
        self.status_label.setText(_STATE_TEXT.get(state, state))

    def show_adapter(self, adapter: dict) -> None:
        """The strength slider of the conversation's adapter, hidden when it has none."""
        self.adapter_strength.setVisible(adapter.get("id") is not None)
        self.adapter_strength.set_scale(float(adapter.get("scale", 1.0)))

    def show_chat_format(self, loaded: LoadSpec | None, info: dict) -> None:
        """The chat format of ``loaded``, the conversation's own model with its load ``info``;
        None when that model is not the one loaded yet."""
        if loaded is not None:
            self.format_label.set_full_text(f"Chat format: {info['chat_format_description']}")
            self.format_label.setToolTip(
                f"{loaded.model_name}{' + ' + loaded.adapter_name if loaded.adapter_name else ''}"
                f"\nChat format: {info['chat_format_description']}\nContext: "
                f"{info['n_ctx']:,} tokens\nLoaded in {info['load_seconds']:.1f} s")
        else:
            self.format_label.set_full_text("The model loads when you send a message.")
