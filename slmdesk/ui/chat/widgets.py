"""Small widgets of the Chat page: the composer, the model picker and an actionable notice."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QComboBox, QLabel, QPlainTextEdit, QPushButton, QWidget

from slmdesk.core.library.store import ModelLibrary
from slmdesk.ui.widgets.notice import NoticeBar

#: A choice in the model picker: (model id, adapter id or None).
Choice = tuple[int, "int | None"]
_NO_MODELS = "none"
_UNSET = "unset"


class Composer(QPlainTextEdit):
    """Where the question is typed: Enter sends, Shift+Enter starts a new line, Escape stops."""

    submitted = Signal()
    stop_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.stop_requested.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ElidedLabel(QLabel):
    """One line of text that ends in "…" when it does not fit (the full text is the tooltip)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = ""
        self.setMinimumWidth(40)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight,
                                                   max(self.width(), 40)))

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        hint.setWidth(40)
        return hint

    def sizeHint(self):
        hint = super().sizeHint()
        hint.setWidth(self.fontMetrics().horizontalAdvance(self.full_text) + 4)
        return hint


class ActionNoticeBar(NoticeBar):
    """A notice bar that can also offer one action (e.g. "Restart engine")."""

    action_triggered = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.action_button = QPushButton()
        self.action_button.hide()
        self.action_button.clicked.connect(self.action_triggered)
        row = self.layout().itemAt(0).layout()  # NoticeBar's row: text, details, close
        row.insertWidget(1, self.action_button, 0, Qt.AlignmentFlag.AlignTop)

    def show_message(self, text: str, kind: str = "info", details: str = "",
                     action: str = "") -> None:
        super().show_message(text, kind, details)
        self.action_button.setText(action)
        self.action_button.setVisible(bool(action))


def choice_key(model_id: int, adapter_id: int | None) -> str:
    return f"{model_id}" if adapter_id is None else f"{model_id}+{adapter_id}"


class ModelPicker(QComboBox):
    """Library models, each followed by "model + adapter" for the adapters made for it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices: dict[str, Choice] = {}
        self.setMinimumWidth(260)
        self.setToolTip("The model (and adapter) this conversation talks to")

    def refresh(self, library: ModelLibrary) -> None:
        self.clear()
        self.choices = {}
        for model in library.models():
            self._add(model.display_name + (" (file missing)" if model.is_missing else ""),
                      model.id, None)
            for adapter in library.adapters_for(model.id):
                self._add(f"    {model.display_name} + {adapter.display_name}", model.id,
                          adapter.id)
        if not self.choices:
            self.addItem("No models: add one in the Library", _NO_MODELS)

    def _add(self, text: str, model_id: int, adapter_id: int | None) -> None:
        key = choice_key(model_id, adapter_id)
        self.choices[key] = (model_id, adapter_id)
        self.addItem(text, key)

    def choice_at(self, index: int) -> Choice | None:
        return self.choices.get(self.itemData(index))

    def current_choice(self) -> Choice | None:
        return self.choice_at(self.currentIndex())

    def show_choice(self, choice: Choice | None) -> None:
        """Select ``choice``; one not in the library shows "Choose a model…"."""
        unset = self.findData(_UNSET)
        if unset >= 0:
            self.removeItem(unset)
        index = self.findData(choice_key(*choice)) if choice else -1
        if index < 0 and self.choices:
            self.insertItem(0, "Choose a model\u2026", _UNSET)
            index = 0
        self.setCurrentIndex(max(index, 0))

    def model_name(self, model_id: int) -> str | None:
        index = self.findData(choice_key(model_id, None))
        return self.itemText(index).removesuffix(" (file missing)") if index >= 0 else None
