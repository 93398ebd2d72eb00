"""The engine process seen from the GUI: a QProcess that speaks the JSON-lines protocol.

Shaped like qutebrowser's ``guiprocess.GUIProcess``: one class owns the child process and turns
everything that happens to it into Qt signals, delivered on the GUI thread by Qt's own event
loop (no reader threads, no polling). Requests are written to the host's stdin with
:func:`slmdesk.core.engine.protocol.encode`; its stdout is read as it arrives, cut into whole
lines (a line may come in several pieces) and decoded into events.

The engine's stderr (llama.cpp's chatter, Python tracebacks) is appended to ``engine.log`` in
the app's log folder, and its last lines are kept so that a crash can be explained to the user.
This module never imports llama_cpp: the model lives only in the child process.
"""

from __future__ import annotations

import collections
import itertools
import os
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, Signal, Slot

from slmdesk.core.engine import protocol as p
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.processes import (
    ENGINE_MODULE,
    Child,
    ChildExit,
    child_launch,
    describe_exit,
)
from slmdesk.ui.processes.launch import qt_crash_signal, start_child
from slmdesk.ui.processes.line_buffer import LineBuffer

LOG_NAME = "engine.log"
STDERR_LINES_KEPT = 40


class EngineNotRunning(SlmdeskError):
    """A request was made while no engine process is running (never started, or it died)."""


