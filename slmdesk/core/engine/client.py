"""A plain-Python client for the engine process (used by the command line and the tests).

It starts the engine host through the one launcher (:mod:`slmdesk.core.processes`), writes requests to its stdin and reads events
from its stdout on a background thread. Methods block until their answer arrives; ``chat``
and ``complete`` (raw text continued) return an iterator of events. If the engine dies (a
crash in llama.cpp, out of memory, killed) every waiting call raises :class:`EngineCrashed`
with the exit code and the last lines the engine wrote to stderr, and the caller can simply
start a new client.

The GUI does not use this class: it talks the same protocol through a QProcess wrapper, so that
events arrive as Qt signals on the GUI thread.

Example::

    with EngineClient() as engine:
        engine.load(model_path)
        for event in engine.chat([{"role": "user", "content": "Hello"}]):
            if event["type"] == "token":
                print(event["text"], end="", flush=True)
"""

from __future__ import annotations

import collections
import itertools
import os
import queue
import subprocess
import threading
from typing import Any, Iterable, Iterator, Mapping

from slmdesk.core.engine import protocol as p
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.processes import (
    ENGINE_MODULE,
    Child,
    ChildExit,
    child_launch,
    close_quietly,
    describe_exit,
    pump_lines,
)

_EOF = object()


class EngineError(SlmdeskError):
    """The engine refused or failed a request; ``str(error)`` is meant for the user."""

    def __init__(self, message: str, detail: str = "", code: str = "error") -> None:
        super().__init__(message, detail)
        self.code = code


class EngineCrashed(SlmdeskError):
    """The engine process ended unexpectedly; the message says why in plain words, the detail
    holds the engine's last lines."""

    def __init__(self, returncode: int | None, stderr_tail: str, cpu_backend: str | None = None
                 ) -> None:
        self.exit: ChildExit = describe_exit(Child.ENGINE, returncode, cpu_backend=cpu_backend)
        super().__init__(self.exit.message,
                         f"Last lines from the engine:\n{stderr_tail}" if stderr_tail else "")
        self.returncode, self.stderr_tail = returncode, stderr_tail


