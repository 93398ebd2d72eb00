"""Between the Notebook page, the notebook store and its own engine process: one continuation.

:class:`NotebookSession` is the notebook's twin of :class:`~slmdesk.ui.chat.session.ChatSession`,
with less to do: it loads the chosen model (refusing one that will not fit before loading
anything), sends the text as a raw ``complete`` request, collects the streamed pieces, shows
them at most every 50 ms, saves the growing text at most every half second (through
:class:`~slmdesk.core.conversations.notebooks.StreamingSave`) and ends the generation as
complete, stopped, failed or interrupted. It holds no widgets: the page calls it and listens to
its signals, and the tests can drive it the same way.

The page has its own engine process rather than sharing the chat's: a notebook usually runs a
base model while the chat runs an instruct one, and two small models side by side cost less
than reloading one each time the person switches page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from slmdesk.core.conversations.notebooks import NotebookStore, StreamingSave
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.library.memory import Verdict, estimate_memory
from slmdesk.core.library.store import LibraryError, ModelLibrary
from slmdesk.core.settings import get_setting
from slmdesk.paths import AppPaths
from slmdesk.ui.processes.engine import EngineNotRunning, EngineProcess

#: How often the growing text is shown again.
RENDER_INTERVAL_MS = 50
#: After Stop, how long to wait for the engine's own "done" before ending anyway.
STOP_GRACE_MS = 350


class NotebookRefused(SlmdeskError):
    """A generation cannot be started; the message says why and what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """What the engine must have loaded."""

    model_id: int
    model_name: str
    model_path: str
    n_ctx: int


@dataclass
class Generation:
    """One continuation being written: the text it continues and the pieces so far."""

    notebook_id: int
    base: str
    spec: ModelSpec
    params: dict
    saver: StreamingSave
    request_id: str | None = None
    parts: list[str] = field(default_factory=list)
    shown: int = 0  # characters of the continuation already handed to the page
    stopping: bool = False

    @property
    def generated(self) -> str:
        return "".join(self.parts)

    @property
    def text(self) -> str:
        return self.base + self.generated


