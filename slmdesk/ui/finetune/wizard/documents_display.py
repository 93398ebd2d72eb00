"""How the documents step words what it found: tree rows, the summary line and the chunk preview.

These functions turn what :class:`~slmdesk.ui.finetune.wizard.documents_page.DocumentsPage` knows (its
sources, the documents read and skipped, the token preview's answer) into rows and text; they keep
no state and do no work, so the page's module can stay about adding, reading and counting.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTreeWidgetItem

from slmdesk.core.documents.collect import Document, DocumentSet

SKIPPED_COLOUR = "#c62828"


def belongs(path: Path, source: Path) -> bool:
    """Whether ``path`` is the file ``source`` or lies in the folder ``source``."""
    return path == source or source in path.parents


def document_item(doc: Document, tokens: dict, base: Path) -> QTreeWidgetItem:
    """A read file's row: its name under ``base``, title, characters and tokens (estimated
    from the characters until ``tokens``, path -> count, has it)."""
    status = "Read" + (f" ({doc.pages} pages)" if doc.pages else "") + f": \u201c{doc.title}\u201d"
    count = tokens.get(str(doc.path))
    item = QTreeWidgetItem([str(Path(doc.path).relative_to(base)) if belongs(Path(doc.path), base)
                            else Path(doc.path).name, status, f"{doc.characters:,}",
                            f"{count:,}" if count is not None else f"~{doc.characters // 4:,}"])
    for column in (2, 3):
        item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    item.setToolTip(1, status)
    return item


def skipped_item(path: Path, reason: str, base: Path) -> QTreeWidgetItem:
    """A skipped file's row, its reason in red."""
    path = Path(path)
    name = str(path.relative_to(base)) if belongs(path, base) else path.name
    item = QTreeWidgetItem([name, f"Skipped: {reason}", "", ""])
    item.setForeground(1, QBrush(QColor(SKIPPED_COLOUR)))
    item.setToolTip(1, reason)
    return item


def summary_html(sources: list[Path], found: DocumentSet, reading: bool,
                 preview_answer: dict | None) -> str:
    """One line about everything found: documents read and skipped, characters, tokens and chunks."""
    if not sources:
        return ""
    if reading:
        return "Reading the documents\u2026"
    docs, skipped = found.documents, found.skipped
    if not docs:
        return (f"<span style='color:{SKIPPED_COLOUR}'>None of these can be used: add "
                "txt, md, pdf, docx or html files with text in them.</span>")
    characters = sum(d.characters for d in docs)
    parts = [f"<b>{len(docs)}</b> document{'s' if len(docs) != 1 else ''} read"
             + (f", {len(skipped)} skipped" if skipped else ""),
             f"{characters:,} characters"]
    stats = (preview_answer or {}).get("stats")
    if stats:
        held = (f", {stats['validation_chunks']} held back to measure progress"
                if stats["validation_chunks"] else
                " (too little text to hold some back: progress is measured on the text "
                "itself)")
        parts.append(f"<b>{stats['tokens']:,} tokens</b> in {stats['chunks']} chunk"
                     f"{'s' if stats['chunks'] != 1 else ''} of up to "
                     f"{stats['sequence_length']} tokens{held}")
    else:
        parts.append(f"about {characters // 4 + len(docs):,} tokens (an estimate until "
                     "they are counted)")
    return " \u00b7 ".join(parts)


def chunks_preview_text(documents: list[Document], reading: bool,
                        preview_answer: dict | None) -> str:
    """The first training chunks as the model will see them; until they are cut, the start of the
    first document."""
    if preview_answer is None:
        if documents and not reading:
            return documents[0].text[:1200]
        return ""
    chunks = preview_answer.get("preview", [])
    total = (preview_answer.get("stats") or {}).get("chunks", len(chunks))
    return "\n\n".join(f"\u2500\u2500 chunk {number} of {total} \u2500\u2500\n{text}"
                       for number, text in enumerate(chunks, 1))