class EngineClient:
    """One engine process and the requests sent to it.

    Args:
        log_path: if given, everything the engine writes to stderr is appended to this file.
        start_timeout: seconds to wait for the engine's ``ready`` event.
        module: the module run as the engine (tests start stand-ins that crash on purpose).
    """

    def __init__(
        self,
        *,
        log_path: str | os.PathLike[str] | None = None,
        start_timeout: float = 60.0,
        module: str = ENGINE_MODULE,
    ) -> None:
        launch = child_launch(module)
        self._proc = subprocess.Popen(
            launch.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=launch.env,
        )
        self.ready: dict[str, Any] = {}
        self._events: queue.Queue[Any] = queue.Queue()
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._log = open(log_path, "ab") if log_path else None
        self._crash: EngineCrashed | None = None
        self._current_chat: str | None = None
        self._closed = False
        self._threads = [
            threading.Thread(target=self._read_events, name="engine-events", daemon=True),
            threading.Thread(target=self._drain_stderr, name="engine-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            self.ready = self._wait(None, ("ready",), start_timeout)
        except BaseException:
            self.close(timeout=1)
            raise

    # --- process plumbing ----------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def _read_events(self) -> None:
        assert self._proc.stdout is not None
        pump_lines(self._proc.stdout, p.decode, self._events.put,
                   lambda line: self._stderr_tail.append(f"[unreadable engine output] {line[:200]!r}"),
                   p.ProtocolError)
        self._events.put(_EOF)

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr_tail.append(line.decode("utf-8", errors="replace").rstrip())
            if self._log is not None:
                self._log.write(line)
                self._log.flush()

    def _crashed(self) -> EngineCrashed:
        if self._crash is None:
            try:
                code = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            self._threads[1].join(timeout=2)  # let the last stderr lines arrive
            self._crash = EngineCrashed(code, "\n".join(self._stderr_tail),
                                        self.ready.get("cpu_backend") or None)
        return self._crash

    def _send(self, msg: Any) -> None:
        if self._crash is not None:
            raise self._crash
        if self._closed:
            raise EngineError("The engine has been closed.", code="closed")
        line = p.encode(msg)
        assert self._proc.stdin is not None
        with self._write_lock:
            try:
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise self._crashed() from None

    def _next_event(self, timeout: float | None) -> dict[str, Any]:
        if self._crash is not None:
            raise self._crash
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the engine did not answer within {timeout} s") from None
        if event is _EOF:
            self._events.put(_EOF)  # later callers must see the end too
            raise self._crashed()
        decoded: dict[str, Any] = event  # anything but _EOF is a decoded event
        return decoded

    def _wait(self, req_id: str | None, types: tuple[str, ...], timeout: float | None) -> dict[str, Any]:
        """The next event of ``types`` for ``req_id``; an error event for it raises."""
        while True:
            event = self._next_event(timeout)
            if event["type"] == "error" and event["id"] in (req_id, None):
                raise EngineError(event["message"], event["detail"], event["code"])
            if event["id"] == req_id and event["type"] in types:
                return event
            # Anything else belongs to a request nobody waits for any more (an abandoned chat).

    def _new_id(self) -> str:
        return f"r{next(self._ids)}"

    # --- requests ------------------------------------------------------------------------------

    def load(
        self,
        model_path: str | os.PathLike[str],
        *,
        adapters: Iterable[tuple[str | os.PathLike[str], float] | Mapping[str, Any]] = (),
        n_ctx: int = 4096,
        n_threads: int | None = None,
        chat_format: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Load a model (replacing any loaded one); returns the ``loaded`` event.

        Raises:
            EngineError: the model, an adapter or its chat format could not be used.
        """
        req_id = self._new_id()
        self._send(p.LoadRequest(
            id=req_id, model_path=str(model_path), adapters=_adapter_specs(adapters),
            n_ctx=n_ctx, n_threads=n_threads, chat_format=chat_format,
        ))
        return self._wait(req_id, ("loaded",), timeout)

    def unload(self, timeout: float | None = 60) -> None:
        req_id = self._new_id()
        self._send(p.UnloadRequest(id=req_id))
        self._wait(req_id, ("unloaded",), timeout)

    def set_adapters(
        self,
        adapters: Iterable[tuple[str | os.PathLike[str], float] | Mapping[str, Any]],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Replace the loaded model's adapters and scales without reloading the base model."""
        req_id = self._new_id()
        self._send(p.SetAdaptersRequest(id=req_id, adapters=_adapter_specs(adapters)))
        return self._wait(req_id, ("adapters_set",), timeout)

    def chat(
        self,
        messages: Iterable[Mapping[str, Any] | p.ChatMessage],
        params: p.ChatParams | Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Send a chat request now; iterate the returned events: ``token``\\* then ``done``.

        Leaving the loop early cancels the reply. ``timeout`` bounds the wait for each event.

        Raises (while iterating):
            EngineError: the request failed (no model, message too long, ...).
            EngineCrashed: the engine died.
        """
        msgs = [
            p.ChatMessage(**dict(m)) if not isinstance(m, p.ChatMessage) else m for m in messages
        ]
        req_id = self._new_id()
        self._current_chat = req_id
        self._send(p.ChatRequest(id=req_id, messages=msgs, params=_params(params)))
        return self._stream(req_id, timeout)

    def complete(
        self,
        prompt: str,
        params: p.ChatParams | Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Continue ``prompt`` as raw text (no chat format): ``token``\\* then ``done``.

        Works like :meth:`chat`: leaving the loop early or :meth:`cancel` stops it. A text
        longer than the context keeps its end; ``done["truncated_tokens"]`` says how much of
        its beginning was left out.
        """
        req_id = self._new_id()
        self._current_chat = req_id
        self._send(p.CompleteRequest(id=req_id, prompt=prompt, params=_params(params)))
        return self._stream(req_id, timeout)

    def _stream(self, req_id: str, timeout: float | None) -> Iterator[dict[str, Any]]:
        finished = False
        try:
            while True:
                event = self._wait(req_id, ("token", "done"), timeout)
                if event["type"] == "done":
                    finished = True
                    yield event
                    return
                yield event
        except (EngineError, EngineCrashed):
            finished = True  # the request already ended on the engine's side
            raise
        finally:
            if self._current_chat == req_id:
                self._current_chat = None
            if not finished and self._crash is None and not self._closed:
                self._send(p.CancelRequest(id=req_id))
                try:
                    self._wait(req_id, ("done",), 30)
                except (EngineError, TimeoutError):
                    pass

    def cancel(self) -> None:
        """Stop the reply in progress (safe from any thread); its ``done`` says 'cancelled'."""
        req_id = self._current_chat
        if req_id is not None:
            self._send(p.CancelRequest(id=req_id))

    def close(self, timeout: float = 10.0) -> int | None:
        """Ask the engine to exit, kill it if it does not within ``timeout``; the exit code."""
        if not self._closed:
            self._closed = True
            if self._proc.poll() is None:
                assert self._proc.stdin is not None
                try:
                    with self._write_lock:
                        self._proc.stdin.write(p.encode(p.ShutdownRequest(id=self._new_id())))
                        self._proc.stdin.flush()
                        self._proc.stdin.close()
                except (BrokenPipeError, OSError, ValueError):
                    pass
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            for thread in self._threads:
                thread.join(timeout=2)
            close_quietly(self._proc.stdin, self._proc.stdout, self._proc.stderr)
            if self._log is not None:
                self._log.close()
        return self._proc.returncode

    def stderr_tail(self) -> str:
        """The last lines the engine wrote to stderr (for error reports)."""
        return "\n".join(self._stderr_tail)

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _params(params: p.ChatParams | Mapping[str, Any] | None) -> p.ChatParams:
    if params is None:
        return p.ChatParams()
    if isinstance(params, p.ChatParams):
        return params
    return p.ChatParams(**dict(params))


def _adapter_specs(adapters: Iterable[Any]) -> list[p.AdapterSpec]:
    specs = []
    for a in adapters:
        if isinstance(a, p.AdapterSpec):
            specs.append(a)
        elif isinstance(a, Mapping):
            specs.append(p.AdapterSpec(str(a["path"]), float(a.get("scale", 1.0))))
        else:
            path, scale = a
            specs.append(p.AdapterSpec(str(path), float(scale)))
    return specs


__all__ = ["EngineClient", "EngineCrashed", "EngineError"]