class NotebookSession(QObject):
    """Runs continuations for the Notebook page on one :class:`EngineProcess`."""

    #: "off", "loading", "ready", "generating" or "crashed".
    state_changed = Signal(str)
    #: New text at the end of a notebook (notebook id, the piece to append).
    text_grew = Signal(int, str)
    #: A generation ended and is saved (notebook id, summary: status, text, token counts...).
    finished = Signal(int, dict)
    #: Something to tell the person: text, kind ("error", "warning", "info"), details.
    problem = Signal(str, str, str)
    #: The engine process died; the text says how.
    engine_crashed = Signal(str)

    def __init__(self, store: NotebookStore, library: ModelLibrary, paths: AppPaths,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store, self.library = store, library
        self.engine = EngineProcess(paths.log_dir, self)
        self.engine.loaded.connect(self._on_loaded)
        self.engine.token.connect(self._on_token)
        self.engine.done.connect(self._on_done)
        self.engine.error.connect(self._on_error)
        self.engine.crashed.connect(self._on_crashed)
        #: Seam for tests and the memory check: bytes available, or None to measure.
        self.available_memory: Callable[[], int | None] = lambda: None
        self.state = "off"
        self.loaded: ModelSpec | None = None
        self.n_ctx = 0
        self.generation: Generation | None = None
        self._wanted: ModelSpec | None = None
        self._load_id: str | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(RENDER_INTERVAL_MS)
        self._tick.timeout.connect(self._flush)
        self._stop_timer = QTimer(self)
        self._stop_timer.setSingleShot(True)
        self._stop_timer.setInterval(STOP_GRACE_MS)
        self._stop_timer.timeout.connect(self._end_stopped)

    @property
    def busy(self) -> bool:
        return self.generation is not None

    # --- what the page asks for ------------------------------------------------------------------

    def spec_for(self, model_id: int | None, settings: dict) -> ModelSpec:
        """What to load, or :class:`NotebookRefused` if it cannot or must not be loaded."""
        if model_id is None:
            raise NotebookRefused("Choose a model first (the menu at the top).")
        try:
            entry = self.library.get(model_id)
        except LibraryError:
            raise NotebookRefused("The model of this notebook is no longer in the library. "
                                  "Choose another one at the top.") from None
        if entry.is_missing:
            raise NotebookRefused(f"The model file {entry.path} is missing. It may be on a drive "
                                  "that is not connected, or it was moved; import it again.")
        n_ctx = int(settings["context_length"])
        if entry.info.context_length:
            n_ctx = min(n_ctx, entry.info.context_length)
        estimate = estimate_memory(entry.info, n_ctx, available_bytes=self.available_memory())
        if estimate.verdict == Verdict.WILL_NOT_FIT:
            raise NotebookRefused(
                f"{entry.display_name} will not fit in this computer's memory at a context of "
                f"{n_ctx:,} tokens, so it was not loaded. {estimate.explain()} Choose a shorter "
                "context length, close other programs, or use a smaller model.")
        return ModelSpec(entry.id, entry.display_name, str(entry.path), n_ctx)

    def generate(self, notebook_id: int, base: str, model_id: int | None,
                 settings: dict) -> None:
        """Continue ``base`` (saved first as the notebook's text); the pieces follow as signals."""
        if self.generation is not None:
            raise NotebookRefused("The model is still writing. Stop it first (Escape).")
        spec = self.spec_for(model_id, settings)
        self.store.update(notebook_id, text=base)
        params = {k: v for k, v in settings.items() if k != "context_length"}
        self.generation = Generation(notebook_id, base, spec, params,
                                     StreamingSave(self.store, notebook_id))
        self._tick.start()
        if spec == self.loaded and self.engine.running:
            self._send()
        else:
            self._ensure_loaded(spec)

    def preload(self, model_id: int | None, settings: dict) -> None:
        """Load the model ahead of the first Generate (when the person picks one)."""
        if self.generation is None:
            spec = self.spec_for(model_id, settings)
            if spec != self.loaded or not self.engine.running:
                self._ensure_loaded(spec)

    def stop(self) -> None:
        """Stop the generation; the text written so far stays, saved."""
        gen = self.generation
        if gen is None or gen.stopping:
            return
        gen.stopping = True
        if gen.request_id is None:  # still waiting for the model to load
            self._finish("stopped")
            return
        try:
            self.engine.cancel(gen.request_id)
        except EngineNotRunning:
            pass
        self._stop_timer.start()

    def shutdown(self) -> None:
        """Keep a generation in progress (as stopped) and stop the engine; safe to call twice."""
        if self.generation is not None:
            self._finish("stopped")
        self.engine.stop()
        self._set_state("off")

    # --- running a generation --------------------------------------------------------------------

    def _ensure_loaded(self, spec: ModelSpec) -> None:
        if self._load_id is not None and spec == self._wanted and self.engine.running:
            return  # already on its way; its "loaded" event sends the waiting request
        self._wanted = spec
        if not self.engine.running:
            self.engine.start()
        self._load_id = self.engine.load(
            spec.model_path, n_ctx=spec.n_ctx,
            n_threads=get_setting(self.library.conn, "engine_threads"),
            chat_format=get_setting(self.library.conn, "chat_format_override"))
        self._set_state("loading")

    def _send(self) -> None:
        gen = self.generation
        assert gen is not None
        gen.request_id = self.engine.complete(gen.base, gen.params)
        self._set_state("generating")

    @Slot()
    def _flush(self) -> None:
        gen = self.generation
        if gen is None:
            return
        generated = gen.generated
        if len(generated) > gen.shown:
            self.text_grew.emit(gen.notebook_id, generated[gen.shown:])
            gen.shown = len(generated)
            gen.saver.update(gen.text)

    def _finish(self, status: str, done: dict | None = None, error: str = "") -> None:
        self._flush()
        gen, self.generation = self.generation, None
        self._tick.stop()
        self._stop_timer.stop()
        if gen is None:
            return
        gen.saver.finish(gen.text)
        if self.state not in ("crashed", "off"):
            self._set_state("ready" if self.loaded else "off")
        summary = {"status": status, "text": gen.text, "generated": gen.generated,
                   "error": error, "n_ctx": self.n_ctx, "model": gen.spec.model_name,
                   **{k: (done or {}).get(k) for k in (
                       "finish_reason", "prompt_tokens", "completion_tokens", "truncated_tokens",
                       "tokens_per_second", "time_to_first_token")}}
        self.finished.emit(gen.notebook_id, summary)

    @Slot()
    def _end_stopped(self) -> None:
        """The engine did not confirm the stop in time (busy reading a long text)."""
        if self.generation is not None and self.generation.stopping:
            self._finish("stopped")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    # --- engine events ---------------------------------------------------------------------------

    @Slot(dict)
    def _on_loaded(self, event: dict) -> None:
        if event["id"] != self._load_id:
            return
        self._load_id = None
        self.loaded, self.n_ctx = self._wanted, int(event["n_ctx"])
        gen = self.generation
        if gen is not None and gen.request_id is None:
            if gen.spec == self.loaded:
                self._send()
            else:  # the person chose another model while this one loaded
                self._ensure_loaded(gen.spec)
        else:
            self._set_state("ready")

    @Slot(str, str)
    def _on_token(self, request_id: str, text: str) -> None:
        gen = self.generation
        if gen is not None and request_id == gen.request_id and not gen.stopping:
            gen.parts.append(text)

    @Slot(dict)
    def _on_done(self, event: dict) -> None:
        gen = self.generation
        if gen is None or event["id"] != gen.request_id:
            return
        stopped = gen.stopping or event["finish_reason"] == "cancelled"
        if not stopped and event["text"] != gen.generated:
            # Never expected; the engine's text wins, and the page shows the summary's text.
            gen.parts, gen.shown = [event["text"]], len(event["text"])
        self._finish("stopped" if stopped else "complete", event)
        if event.get("truncated_tokens"):
            self.problem.emit(
                f"The text is longer than the model's context, so its first "
                f"{event['truncated_tokens']:,} tokens were left out of what the model read. "
                "Choose a longer context length to let it see more.", "warning", "")

    @Slot(dict)
    def _on_error(self, event: dict) -> None:
        gen = self.generation
        if event["id"] is not None and event["id"] == self._load_id:
            self._load_id = None
            self.loaded = None  # the host unloads before loading
            if gen is not None and gen.request_id is None:
                self._finish("error", error=event["message"])
            self._set_state("off")
        elif gen is not None and event["id"] == gen.request_id:
            self._finish("error", error=event["message"])
        self.problem.emit(event["message"], "error", event.get("detail", ""))

    @Slot(str)
    def _on_crashed(self, message: str) -> None:
        self._load_id = None
        self.loaded = None
        self._set_state("crashed")
        if self.generation is not None:
            self._finish("interrupted", error=message)
        self.engine_crashed.emit(message)
