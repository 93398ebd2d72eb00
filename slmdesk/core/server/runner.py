"""One engine process serving the server's requests one at a time, from a bounded queue.

The engine generates one reply at a time, so requests wait their turn in arrival order. The
wait is bounded (``max_waiting``): beyond it :meth:`EngineRunner.submit` raises
:class:`QueueFull` and the server answers 503 with ``Retry-After``. A request in progress is
never cancelled by another one (llama-cpp-python's own server does that by default); only
:meth:`EngineRunner.cancel`, called when the request's own client goes away, stops it. If the
engine process dies, the request it was serving gets a clear error and the next request starts
a new engine.

It drives the same :class:`~slmdesk.core.engine.client.EngineClient` as ``slmdesk chat``: the
same host process, chat formats and adapters as the Chat page.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from slmdesk.core.engine.client import EngineClient, EngineCrashed, EngineError
from slmdesk.core.engine.protocol import ChatParams
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.processes import ENGINE_MODULE

#: Engine errors caused by the request itself (answered 400), not by the server.
CLIENT_ERROR_CODES = frozenset({"context_full", "empty", "chat_format"})


class QueueFull(SlmdeskError):
    """Too many requests are waiting; ``retry_after`` is a guess in whole seconds."""

    def __init__(self, waiting: int, retry_after: int) -> None:
        super().__init__(f"The server is busy: {waiting} requests are already waiting for the "
                         f"model. Try again in about {retry_after} s.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class EngineTarget:
    """What the engine must have loaded: a base model, its context, chat format and adapters."""

    model_path: str
    n_ctx: int
    chat_format: str | None = None
    adapters: tuple[tuple[str, float], ...] = ()


@dataclass
class Job:
    """One generation: ``deliver`` gets each event (``token``, then ``done`` or ``error``) on
    the runner's thread; an ``error`` event carries the HTTP ``status`` to answer with."""

    kind: Literal["chat", "complete"]
    target: EngineTarget
    payload: list[dict[str, str]] | str
    params: ChatParams
    deliver: Callable[[dict[str, Any]], None]
    cancelled: threading.Event = field(default_factory=threading.Event)


class EngineRunner:
    """Owns the engine process and the queue in front of it (thread-safe).

    Args:
        max_waiting: how many requests may wait behind the one being served.
        log_path: the engine's stderr goes here.
        module: the engine module (tests pass a stand-in only to crash it on purpose).
        start_engine: start the engine process at once rather than with the first request.
    """

    def __init__(self, *, max_waiting: int = 8, log_path: str | os.PathLike[str] | None = None,
                 module: str = ENGINE_MODULE, start_engine: bool = True) -> None:
        self.max_waiting = max_waiting
        self._log_path = log_path
        self._module = module
        self._jobs: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._running: Job | None = None
        self._client: EngineClient | None = None
        self._loaded: EngineTarget | None = None
        self._closing = False
        self._durations: collections.deque[float] = collections.deque(maxlen=20)
        self._start_engine = start_engine
        self._thread = threading.Thread(target=self._serve, name="server-engine", daemon=True)
        self._thread.start()

    # --- what the routes call (event-loop thread) -------------------------------------------------

    def submit(self, job: Job) -> None:
        """Queue ``job``; raises :class:`QueueFull` when ``max_waiting`` are already waiting."""
        with self._cond:
            if self._closing:
                raise SlmdeskError("The server is stopping.")
            # A job in the deque with the engine idle is about to run: it waits for nothing.
            busy = self._running is not None or bool(self._jobs)
            if busy and len(self._jobs) >= self.max_waiting:
                raise QueueFull(len(self._jobs), self._retry_after())
            self._jobs.append(job)
            self._cond.notify()

    def cancel(self, job: Job) -> None:
        """Stop ``job`` (its client went away): dropped if waiting, stopped if generating."""
        job.cancelled.set()
        with self._cond:
            if job in self._jobs:
                self._jobs.remove(job)
            elif self._running is job and self._client is not None:
                try:
                    self._client.cancel()
                except (EngineError, EngineCrashed):
                    pass  # it ended anyway

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._jobs)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._running is not None

    @property
    def engine_pid(self) -> int | None:
        client = self._client
        return client.pid if client is not None and client.alive else None

    def close(self) -> None:
        """Stop serving: waiting jobs are dropped, the one running is cancelled, the engine ends."""
        with self._cond:
            self._closing = True
            self._jobs.clear()
            if self._running is not None:
                self._running.cancelled.set()
                if self._client is not None:
                    try:
                        self._client.cancel()
                    except (EngineError, EngineCrashed):
                        pass
            self._cond.notify_all()
        self._thread.join(timeout=30)
        self._drop_client()

    def _retry_after(self) -> int:
        typical = sorted(self._durations)[len(self._durations) // 2] if self._durations else 2.0
        return max(1, math.ceil(typical * (len(self._jobs) + 1)))

    # --- the runner's thread -------------------------------------------------------------------

    def _serve(self) -> None:
        if self._start_engine:  # ahead of the first request, which then waits less
            try:
                self._client = EngineClient(log_path=self._log_path, module=self._module)
            except SlmdeskError:
                self._client = None  # the first request tries again and reports why
        while True:
            with self._cond:
                while not self._jobs and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                job = self._jobs.popleft()
                self._running = job
            started = time.perf_counter()
            try:
                if not job.cancelled.is_set():
                    self._run(job)
            except EngineCrashed as exc:
                self._drop_client()
                job.deliver({"type": "error", "status": 500, "code": "engine_crashed",
                             "message": f"{exc.message} The next request starts it again.",
                             "detail": exc.detail})
            except EngineError as exc:
                status = 400 if exc.code in CLIENT_ERROR_CODES else 500
                job.deliver({"type": "error", "status": status, "code": exc.code,
                             "message": exc.message, "detail": exc.detail})
            except Exception as exc:  # never let one request end the runner
                self._drop_client()
                job.deliver({"type": "error", "status": 500, "code": "internal",
                             "message": f"The engine could not serve the request: {exc}",
                             "detail": repr(exc)})
            finally:
                self._durations.append(time.perf_counter() - started)
                with self._cond:
                    self._running = None

    def _run(self, job: Job) -> None:
        client = self._ready_for(job.target)
        if job.kind == "chat":
            assert isinstance(job.payload, list)
            events = client.chat(job.payload, job.params)
        else:
            assert isinstance(job.payload, str)
            events = client.complete(job.payload, job.params)
        try:
            for event in events:
                if job.cancelled.is_set():
                    break  # leaving the stream cancels the reply and waits for its end
                job.deliver(event)
        finally:
            events.close()  # type: ignore[attr-defined]

    def _ready_for(self, target: EngineTarget) -> EngineClient:
        """The engine with ``target`` loaded: started if needed, adapters swapped without a
        reload when only they differ."""
        client = self._client
        if client is None or not client.alive:
            self._drop_client()
            client = self._client = EngineClient(log_path=self._log_path, module=self._module)
        loaded = self._loaded
        if loaded is not None and (loaded.model_path, loaded.n_ctx, loaded.chat_format) == (
                target.model_path, target.n_ctx, target.chat_format):
            if loaded.adapters != target.adapters:
                self._loaded = None
                client.set_adapters(target.adapters)
                self._loaded = target
            return client
        self._loaded = None
        client.load(target.model_path, adapters=target.adapters, n_ctx=target.n_ctx,
                    chat_format=target.chat_format)
        self._loaded = target
        return client

    def _drop_client(self) -> None:
        client, self._client, self._loaded = self._client, None, None
        if client is not None:
            client.close(timeout=5)
