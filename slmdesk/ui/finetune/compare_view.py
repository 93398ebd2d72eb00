"""Compare: the same question answered by the base model and by the fine-tuned one, side by side.

Each side has its own engine process (:class:`~slmdesk.ui.processes.engine.EngineProcess`), so both
answers stream at once and neither disturbs the Chat page's engine. Both use the same settings
(greedy decoding, so the difference comes from the adapter alone, not from chance). The engines
start on the first question and stop when the page is left or the window closes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html import escape

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.library.store import LibraryError, ModelLibrary
from slmdesk.paths import AppPaths
from slmdesk.ui.chat.widgets import Composer
from slmdesk.ui.processes.engine import EngineNotRunning, EngineProcess
from slmdesk.ui.widgets.labels import heading, hint
from slmdesk.ui.widgets.notice import NoticeBar

CONTEXT_LENGTH = 2048
SIDES = ("base", "tuned")


@dataclass
class Side:
    """One column: its engine, what it has loaded and the answer being written."""

    name: str
    engine: EngineProcess
    title: QLabel
    view: QPlainTextEdit
    status: QLabel
    loaded: tuple | None = None
    pending: tuple | None = None  # what is being loaded
    load_id: str | None = None
    chat_id: str | None = None
    waiting: list = field(default_factory=list)  # messages to send once loaded
    busy: bool = False


class CompareView(QWidget):
    """Ask once, read two answers."""

    #: One side ended its answer ("base" or "tuned").
    side_finished = Signal(str)
    #: Both answers are complete (or stopped).
    both_finished = Signal()

    def __init__(self, library: ModelLibrary, paths: AppPaths,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.paths = paths
        self.picker = QComboBox()
        self.picker.setMinimumWidth(320)
        self.picker.currentIndexChanged.connect(self._pair_changed)
        self.max_tokens = QSpinBox(minimum=16, maximum=2048, singleStep=32, value=160)
        self.max_tokens.setToolTip("The longest answer, in tokens, for both sides")
        self.notice = NoticeBar()
        self.composer = Composer()
        self.composer.setPlaceholderText("Ask both models the same question. Enter asks, "
                                         "Shift+Enter adds a line.")
        self.composer.setFixedHeight(64)
        self.composer.submitted.connect(self.ask_current)
        self.composer.stop_requested.connect(self.stop)
        self.ask_button = QPushButton("Ask both")
        self.ask_button.setDefault(True)
        self.ask_button.clicked.connect(self.ask_current)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()

        top = QHBoxLayout()
        top.addWidget(heading("Compare"), 1)
        top.addWidget(QLabel("Adapter"))
        top.addWidget(self.picker)
        top.addWidget(QLabel("Max. tokens"))
        top.addWidget(self.max_tokens)
        self.question_label = QLabel()
        self.question_label.setWordWrap(True)
        self.question_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.question_label.setStyleSheet("background: #e8f0fe; border-radius: 6px;"
                                          " padding: 8px; font-size: 14px;")
        self.question_label.hide()
        columns = QHBoxLayout()
        self.sides: dict[str, Side] = {}
        threads = max(1, (os.cpu_count() or 2) // 2)
        self.threads = threads
        for name in SIDES:
            frame = QFrame()
            frame.setFrameShape(QFrame.Shape.StyledPanel)
            box = QVBoxLayout(frame)
            title = QLabel()
            title.setStyleSheet("font-weight: 600; font-size: 14px;")
            title.setWordWrap(True)
            view = QPlainTextEdit(readOnly=True)
            view.setStyleSheet("font-size: 14px;")
            status = hint()
            box.addWidget(title)
            box.addWidget(view, 1)
            box.addWidget(status)
            columns.addWidget(frame, 1)
            engine = EngineProcess(paths.log_dir / f"compare-{name}", self)
            side = Side(name, engine, title, view, status)
            self.sides[name] = side
            engine.loaded.connect(lambda event, s=side: self._loaded(s, event))
            engine.token.connect(lambda rid, text, s=side: self._token(s, rid, text))
            engine.done.connect(lambda event, s=side: self._done(s, event))
            engine.error.connect(lambda event, s=side: self._error(s, event))
            engine.crashed.connect(lambda message, s=side: self._crashed(s, message))
        ask = QHBoxLayout()
        ask.addWidget(self.composer, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.ask_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        ask.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint("Both answer with the same settings and no randomness, so every "
                              "difference comes from what the adapter learned."))
        layout.addWidget(self.notice)
        layout.addWidget(self.question_label)
        layout.addLayout(columns, 1)
        layout.addLayout(ask)
        self.refresh()

    # -- choosing ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Offer every adapter with its base model."""
        keep = self.picker.currentData()
        self.picker.blockSignals(True)
        self.picker.clear()
        for model in self.library.models():
            for adapter in self.library.adapters_for(model.id):
                self.picker.addItem(f"{model.display_name} + {adapter.display_name}",
                                    (model.id, adapter.id))
        if self.picker.count() == 0:
            self.picker.addItem("No adapters yet: fine-tune a model first", None)
        index = self.picker.findData(keep) if keep is not None else -1
        self.picker.setCurrentIndex(max(index, 0))
        self.picker.blockSignals(False)
        self._pair_changed()

    def set_pair(self, model_id: int, adapter_id: int) -> None:
        self.refresh()
        index = self.picker.findData((model_id, adapter_id))
        if index >= 0:
            self.picker.setCurrentIndex(index)

    def pair(self) -> tuple[int, int] | None:
        return self.picker.currentData()

    @Slot()
    def _pair_changed(self, *_args) -> None:
        pair = self.pair()
        names = ("Base model", "Fine-tuned")
        if pair is not None:
            try:
                model = self.library.get(pair[0])
                adapter = self.library.get(pair[1])
                names = (f"Base: {model.display_name}",
                         f"Fine-tuned: {model.display_name} + {adapter.display_name}")
            except LibraryError:
                pass
        for side, name in zip(self.sides.values(), names):
            side.title.setText(name)
        self.ask_button.setEnabled(pair is not None and not self.busy)

    # -- asking --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return any(side.busy for side in self.sides.values())

    @Slot()
    def ask_current(self) -> None:
        text = self.composer.toPlainText().strip()
        if text and not self.busy and self.ask(text):
            self.composer.clear()

    def ask(self, prompt: str) -> bool:
        """Send ``prompt`` to both sides; the answers stream into the two columns."""
        pair = self.pair()
        if pair is None or self.busy:
            return False
        try:
            model, adapter = self.library.get(pair[0]), self.library.get(pair[1])
        except LibraryError as exc:
            self.notice.show_message(f"That model or adapter is no longer in the library: {exc}",
                                     "error")
            return False
        self.notice.hide()
        self.question_label.setText(f"<b>You asked:</b> {escape(prompt)}")
        self.question_label.show()
        messages = [{"role": "user", "content": prompt}]
        wanted = {"base": (str(model.path), ()),
                  "tuned": (str(model.path), ((str(adapter.path), 1.0),))}
        for name, side in self.sides.items():
            side.view.clear()
            side.busy = True
            side.chat_id = None
            spec = wanted[name]
            if side.loaded == spec and side.engine.running:
                self._send(side, messages)
            else:
                side.waiting = messages
                side.status.setText("Loading the model\u2026")
                if not side.engine.running:
                    side.engine.start()
                side.loaded = None
                side.load_id = side.engine.load(
                    spec[0], [{"path": p, "scale": s} for p, s in spec[1]],
                    n_ctx=CONTEXT_LENGTH, n_threads=self.threads)
                side.pending = spec
        self._busy_changed()
        return True

    def _send(self, side: Side, messages: list) -> None:
        side.status.setText("Writing\u2026")
        side.chat_id = side.engine.chat(messages, {"temperature": 0.0, "top_k": 1, "seed": 0,
                                                   "max_tokens": self.max_tokens.value()})

    @Slot()
    def stop(self) -> None:
        for side in self.sides.values():
            if side.busy and side.chat_id is not None:
                try:
                    side.engine.cancel(side.chat_id)
                except EngineNotRunning:
                    pass
            elif side.busy:
                side.waiting = []
                self._end(side, "Stopped.")

    def answers(self) -> dict[str, str]:
        return {name: side.view.toPlainText() for name, side in self.sides.items()}

    # -- engine events (per side) --------------------------------------------------------------

    def _loaded(self, side: Side, event: dict) -> None:
        if event["id"] != side.load_id:
            return
        side.load_id = None
        side.loaded = side.pending
        if side.waiting and side.busy:
            messages, side.waiting = side.waiting, []
            self._send(side, messages)

    def _token(self, side: Side, request_id: str, text: str) -> None:
        if request_id == side.chat_id:
            cursor = side.view.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(text)
            side.view.setTextCursor(cursor)

    def _done(self, side: Side, event: dict) -> None:
        if event["id"] != side.chat_id:
            return
        speed = event.get("tokens_per_second")
        reason = {"length": " (reached the length limit)", "cancelled": " (stopped)"}.get(
            event.get("finish_reason"), "")
        self._end(side, f"{event.get('completion_tokens', 0)} tokens"
                  + (f" at {speed:.1f} tokens/s" if speed else "") + reason)

    def _error(self, side: Side, event: dict) -> None:
        if event["id"] in (side.load_id, side.chat_id):
            if event["id"] == side.load_id:
                side.load_id, side.loaded = None, None
            self._end(side, "")
            self.notice.show_message(event["message"], "error", event.get("detail", ""))

    def _crashed(self, side: Side, message: str) -> None:
        side.loaded = side.load_id = None
        if side.busy:
            self._end(side, "")
        self.notice.show_message("A model engine stopped unexpectedly; ask again to restart "
                                 "it.", "error", message)

    def _end(self, side: Side, status: str) -> None:
        side.busy = False
        side.chat_id = None
        side.status.setText(status)
        self.side_finished.emit(side.name)
        self._busy_changed()
        if not self.busy:
            self.both_finished.emit()

    def _busy_changed(self) -> None:
        busy = self.busy
        self.ask_button.setVisible(not busy)
        self.stop_button.setVisible(busy)
        self.picker.setEnabled(not busy)
        self.ask_button.setEnabled(self.pair() is not None and not busy)

    def shutdown(self) -> None:
        """Stop both engines (when the page is left, and at exit)."""
        for side in self.sides.values():
            side.waiting = []
            side.engine.stop()
            side.loaded = side.load_id = side.chat_id = None
            if side.busy:
                side.busy = False
                side.status.setText("")
        self._busy_changed()
