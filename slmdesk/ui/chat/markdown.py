"""Markdown replies as Qt rich text, in blocks that can be updated one at a time.

QLabel renders Markdown itself but cannot shade code blocks and treats a single newline as a
space, so the text goes through Qt's own Markdown reader here, with fenced code given a tinted
background and single newlines kept as line breaks.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QResizeEvent,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

CODE_BACKGROUND = QColor("#f1f3f5")
_FENCE = re.compile(r"^\s*(```|~~~)")
#: Lines that begin a Markdown block: a newline before them must stay a newline.
_BLOCK_START = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|#{1,6}\s|>|\||```|~~~|=+\s*$|-+\s*$)")
#: Lines that are a block of their own (code indented by four, table rows, headings).
_BLOCK_LINE = re.compile(r"^( {4}|\t|\s*\||\s*#{1,6}\s)")


def _keep_line_breaks(text: str) -> str:
    """Make single newlines line breaks, as people (and models) mean them in chat.

    In Markdown a lone newline is only a space. Joining such lines with U+2028 (a line
    separator, which Qt shows as a break inside the paragraph) keeps them apart; lines that
    start or belong to a block (list, heading, quote, table, code) keep their newline.
    """
    lines = text.split("\n")
    out, in_fence = [], False
    for i, line in enumerate(lines):
        fence = _FENCE.match(line)
        if fence:
            in_fence = not in_fence
        joinable = (not in_fence and not fence and i + 1 < len(lines) and line.strip()
                    and lines[i + 1].strip() and not _BLOCK_LINE.match(line)
                    and not _BLOCK_START.match(lines[i + 1]))
        out.append(line + ("\u2028" if joinable else "\n"))
    return "".join(out)[:-1] if out else ""


def split_blocks(text: str) -> list[str]:
    """Cut Markdown into blocks at blank lines; a fenced code block is one block."""
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False

    def close() -> None:
        if any(line.strip() for line in current):
            blocks.append("\n".join(current))
        current.clear()

    for line in text.split("\n"):
        if _FENCE.match(line):
            if not in_fence:
                close()
            current.append(line)
            in_fence = not in_fence
            if not in_fence:
                close()
        elif not in_fence and not line.strip():
            close()
        else:
            current.append(line)
    close()
    return blocks


def markdown_to_html(text: str, font: QFont) -> str:
    """Markdown as Qt rich text, with code blocks shaded (QLabel cannot style them itself)."""
    doc = QTextDocument()
    doc.setDefaultFont(font)
    doc.setMarkdown(_keep_line_breaks(text), QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
    block = doc.begin()
    cursor = QTextCursor(doc)
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.hasProperty(QTextFormat.Property.BlockCodeFence) or fmt.nonBreakableLines():
            fmt.setBackground(CODE_BACKGROUND)
            fmt.setLeftMargin(6)
            fmt.setRightMargin(6)
            cursor.setPosition(block.position())
            cursor.setBlockFormat(fmt)
        block = block.next()
    return doc.toHtml()


class _BlockLabel(QLabel):
    """A label whose height its column sets (see :class:`MarkdownBlocks`)."""

    def hasHeightForWidth(self) -> bool:
        return False


class MarkdownBlocks(QWidget):
    """Markdown text as a column of labels, one per block.

    While a reply streams only its last block changes, so an update re-renders one short
    block instead of the whole reply. Heights are fixed here, per label, whenever the width
    or a label's text changes: left to height-for-width, every layout pass would measure every
    block again and a long reply would stall the window on each update.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.setSpacing(2)
        self.labels: list[QLabel] = []
        self._blocks: list[str | None] = []
        self._font = QFont(self.font())
        if self._font.pointSizeF() > 0:
            self._font.setPointSizeF(self._font.pointSizeF() + 1)

    def set_text(self, text: str, placeholder: str = "\u2026") -> None:
        """Show ``text`` (Markdown); an empty text shows ``placeholder`` in grey."""
        blocks: list[str | None] = split_blocks(text) if text.strip() else [None]
        for i, block in enumerate(blocks):
            if i < len(self._blocks) and self._blocks[i] == block and block is not None:
                continue
            label = self.labels[i] if i < len(self.labels) else self._new_label()
            label.setText(markdown_to_html(block, self._font) if block is not None
                          else f"<span style='color:#80868b'>{placeholder}</span>")
            self._fit(label)
        for label in self.labels[len(blocks):]:
            self.column.removeWidget(label)
            label.deleteLater()
        del self.labels[len(blocks):]
        self._blocks = blocks

    def _new_label(self) -> QLabel:
        label = _BlockLabel()
        label.setFont(self._font)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setOpenExternalLinks(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                      | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        label.setMinimumWidth(80)
        self.column.addWidget(label)
        self.labels.append(label)
        return label

    def _fit(self, label: QLabel) -> None:
        width = self.contentsRect().width()
        label.setFixedHeight(QLabel.heightForWidth(label, width if width > 0 else 600))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            for label in self.labels:
                self._fit(label)
