"""Trees of downloadable files with their size, license and fit badge, shared by the
Recommended and Search tabs."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem

from slmdesk.core.library.memory import MemoryEstimate, Verdict

#: Where a file item keeps (repo_id, filename).
FILE_ROLE = Qt.ItemDataRole.UserRole + 1
BADGE_COLOURS = {Verdict.FITS: "#137333", Verdict.TIGHT: "#b06000",
                 Verdict.WILL_NOT_FIT: "#a50e0e"}


def file_tree(columns: list[str]) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels(columns)
    tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    tree.setAlternatingRowColors(True)
    tree.setUniformRowHeights(True)
    header = tree.header()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(columns)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return tree


def set_badge(item: QTreeWidgetItem, column: int, estimate: MemoryEstimate,
              lower_bound: bool = False) -> None:
    """The fit verdict in its colour, with the numbers as the tooltip."""
    verdict = estimate.verdict
    item.setText(column, ("at least: " if lower_bound and verdict != Verdict.FITS else "")
                 + verdict.label)
    item.setForeground(column, QBrush(QColor(BADGE_COLOURS[verdict])))
    tip = estimate.explain()
    if lower_bound:
        tip += " Only the file size is known before the download; the KV cache comes on top."
    item.setToolTip(column, tip)


def selected_file(tree: QTreeWidget) -> tuple[str, str] | None:
    """(repo_id, filename) of the selected file (a model's row holds its recommended file)."""
    item = tree.currentItem()
    value = item.data(0, FILE_ROLE) if item is not None else None
    return (str(value[0]), str(value[1])) if value else None
