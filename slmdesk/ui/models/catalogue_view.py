"""The Recommended tab: the curated catalogue, each model with its quantizations."""

from __future__ import annotations

from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from slmdesk.core.gguf.info import format_bytes
from slmdesk.core.hub.catalogue import CATALOGUE
from slmdesk.core.library.memory import available_memory_bytes
from slmdesk.ui.models.file_tree import FILE_ROLE, file_tree, set_badge

COLUMNS = ["Model", "Size", "License", "On this computer", "Repository"]


def catalogue_tree(available_bytes: int | None = None) -> QTreeWidget:
    """Models as top rows (their recommended file's figures), quantizations beneath."""
    available = available_memory_bytes() if available_bytes is None else available_bytes
    tree = file_tree(COLUMNS)
    for model in CATALOGUE:
        top = QTreeWidgetItem([f"{model.name}", "", model.license, "", ""])
        top.setToolTip(0, model.summary)
        recommended = model.recommended_file
        top.setText(1, f"{format_bytes(recommended.approx_size)} ({recommended.quantization})")
        top.setData(0, FILE_ROLE, (recommended.repo_id, recommended.filename))
        set_badge(top, 3, model.estimate(recommended, available))
        for file in model.files:
            child = QTreeWidgetItem([file.quantization, format_bytes(file.approx_size),
                                     model.license, "", file.repo_id])
            child.setToolTip(0, file.filename)
            child.setData(0, FILE_ROLE, (file.repo_id, file.filename))
            set_badge(child, 3, model.estimate(file, available))
            top.addChild(child)
        tree.addTopLevelItem(top)
    tree.setToolTip("Sizes are the catalogue's rounded figures; the exact size and checksum "
                    "come from the Hub when the download starts.")
    return tree