class EngineProcess(QObject):
    """One engine child process and the requests sent to it.

    Requests written before the engine has said ``ready`` are held and sent once it has, so a
    caller may ``start()`` and ``load()`` at once. Every event is emitted as a dict as decoded
    by the protocol module. After :meth:`stop` nothing is reported as a crash; any other end of
    the process is.
    """

    #: The engine is up and reading requests (the ``ready`` event).
    ready = Signal(dict)
    #: A model was loaded (the ``loaded`` event: chat_format, chat_format_description, n_ctx...).
    loaded = Signal(dict)
    unloaded = Signal(dict)
    adapters_set = Signal(dict)
    #: One piece of a reply: request id, text.
    token = Signal(str, str)
    #: A reply ended (the ``done`` event, with finish_reason and timings).
    done = Signal(dict)
    #: A request failed (the ``error`` event: message for the user, detail, code).
    error = Signal(dict)
    #: The process ended without being asked to: a message with the exit code and last stderr.
    #: :attr:`last_exit` says more (the signal, whether a restart can help).
    crashed = Signal(str)
    #: The process ended after :meth:`stop`.
    stopped = Signal()

    def __init__(self, log_dir: str | os.PathLike[str] | None = None,
                 parent: QObject | None = None, *, module: str = ENGINE_MODULE) -> None:
        super().__init__(parent)
        self.log_path = Path(log_dir) / LOG_NAME if log_dir is not None else None
        #: The module run as the engine host (tests run stand-ins that crash on purpose).
        self.module = module
        #: How the process last ended unexpectedly (None before any crash).
        self.last_exit: ChildExit | None = None
        self._process: QProcess | None = None
        self._stdout_lines = LineBuffer()
        self._stderr_lines = LineBuffer()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._log = None
        self._pending: list[bytes] = []
        self._ids = itertools.count(1)
        self._stopping = False
        self.is_ready = False
        self.ready_info: dict[str, Any] = {}
        self.current_chat: str | None = None

    # --- process life ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True from start() until the process has ended."""
        return (self._process is not None
                and self._process.state() != QProcess.ProcessState.NotRunning)

    @property
    def pid(self) -> int | None:
        if not self.running:
            return None
        return int(self._process.processId()) or None

    def start(self) -> None:
        """Start the host process; ``ready`` (or ``crashed``) follows asynchronously."""
        if self.running:
            return
        self._cleanup_process()
        self._stdout_lines, self._stderr_lines = LineBuffer(), LineBuffer()
        self._stderr_tail.clear()
        self._pending.clear()
        self._stopping = False
        self.is_ready = False
        self.ready_info = {}
        self.current_chat = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")
            self._log.write(f"--- engine started {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n"
                            .encode())
            self._log.flush()
        process = QProcess(self)
        process.readyReadStandardOutput.connect(self._on_stdout)
        process.readyReadStandardError.connect(self._on_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        start_child(process, child_launch(self.module))

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the engine to exit and wait for it; kill it if it takes longer than ``timeout``.

        Blocking is deliberate: this runs when the window closes, and no child process may
        outlive the application. The host stops a reply in progress before it exits.
        """
        process = self._process
        if process is None or process.state() == QProcess.ProcessState.NotRunning:
            self._close_log()
            return
        self._stopping = True
        if process.state() == QProcess.ProcessState.Running:
            process.write(p.encode(p.ShutdownRequest(id=self._new_id())))
            process.closeWriteChannel()
        if not process.waitForFinished(int(timeout * 1000)):
            process.kill()
            process.waitForFinished(5000)
        self._close_log()

    def kill(self) -> None:
        """End the process at once (no shutdown request); reported as ``stopped``."""
        if self.running:
            self._stopping = True
            self._process.kill()
            self._process.waitForFinished(5000)
        self._close_log()

    def stderr_tail(self) -> str:
        """The last lines the engine wrote to stderr."""
        return "\n".join(self._stderr_tail)

    # --- requests --------------------------------------------------------------------------------

    def load(self, model_path: str | os.PathLike[str], adapters: list[dict] | None = None,
             n_ctx: int = 4096, n_threads: int | None = None,
             chat_format: str | None = None) -> str:
        """Load a model, replacing any loaded one; ``loaded`` or ``error`` answers. Returns the id.

        ``adapters`` are dicts with ``path`` and optional ``scale``.
        """
        req_id = self._new_id()
        self._send(p.LoadRequest(id=req_id, model_path=str(model_path),
                                 adapters=_specs(adapters), n_ctx=int(n_ctx),
                                 n_threads=n_threads, chat_format=chat_format))
        return req_id

    def unload(self) -> str:
        req_id = self._new_id()
        self._send(p.UnloadRequest(id=req_id))
        return req_id

    def set_adapters(self, adapters: list[dict]) -> str:
        """Replace the loaded model's adapters without reloading it; ``adapters_set`` answers."""
        req_id = self._new_id()
        self._send(p.SetAdaptersRequest(id=req_id, adapters=_specs(adapters)))
        return req_id

    def chat(self, messages: list[dict[str, str]], params: dict[str, Any] | None = None) -> str:
        """Ask for a reply: ``token`` signals, then ``done`` or ``error``. Returns the id."""
        req_id = self._new_id()
        self._send(p.ChatRequest(
            id=req_id, messages=[p.ChatMessage(m["role"], m["content"]) for m in messages],
            params=_params(params)))
        self.current_chat = req_id
        return req_id

    def complete(self, prompt: str, params: dict[str, Any] | None = None) -> str:
        """Continue raw text (a notebook): ``token`` signals, then ``done`` or ``error``.

        Answered like :meth:`chat`, and stopped by :meth:`cancel` the same way. Returns the id.
        """
        req_id = self._new_id()
        self._send(p.CompleteRequest(id=req_id, prompt=prompt, params=_params(params)))
        self.current_chat = req_id
        return req_id

    def cancel(self, req_id: str | None = None) -> None:
        """Stop a reply (default: the latest); it ends with a ``done`` whose reason is cancelled."""
        req_id = req_id or self.current_chat
        if req_id is not None and self.running:
            self._send(p.CancelRequest(id=req_id))

    def _new_id(self) -> str:
        return f"g{next(self._ids)}"

    def _send(self, msg: Any) -> None:
        if not self.running or self._stopping:
            raise EngineNotRunning("The language model engine is not running.")
        line = p.encode(msg)
        if self.is_ready:
            self._process.write(line)
        else:
            self._pending.append(line)

    # --- process output --------------------------------------------------------------------------

    @Slot()
    def _on_stdout(self) -> None:
        if self._process is not None:
            self.feed_stdout(bytes(self._process.readAllStandardOutput().data()))

    def feed_stdout(self, data: bytes) -> None:
        """Take a chunk of the engine's stdout; emit one signal per complete line."""
        for line in self._stdout_lines.feed(data):
            try:
                event = p.decode(line)
            except p.ProtocolError as exc:
                self._note_stderr(f"[unreadable engine output: {exc}] {line[:200]!r}")
                continue
            self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "ready":
            self.is_ready = True
            self.ready_info = event
            pending, self._pending = self._pending, []
            for line in pending:
                self._process.write(line)
            self.ready.emit(event)
        elif kind == "token":
            self.token.emit(event["id"], event["text"])
        elif kind == "done":
            if event["id"] == self.current_chat:
                self.current_chat = None
            self.done.emit(event)
        elif kind == "error":
            if event["id"] is not None and event["id"] == self.current_chat:
                self.current_chat = None
            self.error.emit(event)
        elif kind == "loaded":
            self.loaded.emit(event)
        elif kind == "unloaded":
            self.unloaded.emit(event)
        elif kind == "adapters_set":
            self.adapters_set.emit(event)
        else:  # a request echoed back would be a bug in the host; keep it for the log
            self._note_stderr(f"[unexpected engine message] {event!r}")

    @Slot()
    def _on_stderr(self) -> None:
        if self._process is None:
            return
        data = bytes(self._process.readAllStandardError().data())
        if self._log is not None:
            self._log.write(data)
            self._log.flush()
        self._keep_stderr_lines(self._stderr_lines.feed(data))

    def _keep_stderr_lines(self, lines: list[bytes]) -> None:
        for line in lines:
            self._stderr_tail.append(line.decode("utf-8", errors="replace").rstrip())

    def _note_stderr(self, text: str) -> None:
        self._stderr_tail.append(text)
        if self._log is not None:
            self._log.write(text.encode("utf-8", errors="replace") + b"\n")
            self._log.flush()

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        self._on_stdout()  # events written just before the end still count
        self._on_stderr()
        self._keep_stderr_lines(self._stderr_lines.flush())
        self.is_ready = False
        self.current_chat = None
        self._close_log()
        if self._stopping:
            self.stopped.emit()
            return
        signum = qt_crash_signal(exit_code, status)
        self.last_exit = describe_exit(
            Child.ENGINE, None if signum else exit_code, signal_number=signum,
            cpu_backend=self.ready_info.get("cpu_backend") or None)
        self.crashed.emit(self._crash_message(self.last_exit.message))

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._close_log()
            self.crashed.emit(self._crash_message(
                f"The language model engine could not be started "
                f"({self._process.errorString() if self._process else error})."))

    def _crash_message(self, headline: str) -> str:
        tail = self.stderr_tail()
        return headline + (f"\nLast lines from the engine:\n{tail}" if tail else "")

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _cleanup_process(self) -> None:
        if self._process is not None:
            self._process.deleteLater()
            self._process = None


def _params(params: dict[str, Any] | None) -> p.ChatParams:
    """The request's sampling settings; keys that are not sampling settings are ignored."""
    return p.ChatParams(**{k: v for k, v in (params or {}).items()
                           if k in p.ChatParams.__dataclass_fields__})


def _specs(adapters: list[dict] | None) -> list[p.AdapterSpec]:
    return [p.AdapterSpec(str(a["path"]), float(a.get("scale", 1.0))) for a in adapters or []]
