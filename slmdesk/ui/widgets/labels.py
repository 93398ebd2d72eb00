"""Page headings and grey hints, the same on every page of the window."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


def heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-size: 17px; font-weight: 600;")
    label.setWordWrap(True)
    return label


def hint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #5f6368;")
    return label
