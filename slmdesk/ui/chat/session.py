"""Between the chat page, the conversation store and the engine process: one reply at a time.

:class:`ChatSession` decides when the engine must (re)load a model, refuses a model that will
not fit before loading anything, sends the conversation, collects the streamed tokens and saves
the growing reply (at least every half second, so a crash loses little), and ends the reply as
complete, stopped, failed or interrupted. It holds no widgets: the chat view calls it and listens
to its signals, and the tests can drive it the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from slmdesk.core.conversations.store import (
    Conversation,
    ConversationStore,
    Message,
    RecordNotFound,
)
from slmdesk.core.documents.citations import reply_sources
from slmdesk.core.documents.embedding import ChildEmbedder, EmbedderError, open_embedder
from slmdesk.core.documents.grounding import ground_reply
from slmdesk.core.engine.sampling import chat_defaults, chat_params, effective_settings
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.library.memory import Verdict, estimate_memory
from slmdesk.core.library.store import LibraryError, ModelLibrary
from slmdesk.core.settings import get_setting
from slmdesk.paths import AppPaths
from slmdesk.ui.processes.engine import EngineNotRunning, EngineProcess
from slmdesk.ui.tasks import BackgroundTask

#: How often the growing reply is shown again, and how often it is saved.
RENDER_INTERVAL_MS = 50
SAVE_INTERVAL_S = 0.5
#: After Stop, how long to wait for the engine's own "done" before ending the reply anyway.
STOP_GRACE_MS = 350


class ChatRefused(SlmdeskError):
    """A reply cannot be started; the message says why and what to do."""


@dataclass(frozen=True)
class LoadSpec:
    """What the engine must have loaded for a conversation."""

    model_id: int
    model_name: str
    model_path: str
    n_ctx: int
    adapters: tuple[tuple[str, float], ...] = ()
    adapter_name: str | None = None

    def same_base(self, other: "LoadSpec | None") -> bool:
        return other is not None and (self.model_path, self.n_ctx) == (other.model_path,
                                                                       other.n_ctx)


@dataclass
class ActiveReply:
    conversation_id: int
    message_id: int
    spec: LoadSpec
    messages: list[dict[str, str]]
    params: dict
    request_id: str | None = None
    parts: list[str] = field(default_factory=list)
    dirty: bool = False
    saved_at: float = 0.0
    stopping: bool = False
    #: The passages the reply was given (saved with it as its sources), when documents are attached.
    documents: dict | None = None
    #: The passages are still being looked up (on a pool thread); the chat waits for them.
    grounding_pending: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ChatSession(QObject):
    """Runs replies for the chat page on one :class:`EngineProcess`."""

    #: "off", "loading", "ready", "generating" or "crashed".
    state_changed = Signal(str)
    #: The engine's ``loaded`` event for the model now in use.
    model_loaded = Signal(dict)
    #: A reply's text so far (message id, text); at most every RENDER_INTERVAL_MS.
    reply_changed = Signal(int, str)
    #: A reply ended and is saved (message id); read it back from the store.
    reply_finished = Signal(int)
    #: Something to tell the user: text, kind ("error", "warning", "info"), details.
    problem = Signal(str, str, str)
    #: The engine process died; the text says how.
    engine_crashed = Signal(str)

    def __init__(self, store: ConversationStore, library: ModelLibrary, paths: AppPaths,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.library = library
        self.paths = paths
        self._embedder: ChildEmbedder | None = None
        self._grounding_task: BackgroundTask | None = None
        self.engine = EngineProcess(paths.log_dir, self)
        self.engine.loaded.connect(self._on_loaded)
        self.engine.adapters_set.connect(self._on_adapters_set)
        self.engine.token.connect(self._on_token)
        self.engine.done.connect(self._on_done)
        self.engine.error.connect(self._on_error)
        self.engine.crashed.connect(self._on_crashed)
        #: Seam for tests and the memory check: bytes available, or None to measure.
        self.available_memory: Callable[[], int | None] = lambda: None
        self.state = "off"
        self.loaded: LoadSpec | None = None
        self.loaded_info: dict = {}
        self.reply: ActiveReply | None = None
        self._wanted: LoadSpec | None = None
        self._load_id: str | None = None
        #: A model whose engine crashed in a way a restart repeats (SIGILL), and the words for it.
        self._doomed: tuple[LoadSpec | None, str] | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(RENDER_INTERVAL_MS)
        self._tick.timeout.connect(self._flush)
        self._stop_timer = QTimer(self)
        self._stop_timer.setSingleShot(True)
        self._stop_timer.setInterval(STOP_GRACE_MS)
        self._stop_timer.timeout.connect(self._end_stopped_reply)

    # --- what the page asks for ------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.reply is not None

    def spec_for(self, conv: Conversation) -> LoadSpec:
        """What to load for ``conv``, or :class:`ChatRefused` if it cannot or must not be loaded."""
        if conv.model_id is None:
            raise ChatRefused("Choose a model to chat with (the menu at the top).")
        try:
            entry = self.library.get(conv.model_id)
        except LibraryError:
            raise ChatRefused("The model of this conversation is no longer in the library. "
                              "Choose another one at the top.") from None
        if entry.is_missing:
            raise ChatRefused(f"The model file {entry.path} is missing. It may be on a drive "
                              "that is not connected, or it was moved; import it again.")
        settings = effective_settings(conv.settings, chat_defaults(self.library.conn))
        n_ctx = int(settings["context_length"])
        if entry.info.context_length:
            n_ctx = min(n_ctx, entry.info.context_length)
        estimate = estimate_memory(entry.info, n_ctx, available_bytes=self.available_memory())
        if estimate.verdict == Verdict.WILL_NOT_FIT:
            raise ChatRefused(
                f"{entry.display_name} will not fit in this computer's memory at a context of "
                f"{n_ctx:,} tokens, so it was not loaded. {estimate.explain()} Choose a shorter "
                "context length in the chat settings, close other programs, or use a smaller "
                "model.")
        adapters: tuple[tuple[str, float], ...] = ()
        adapter_name = None
        if conv.adapter and conv.adapter.get("id") is not None:
            try:
                adapter = self.library.get(int(conv.adapter["id"]))
            except LibraryError:
                raise ChatRefused("The adapter of this conversation is no longer in the "
                                  "library. Choose the model alone or another adapter.") from None
            if adapter.is_missing:
                raise ChatRefused(f"The adapter file {adapter.path} is missing.")
            adapters = ((str(adapter.path), float(conv.adapter.get("scale", 1.0))),)
            adapter_name = adapter.display_name
        return LoadSpec(entry.id, entry.display_name, str(entry.path), n_ctx, adapters,
                        adapter_name)

    def ask(self, conversation_id: int, text: str) -> Message:
        """Add the user's message and start the reply to it; returns the (streaming) reply."""
        conv, spec = self._prepare(conversation_id)
        question = self.store.add_message(conv.id, "user", text)
        reply = self.store.begin_reply(conv.id, parent_id=question.id)
        self._run(conv, reply, spec)
        return reply

    def regenerate(self, assistant_id: int) -> Message:
        """Write another reply beside ``assistant_id``; the old one stays as an alternative."""
        conv, spec = self._prepare(self.store.message(assistant_id).conversation_id)
        reply = self.store.regenerate(assistant_id)
        self._run(conv, reply, spec)
        return reply

    def edit(self, user_id: int, text: str) -> Message:
        """Ask again with new words: a new branch beside the old question, then its reply."""
        conv, spec = self._prepare(self.store.message(user_id).conversation_id)
        question = self.store.edit_user_message(user_id, text)
        reply = self.store.begin_reply(conv.id, parent_id=question.id)
        self._run(conv, reply, spec)
        return reply

    def preload(self, conversation_id: int) -> None:
        """Load the conversation's model ahead of the first message (when the user picks one)."""
        if self.reply is not None:
            return
        _, spec = self._prepare(conversation_id)
        if spec != self.loaded or not self.engine.running:
            self._ensure_loaded(spec)

    def stop(self) -> None:
        """Stop the reply being written; what was written is kept, marked stopped."""
        reply = self.reply
        if reply is None or reply.stopping:
            return
        reply.stopping = True
        if reply.request_id is None:  # still waiting for the model to load
            self._finish("stopped")
            return
        try:
            self.engine.cancel(reply.request_id)
        except EngineNotRunning:
            pass
        self._stop_timer.start()

    def restart(self) -> None:
        """Start a new engine after a crash, loading the model that was in use.

        Refused (:class:`ChatRefused`) after a crash a restart would repeat (SIGILL).
        """
        spec = self._wanted
        self._refuse_doomed(spec)
        self.loaded, self.loaded_info = None, {}
        if not self.engine.running:
            self.engine.start()
        if spec is not None:
            self._ensure_loaded(spec)
        else:
            self._set_state("off")

    def shutdown(self) -> None:
        """Keep any reply in progress (as stopped) and stop the engine; safe to call twice."""
        if self.reply is not None:
            self._finish("stopped")
        if self._grounding_task is not None:
            self._grounding_task.done.wait(10)
        if self._embedder is not None:
            self._embedder.close()
            self._embedder = None
        self.engine.stop()
        self._set_state("off")

    # --- running a reply -------------------------------------------------------------------------

    def _prepare(self, conversation_id: int) -> tuple[Conversation, LoadSpec]:
        if self.reply is not None:
            raise ChatRefused("A reply is still being written. Stop it first (Escape).")
        conv = self.store.get(conversation_id)
        spec = self.spec_for(conv)
        self._refuse_doomed(spec)
        return conv, spec

    @property
    def restart_helps(self) -> bool:
        """False after a crash that starting the engine again would only repeat."""
        return self._doomed is None

    def _refuse_doomed(self, spec: LoadSpec | None) -> None:
        if self._doomed is not None and self._doomed[0] == spec:
            raise ChatRefused("The language model engine cannot run this model on this "
                              "computer's processor, so it was not started again.",
                              self._doomed[1])

    def _run(self, conv: Conversation, reply: Message, spec: LoadSpec) -> None:
        messages = [{"role": "system", "content": conv.system_prompt.strip()}] \
            if conv.system_prompt.strip() else []
        for msg in self.store.thread(conv.id, reply.parent_id):
            if msg.role in ("user", "assistant") and msg.content.strip() \
                    and msg.status != "error":
                messages.append({"role": msg.role, "content": msg.content})
        settings = effective_settings(conv.settings, chat_defaults(self.library.conn))
        params = chat_params(settings)
        self.reply = ActiveReply(conv.id, reply.id, spec, messages, params, saved_at=time.monotonic())
        self._tick.start()
        if conv.settings.get("documents"):
            self.reply.grounding_pending = True
            self._ground(self.reply, list(conv.settings["documents"]))
        if spec == self.loaded and self.engine.running:
            if not self.reply.grounding_pending:
                self._send_chat()
        else:
            self._ensure_loaded(spec)

    def _ground(self, reply: ActiveReply, collection_ids: list[int]) -> None:
        """Look up the passages for the question on a pool thread (a search, and the question's
        vector from the embedding process); the chat is sent when they are in."""
        embedder, paths, messages = self._embedder, self.paths, list(reply.messages)
        reply_tokens = int(reply.params.get("max_tokens", 512))

        def work(_progress: Callable[[int, int], bool]) -> tuple[int, list[dict], dict, ChildEmbedder | None]:
            used = embedder
            if used is None:  # the first question converts the model on first use (seconds)
                try:
                    used = open_embedder(paths)
                except EmbedderError:
                    used = None
            grounded, documents = ground_reply(paths.database, collection_ids, messages,
                                               context_length=reply.spec.n_ctx, reply_tokens=reply_tokens,
                                               embedder=used)
            return reply.message_id, grounded, documents, used

        task = BackgroundTask(work, "Finding passages")
        task.signals.succeeded.connect(self._grounded)
        task.signals.failed.connect(self._grounding_failed)
        self._grounding_task = task
        task.start()

    @Slot(object)
    def _grounded(self, result: tuple[int, list[dict], dict, ChildEmbedder | None]) -> None:
        message_id, messages, documents, embedder = result
        if self._embedder is None:
            self._embedder = embedder  # kept: later questions skip its start
        elif embedder is not None and embedder is not self._embedder:
            embedder.close()
        reply = self.reply
        if reply is None or reply.message_id != message_id or not reply.grounding_pending:
            return  # stopped meanwhile
        reply.messages, reply.documents, reply.grounding_pending = messages, documents, False
        if reply.spec == self.loaded and self.engine.running and self._load_id is None:
            self._send_chat()
        else:
            self._ensure_loaded(reply.spec)

    @Slot(object, str)
    def _grounding_failed(self, error: Exception, detail: str) -> None:
        if self.reply is not None and self.reply.grounding_pending:
            self._finish("error", {"error": getattr(error, "message", str(error))})
            self.problem.emit(getattr(error, "message", str(error)), "error", detail)

    def _ensure_loaded(self, spec: LoadSpec) -> None:
        if self._load_id is not None and spec == self._wanted and self.engine.running:
            return  # already on its way; its "loaded" event sends any waiting chat
        self._wanted = spec
        if not self.engine.running:
            self.engine.start()
        adapters = [{"path": path, "scale": scale} for path, scale in spec.adapters]
        if spec.same_base(self.loaded) and self._load_id is None:
            self._load_id = self.engine.set_adapters(adapters)
        else:
            self._load_id = self.engine.load(
                spec.model_path, adapters, n_ctx=spec.n_ctx,
                n_threads=get_setting(self.library.conn, "engine_threads"),
                chat_format=get_setting(self.library.conn, "chat_format_override"))
        self._set_state("loading")

    def _send_chat(self) -> None:
        reply = self.reply
        assert reply is not None
        reply.request_id = self.engine.chat(reply.messages, reply.params)
        self._set_state("generating")

    def _finish(self, status: str, metadata: dict | None = None, text: str | None = None) -> None:
        reply, self.reply = self.reply, None
        self._tick.stop()
        self._stop_timer.stop()
        if reply is None:
            return
        meta = {"model": reply.spec.model_name, "model_id": reply.spec.model_id,
                "adapter": reply.spec.adapter_name,
                "chat_format": self.loaded_info.get("chat_format"), **(reply.documents or {}),
                **(metadata or {})}
        final_text = reply.text if text is None else text
        if reply.documents and "documents_mode" in reply.documents:  # what the reply cites, honestly
            meta.update(reply_sources(final_text, reply.documents.get("sources") or []))
        try:
            self.store.finish_reply(reply.message_id, final_text, status, meta)
        except RecordNotFound:  # its conversation was deleted while it was written
            reply = None
        if self.state not in ("crashed", "off"):
            self._set_state("ready" if self.loaded else "off")
        if reply is not None:
            self.reply_finished.emit(reply.message_id)

    @Slot()
    def _flush(self) -> None:
        reply = self.reply
        if reply is None or not reply.dirty:
            return
        reply.dirty = False
        text = reply.text
        self.reply_changed.emit(reply.message_id, text)
        if time.monotonic() - reply.saved_at >= SAVE_INTERVAL_S:
            self.store.update_reply(reply.message_id, text)
            reply.saved_at = time.monotonic()

    @Slot()
    def _end_stopped_reply(self) -> None:
        """The engine did not confirm the stop in time (busy reading a long prompt)."""
        if self.reply is not None and self.reply.stopping:
            self._finish("stopped", {"finish_reason": "cancelled"})

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
        self.loaded, self.loaded_info = self._wanted, event
        self.model_loaded.emit(event)
        self._after_load()

    @Slot(dict)
    def _on_adapters_set(self, event: dict) -> None:
        if event["id"] != self._load_id:
            return
        self._load_id = None
        self.loaded = self._wanted
        self.model_loaded.emit(self.loaded_info)
        self._after_load()

    def _after_load(self) -> None:
        reply = self.reply
        if reply is not None and reply.grounding_pending:
            return  # sent when its passages are in (_grounded)
        if reply is not None and reply.request_id is None:
            if reply.spec == self.loaded:
                self._send_chat()
            else:  # the user switched models while this one loaded
                self._ensure_loaded(reply.spec)
        else:
            self._set_state("ready")

    @Slot(str, str)
    def _on_token(self, request_id: str, text: str) -> None:
        reply = self.reply
        if reply is not None and request_id == reply.request_id and not reply.stopping:
            reply.parts.append(text)
            reply.dirty = True

    @Slot(dict)
    def _on_done(self, event: dict) -> None:
        reply = self.reply
        if reply is None or event["id"] != reply.request_id:
            return
        stopped = reply.stopping or event["finish_reason"] == "cancelled"
        metadata = {k: event[k] for k in ("finish_reason", "prompt_tokens", "completion_tokens",
                                          "time_to_first_token", "tokens_per_second",
                                          "truncated_turns", "total_seconds")}
        self._finish("stopped" if stopped else "complete", metadata,
                     None if stopped else event["text"])
        if event["truncated_turns"]:
            n = event["truncated_turns"]
            self.problem.emit(f"The conversation is longer than the model's context, so the oldest "
                f"{n} turn{'s' if n != 1 else ''} were left out of this reply. Start a new "
                "chat, or choose a longer context length in the chat settings.", "warning", "")

    @Slot(dict)
    def _on_error(self, event: dict) -> None:
        reply = self.reply
        if event["id"] is not None and event["id"] == self._load_id:
            self._load_id = None
            self.loaded, self.loaded_info = None, {}  # the host unloads before loading
            if reply is not None and reply.request_id is None:
                self._finish("error", {"error": event["message"]})
            self._set_state("off")
        elif reply is not None and event["id"] == reply.request_id:
            self._finish("error", {"error": event["message"]})
        self.problem.emit(event["message"], "error", event.get("detail", ""))

    @Slot(str)
    def _on_crashed(self, message: str) -> None:
        self._load_id = None
        self.loaded, self.loaded_info = None, {}
        reply, self.reply = self.reply, None
        self._tick.stop()
        self._stop_timer.stop()
        ended = self.engine.last_exit
        if ended is not None and not ended.restart_helps:
            self._doomed = (self._wanted, ended.message)
        self._set_state("crashed")
        if reply is not None:
            self.reply = reply
            self._finish("interrupted", {"error": message})
        self.engine_crashed.emit(message)
