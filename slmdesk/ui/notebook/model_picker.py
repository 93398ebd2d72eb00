"""The notebook's model menu: the library's models, each marked base or chat.

A notebook is for *base* models, which continue text; chat models are listed too (they can
continue text, only less naturally), after the base ones, so that the first entry is a good
choice. Adapters are left out: a notebook keeps one model id, like the CLI's first argument.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from slmdesk.core.library.starters import StarterRole
from slmdesk.core.library.store import LibraryEntry, ModelLibrary

_NONE = -1


class NotebookModelPicker(QComboBox):
    """Base models first, then chat models; the item data is the model's library id."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(260)
        self.setToolTip("The model that continues the text. Base models continue text; chat "
                        "models are made to answer questions.")
        self.model_ids: list[int] = []

    def refresh(self, library: ModelLibrary) -> None:
        current = self.current_model()
        self.clear()
        models = sorted(library.models(), key=lambda e: e.info.is_chat_model)  # stable
        self.model_ids = [entry.id for entry in models]
        for entry in models:
            self.addItem(_label(entry), entry.id)
            self.setItemData(self.count() - 1, entry.info.model_type_sentence,
                             Qt.ItemDataRole.ToolTipRole)
        if not models:
            self.addItem("No models: add one in the Library", _NONE)
        self.show_model(current)

    def show_model(self, model_id: int | None) -> None:
        index = self.findData(model_id) if model_id is not None else -1
        self.setCurrentIndex(max(index, 0))

    def current_model(self) -> int | None:
        data = self.currentData()
        return None if data is None or data == _NONE else int(data)

    def model_at(self, index: int) -> int | None:
        data = self.itemData(index)
        return None if data is None or data == _NONE else int(data)


def _label(entry: LibraryEntry) -> str:
    missing = " (file missing)" if entry.is_missing else ""
    return f"{entry.display_name} \u2014 {entry.info.model_type_label}{missing}"


def default_model(library: ModelLibrary) -> int | None:
    """A base model if the library has one (the base starter first), else the first model."""
    models = [entry for entry in library.models() if not entry.is_missing]
    starter = library.starter(StarterRole.NOTEBOOK)  # the base starter, Gemma 3 270M
    if starter is not None and not starter.info.is_chat_model:
        return starter.id
    base = next((entry for entry in models if not entry.info.is_chat_model), None)
    chosen = base or next(iter(models), None)
    return chosen.id if chosen is not None else None
