"""The questions and answers training will add to the documents, shown before it starts.

With knowledge augmentation on (the Settings step), the training data holds, besides the text,
questions and answers written from the documents' sentences
(:func:`slmdesk.core.knowledge.augment_documents`). This widget shows how many of each kind, a
few of them, and the notes on documents that give none (another language, no facts). The
augmentation is plain Python and quick, but a long report still takes a moment: it runs on the
thread pool, like reading the files, so the window never waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.documents.collect import Document
from slmdesk.core.training.job import TrainingJob, example_chunk_lengths
from slmdesk.core.training.reporting import count_head, count_parts, form_title
from slmdesk.ui.tasks import BackgroundTask

COLUMNS = ["Question", "Answer", "Kind"]
#: Examples shown: a few, taken in turn from each kind so that every kind appears.
SHOWN_EXAMPLES = 8
_NOTE_COLOUR = "#b26a00"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pick_examples(examples: Sequence[Any], count: int = SHOWN_EXAMPLES) -> list[Any]:
    """Up to ``count`` examples, each form in turn, taken evenly from across each form's
    examples rather than its first few (which all come from the first sentence, often a
    heading)."""
    by_form: dict[str, list[Any]] = {}
    for example in examples:
        by_form.setdefault(example.form, []).append(example)
    per_form = {form: min(len(group), count) for form, group in by_form.items()}
    while sum(per_form.values()) > count:
        fullest = max(per_form, key=lambda form: (per_form[form], form))
        per_form[fullest] -= 1
    spread = {form: [group[(2 * i + 1) * len(group) // (2 * per_form[form])]
                     for i in range(per_form[form])]
              for form, group in by_form.items()}
    picked: list[Any] = []
    for depth in range(count):
        picked += [chosen[depth] for chosen in spread.values() if depth < len(chosen)]
    return picked[:count]


class KnowledgePreview(QWidget):
    """Counts, a few examples and notes of the augmentation of the current documents."""

    #: A preview was made (or could not be).
    finished = Signal()
    #: What it shows changed (a preview, or turned on or off): for the tab's title and estimate.
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turned_on = True
        self.seed = 0
        #: The last :class:`~slmdesk.core.knowledge.Augmentation`, None until one is made.
        self.augmentation: Any = None
        self.error = ""
        self._documents: list[Document] = []
        self._task: BackgroundTask | None = None
        self._all_tasks: list[BackgroundTask] = []
        self._generation = 0

        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTreeWidget()
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.table, 1)
        self._show()

    # -- what others read ----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._task is not None

    def counts(self) -> dict[str, int]:
        return dict(self.augmentation.counts()) if self.augmentation is not None else {}

    def example_count(self) -> int:
        return len(self.augmentation.examples) if self.augmentation is not None else 0

    def example_lengths(self, job: TrainingJob) -> list[int]:
        """Approximate token lengths of the examples as training chunks, for the estimate."""
        if self.augmentation is None:
            return []
        return example_chunk_lengths(job, [len(e.question) + len(e.answer)
                                           for e in self.augmentation.examples])

    # -- inputs --------------------------------------------------------------------------------

    @Slot(bool)
    def set_turned_on(self, turned_on: bool) -> None:
        """Whether training will use the questions (the Settings step's checkbox)."""
        self.turned_on = turned_on
        self._show()

    def set_documents(self, documents: Sequence[Document]) -> None:
        """Make the questions and answers of ``documents`` in the background."""
        self._generation += 1
        self._documents = list(documents)
        self.augmentation, self.error = None, ""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if not self._documents:
            self._show()
            self.finished.emit()
            return
        generation, seed = self._generation, self.seed
        texts = [doc.text for doc in self._documents]
        titles = [doc.title for doc in self._documents]

        def work(_progress):
            try:
                from slmdesk.core.knowledge import augment_documents

                return generation, augment_documents(texts, titles, seed=seed)
            except Exception as exc:
                exc.generation = generation  # type: ignore[attr-defined]
                raise

        task = BackgroundTask(work, "Writing questions and answers")
        task.signals.succeeded.connect(self._done)
        task.signals.failed.connect(self._failed)
        self._task = task
        self._all_tasks = [t for t in self._all_tasks if not t.done.is_set()] + [task]
        self._show()
        task.start()

    def wait_for_tasks(self) -> None:
        for task in self._all_tasks:
            task.cancel()
        for task in self._all_tasks:
            task.done.wait(30)

    @Slot(object)
    def _done(self, result: tuple[int, Any]) -> None:
        generation, augmentation = result
        if generation != self._generation:
            return
        self._task = None
        self.augmentation = augmentation
        self._show()
        self.finished.emit()

    @Slot(object, str)
    def _failed(self, error: Exception, _detail: str) -> None:
        if getattr(error, "generation", None) != self._generation:
            return
        self._task = None
        self.error = str(error) or type(error).__name__
        self._show()
        self.finished.emit()

    # -- showing -------------------------------------------------------------------------------

    def title(self) -> str:
        """For the tab: 'Questions and answers (142)' once counted."""
        if self.turned_on and self.augmentation is not None:
            return f"Questions and answers ({self.example_count():,})"
        return "Questions and answers"

    def _show(self) -> None:
        self.table.clear()
        notes = list(getattr(self.augmentation, "notes", []) or [])
        off = ("" if self.turned_on else
               "<b>Turned off</b> in the Settings step: the model learns the documents' text "
               "only, and will be less able to answer questions about them in chat. ")
        if not self._documents:
            summary = off or ("The questions and answers that training adds appear here once "
                              "documents are read.")
        elif self.busy:
            summary = off + "Writing questions and answers from your sentences\u2026"
        elif self.error:
            summary = off + ("The questions and answers could not be previewed "
                             f"({_escape(self.error)}); training will still try to write them.")
        elif self.augmentation is not None:
            total, parts = count_parts(self.counts())
            if total:
                verb = "would add" if not self.turned_on else "adds"
                summary = off + (f"Besides the text, training {verb} <b>{count_head(total)}"
                                 f"</b> written from your sentences: "
                                 f"{_escape(', '.join(parts))}.")
            else:
                summary = off + "No questions could be written from these documents."
            self._fill_table()
        else:
            summary = off
        self.summary_label.setText(summary)
        self.notes_label.setText("<br>".join(
            f"<span style='color:{_NOTE_COLOUR}'>\u2022 {_escape(note)}</span>" for note in notes))
        self.notes_label.setVisible(bool(notes))
        self.table.setVisible(self.table.topLevelItemCount() > 0)
        self.table.setEnabled(self.turned_on)
        self.changed.emit()

    def _fill_table(self) -> None:
        for example in pick_examples(self.augmentation.examples):
            item = QTreeWidgetItem([" ".join(example.question.split()),
                                    " ".join(example.answer.split()), form_title(example.form)])
            item.setToolTip(0, example.question)
            item.setToolTip(1, example.answer + (f"\n(from \u201c{example.source}\u201d)"
                                                 if getattr(example, "source", "") else ""))
            self.table.addTopLevelItem(item)

    def shown_examples(self) -> list[tuple[str, str]]:
        return [(self.table.topLevelItem(i).text(0), self.table.topLevelItem(i).text(1))
                for i in range(self.table.topLevelItemCount())]
