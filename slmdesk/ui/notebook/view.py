"""The Notebook page: the model continues the person's text (text-generation-webui's Notebook tab).

Notebooks on the left, one big text in the middle, the sampling settings on the right. The
buttons under the text:

* **Generate** sends the whole text and appends the continuation as it streams. Pressed again
  *without any edit since* the last continuation, it replaces that continuation with a new one
  (a fresh try, as text-generation-webui's Regenerate); after an edit it appends again.
* **Continue** always appends to the text as it stands, keeping the last continuation.
* **Stop** ends the continuation; what was written so far stays, saved.
* **Undo** goes back to the text before the last continuation (again and again: a stack of
  earlier texts kept in memory for this sitting; typing has the editor's own Ctrl+Z).

The token count is the engine's own, from the end of each continuation: the tokens it read
(a text longer than the context keeps its end) plus the ones it wrote. The text is saved as
the person types (half a second after the last key) and while the model writes (at most every
half second), so closing the window or a crash loses little.

The page only shows things and forwards what the person does: :class:`NotebookSession` runs
the engine process, so loading a model or writing never blocks this thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.conversations.notebooks import NotebookStore
from slmdesk.core.conversations.store import RecordNotFound
from slmdesk.core.engine.sampling import chat_defaults, effective_settings
from slmdesk.core.library.store import ModelLibrary
from slmdesk.core.settings import get_setting, set_setting
from slmdesk.paths import AppPaths
from slmdesk.ui.chat.widgets import ElidedLabel
from slmdesk.ui.notebook.editor import NotebookEditor
from slmdesk.ui.notebook.model_picker import NotebookModelPicker, default_model
from slmdesk.ui.notebook.sampling import SamplingForm
from slmdesk.ui.notebook.session import NotebookRefused, NotebookSession
from slmdesk.ui.notebook.sidebar import NotebookList
from slmdesk.ui.widgets.labels import hint
from slmdesk.ui.widgets.notice import NoticeBar

LAST_MODEL_KEY = "notebook_last_model"
#: How long after the last key press the typed text is saved.
TYPING_SAVE_MS = 500
_STATE_TEXT = {"off": "Model not loaded", "loading": "Loading model\u2026", "ready": "Ready",
               "generating": "Writing\u2026", "crashed": "Engine stopped"}


class NotebookView(QWidget):
    """Let a model continue a text; every notebook is kept."""

    def __init__(self, library: ModelLibrary, paths: AppPaths,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.store = NotebookStore(library.conn)
        self.session = NotebookSession(self.store, library, paths, self)
        self.notebook_id: int | None = None
        #: Per notebook: the texts before each continuation, the newest last.
        self.undo_stack: dict[int, list[str]] = {}
        #: Per notebook: the whole text right after its last continuation (see Generate).
        self._after_generation: dict[int, str] = {}
        self._writing = False  # the page itself is changing the editor's text
        self._typed = False  # typed since the last save

        self.notebooks = NotebookList(self.store)
        self.notebooks.notebook_selected.connect(self.open_notebook)
        self.notebooks.new_requested.connect(self.new_notebook)
        self.notebooks.notebook_deleted.connect(self._notebook_deleted)

        self.title_label = ElidedLabel("Notebook")  # one line, however long the first line
        self.title_label.setStyleSheet("font-size: 17px; font-weight: 600;")
        self.title_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.model_picker = NotebookModelPicker()
        self.model_picker.activated.connect(self._model_chosen)
        self.status_label = hint()
        top = QHBoxLayout()
        top.addWidget(self.title_label, 1)
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_picker)
        top.addWidget(self.status_label)

        self.notice = NoticeBar()
        self.editor = NotebookEditor()
        self.editor.generate_requested.connect(self.generate)
        self.editor.stop_requested.connect(self.stop)
        self.editor.setPlaceholderText(
            "Write the beginning of a text and press Generate: the model continues it.\n\n"
            "Base models (marked \u201cbase\u201d in the menu above) continue text best: a "
            "story's first lines, a list to go on, a letter's opening.")
        self.editor.setStyleSheet("QPlainTextEdit { font-size: 14px; padding: 6px; }")
        self.editor.textChanged.connect(self._text_edited)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(TYPING_SAVE_MS)
        self._save_timer.timeout.connect(self.save_text)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setToolTip(
            "Continue the text (Ctrl+Enter). Pressed again with no edit in between, it "
            "replaces the last continuation with a new one.")
        self.generate_button.clicked.connect(self.generate)
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Write more after the text as it stands, keeping the "
                                        "last continuation")
        self.continue_button.clicked.connect(self.continue_text)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop writing (Escape); what was written stays")
        self.stop_button.clicked.connect(self.stop)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Back to the text before the last continuation")
        self.undo_button.clicked.connect(self.undo)
        self.token_label = hint()
        self.token_label.setWordWrap(False)
        self.token_label.setToolTip("The engine's count: tokens read (the model's start-of-text "
                                    "token included) + tokens written, of the context's size")
        buttons = QHBoxLayout()
        for button in (self.generate_button, self.continue_button, self.stop_button,
                       self.undo_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.token_label)

        self.sampling = SamplingForm()
        self.sampling.changed.connect(self._settings_edited)

        middle = QVBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addLayout(top)
        middle.addWidget(self.notice)
        middle.addWidget(self.editor, 1)
        middle.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.notebooks)
        layout.addLayout(middle, 1)
        layout.addWidget(self.sampling)

        for keys, slot in ((QKeySequence(Qt.Key.Key_Escape), self.stop),
                           (QKeySequence(QKeySequence.StandardKey.New), self.new_notebook)):
            shortcut = QShortcut(keys, self)  # (the editor handles its own keys)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        self.session.state_changed.connect(self._state_changed)
        self.session.text_grew.connect(self._text_grew)
        self.session.finished.connect(self._finished)
        self.session.problem.connect(self.notice.show_message)
        self.session.engine_crashed.connect(self._engine_crashed)

        self.refresh_models()
        recent = self.store.list()
        self.notebooks.refresh()
        self.open_notebook(recent[0].id if recent else None)

    # Models -------------------------------------------------------------------------------

    @Slot()
    def refresh_models(self) -> None:
        """Rebuild the model menu from the library; an empty notebook takes the default model."""
        self.model_picker.refresh(self.library)
        notebook = self._notebook()
        if notebook is not None and notebook.model_id is None and not notebook.text:
            model_id = self._default_model()
            if model_id is not None:
                self.store.update(notebook.id, model_id=model_id)
        self._show_model()

    def _default_model(self) -> int | None:
        """The model chosen last in a notebook, else a base model, else the first model."""
        last = get_setting(self.library.conn, LAST_MODEL_KEY)
        if last in self.model_picker.model_ids:
            return int(last)
        return default_model(self.library)

    def _show_model(self) -> None:
        notebook = self._notebook()
        self.model_picker.show_model(notebook.model_id if notebook else self._default_model())

    @Slot(int)
    def _model_chosen(self, index: int) -> None:
        model_id = self.model_picker.model_at(index)
        if model_id is None:
            return
        set_setting(self.library.conn, LAST_MODEL_KEY, model_id)
        notebook_id = self._ensure_notebook()
        self.store.update(notebook_id, model_id=model_id)
        try:
            self.session.preload(model_id, self.sampling.settings())  # the first Generate is sooner
        except NotebookRefused as exc:
            self.notice.show_message(exc.message, "error", exc.detail)

    # Notebooks ----------------------------------------------------------------------------

    def _notebook(self):
        if self.notebook_id is None:
            return None
        try:
            return self.store.get(self.notebook_id)
        except RecordNotFound:
            self.notebook_id = None
            return None

    def _ensure_notebook(self, model_id: int | None = None) -> int:
        if self.notebook_id is None:
            notebook = self.store.create(
                model_id=model_id if model_id is not None else self._default_model(),
                settings=self.sampling.settings())
            self.notebook_id = notebook.id
            self.notebooks.refresh(select_id=notebook.id)
        return self.notebook_id

    @Slot()
    def new_notebook(self, model_id: int | None = None) -> int:
        """Start a new notebook (an empty current one is reused rather than piling up)."""
        self.save_text()
        notebook = self._notebook()
        if notebook is not None and not notebook.text and not self.session.busy:
            if model_id is not None:
                self.store.update(notebook.id, model_id=model_id)
            self.open_notebook(notebook.id)
        else:
            self.session.stop()  # a continuation belongs to the notebook it was asked in
            self.notebook_id = None
            self.sampling.set_values(effective_settings({}, chat_defaults(self.library.conn)))
            self.open_notebook(self._ensure_notebook(model_id))
        self.editor.setFocus()
        assert self.notebook_id is not None
        return self.notebook_id

    def open_notebook_with(self, model_id: int) -> int:
        """A new notebook on this model (for "open in the Notebook" elsewhere); returns its id."""
        self.refresh_models()
        set_setting(self.library.conn, LAST_MODEL_KEY, model_id)
        return self.new_notebook(model_id)

    @Slot(int)
    def open_notebook(self, notebook_id: int | None) -> None:
        """Show a notebook (None: an empty page, which becomes a notebook when used)."""
        if notebook_id != self.notebook_id:
            self.save_text()
            self.session.stop()  # a continuation belongs to the notebook it was asked in
        self.notebook_id = notebook_id
        self.notebooks.select(notebook_id)
        notebook = self._notebook()
        defaults = effective_settings({}, chat_defaults(self.library.conn))
        self.sampling.set_values(effective_settings(notebook.settings, defaults)
                                 if notebook else defaults)
        self._set_text(notebook.text if notebook else "")
        self.title_label.set_full_text(notebook.title if notebook else "Notebook")
        self._show_model()
        self.token_label.setText("")
        self._update_buttons()

    @Slot(int)
    def _notebook_deleted(self, notebook_id: int) -> None:
        gen = self.session.generation
        if gen is not None and gen.notebook_id == notebook_id:
            self.session.stop()
        self.undo_stack.pop(notebook_id, None)
        self._after_generation.pop(notebook_id, None)
        if notebook_id == self.notebook_id:
            self.notebook_id, self._typed = None, False  # its unsaved typing went with it
            self._save_timer.stop()
            recent = self.store.list()
            self.open_notebook(recent[0].id if recent else None)

    # The text -----------------------------------------------------------------------------

    def text(self) -> str:
        return self.editor.toPlainText()

    def _set_text(self, text: str) -> None:
        self._writing = True
        try:
            self.editor.setPlainText(text)
        finally:
            self._writing = False
        self.editor.moveCursor(QTextCursor.MoveOperation.End)

    @Slot()
    def _text_edited(self) -> None:
        if not self._writing:
            self._typed = True
            self._save_timer.start()

    @Slot()
    def save_text(self) -> None:
        """Save what was typed (the typing timer calls this; so do switching and closing)."""
        self._save_timer.stop()
        if not self._typed:
            return
        self._typed = False
        if self.notebook_id is None and not self.text():
            return
        self.store.update(self._ensure_notebook(), text=self.text())
        self._refresh_title()

    def _refresh_title(self) -> None:
        notebook = self._notebook()
        if notebook is not None:
            self.title_label.set_full_text(notebook.title)
            self.notebooks.refresh()

    # Generate, Continue, Stop, Undo -------------------------------------------------------

    @Slot()
    def generate(self) -> None:
        """Continue the text; right after a continuation (no edit since), replace it instead."""
        if self.session.busy:
            return
        self.save_text()
        notebook_id = self._ensure_notebook()
        stack = self.undo_stack.setdefault(notebook_id, [])
        if stack and self._after_generation.get(notebook_id) == self.text():
            self._start(notebook_id, stack[-1], pushed=False)  # a new try at the last one
        else:
            self._start(notebook_id, self.text(), pushed=True)

    @Slot()
    def continue_text(self) -> None:
        """Write more after the text as it stands."""
        if self.session.busy:
            return
        self.save_text()
        notebook_id = self._ensure_notebook()
        self._start(notebook_id, self.text(), pushed=True)

    def _start(self, notebook_id: int, base: str, pushed: bool) -> None:
        before = self.text()
        stack = self.undo_stack.setdefault(notebook_id, [])
        if pushed:
            stack.append(before)
        if base != before:
            self._set_text(base)
        self.notice.hide()  # a new continuation makes old news stale
        model_id = self.model_picker.current_model()
        if model_id is not None:  # the notebook remembers the model that wrote in it
            self.store.update(notebook_id, model_id=model_id)
        try:
            self.session.generate(notebook_id, base, model_id, self.sampling.settings())
        except NotebookRefused as exc:
            if pushed:
                stack.pop()
            self._set_text(before)
            self.notice.show_message(exc.message, "error", exc.detail)
        self.token_label.setText("")
        self._update_buttons()

    @Slot()
    def stop(self) -> None:
        self.session.stop()

    @Slot()
    def undo(self) -> None:
        """Back to the text before the last continuation."""
        if self.session.busy or self.notebook_id is None:
            return
        stack = self.undo_stack.get(self.notebook_id)
        if not stack:
            return
        self._set_text(stack.pop())
        self._after_generation.pop(self.notebook_id, None)
        self.store.update(self.notebook_id, text=self.text())
        self._refresh_title()
        self.token_label.setText("")
        self._update_buttons()

    @Slot()
    def shutdown(self) -> None:
        """Called when the window closes: save the text, and the engine must not outlive it."""
        self.save_text()
        self.session.shutdown()

    # Session events -----------------------------------------------------------------------

    @Slot(int, str)
    def _text_grew(self, notebook_id: int, piece: str) -> None:
        if notebook_id != self.notebook_id or not piece:
            return
        bar = self.editor.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.editor.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        self._writing = True
        try:
            cursor.insertText(piece)
        finally:
            self._writing = False
        if at_end:
            bar.setValue(bar.maximum())

    @Slot(int, dict)
    def _finished(self, notebook_id: int, summary: dict) -> None:
        self._after_generation[notebook_id] = summary["text"]
        if notebook_id == self.notebook_id:
            if self.text() != summary["text"]:
                self._set_text(summary["text"])
            self.token_label.setText(_token_text(summary))
            self._refresh_title()
        else:
            self.notebooks.refresh()
        self._update_buttons()

    @Slot(str)
    def _state_changed(self, state: str) -> None:
        self.status_label.setText(_STATE_TEXT.get(state, state))
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.session.busy
        self.generate_button.setVisible(not busy)
        self.continue_button.setEnabled(not busy)
        self.stop_button.setVisible(busy)
        self.undo_button.setEnabled(not busy and bool(
            self.undo_stack.get(self.notebook_id or -1)))
        self.editor.setReadOnly(busy)
        self.model_picker.setEnabled(not busy)
        self.sampling.setEnabled(not busy)

    @Slot(str)
    def _engine_crashed(self, message: str) -> None:
        headline = message.split("\nLast lines from the engine:")[0]
        self.notice.show_message(f"{headline} Your text is safe: what was written so far was "
                                 "kept. Generate again to restart the engine.", "error", message)
        self._update_buttons()

    @Slot()
    def _settings_edited(self) -> None:
        self.store.update(self._ensure_notebook(), settings=self.sampling.settings())


def _token_text(summary: dict) -> str:
    """"6 + 12 = 18 tokens of 1,024" from the engine's counts (and what went wrong, if it did)."""
    status = summary["status"]
    prompt, written = summary.get("prompt_tokens"), summary.get("completion_tokens")
    if prompt is None or written is None:
        return {"stopped": "Stopped", "error": "Failed", "interrupted": "Interrupted"}.get(
            status, "")
    text = f"{prompt:,} + {written:,} = {prompt + written:,} tokens"
    if summary.get("n_ctx"):
        text += f" of {summary['n_ctx']:,}"
    if summary.get("truncated_tokens"):
        text += f" ({summary['truncated_tokens']:,} left out)"
    if summary.get("tokens_per_second"):
        text += f" \u00b7 {summary['tokens_per_second']:.1f} tokens/s"
    return text + (" \u00b7 stopped" if status == "stopped" else "")
