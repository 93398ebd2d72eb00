"""The HTTP routes (Starlette): ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``
and ``/v1/embeddings`` (``embeddings.py``).

Every request passes the Host check, then CORS (only when origins were listed), then the
token (see ``security.py``) before it reaches a route. A generating route parses the request,
picks the model and what the engine loads as Chat does (``catalog.py``), queues a
:class:`~slmdesk.core.server.runner.Job` and waits for its first event before answering, so an
error that comes before the first token (a crash, a prompt too long for the context) is a real
HTTP status rather than a broken stream. While a request waits or streams, a client that goes
away cancels its own generation and nobody else's.

The embedder (all-MiniLM-L6-v2, the documents index's) is listed in ``/v1/models`` with
``"type": "embedding"``; a generating route given its name answers 400 saying so.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from slmdesk.core import db
from slmdesk.core.engine.sampling import chat_defaults
from slmdesk.core.library.store import ModelLibrary
from slmdesk.core.server import openai_api as api
from slmdesk.core.server.catalog import (
    ModelWillNotFit,
    UnknownModel,
    engine_target,
    find_model,
    served_models,
)
from slmdesk.core.server.embeddings import (
    EMBEDDER_NAME,
    EmbeddingService,
    embedder_entry,
    embedder_installed,
    embeddings_route,
)
from slmdesk.core.server.request_log import RequestLog, RequestRecord, now_text
from slmdesk.core.server.runner import EngineRunner, Job, QueueFull
from slmdesk.core.server.security import BearerAuth, HostCheck
from slmdesk.core.server.token import ServerToken
from slmdesk.paths import AppPaths

#: Sent with every stream, so no proxy holds the tokens back.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: nginx's code for "the client closed the request" (nobody reads it: the client is gone).
CLIENT_CLOSED = 499


@dataclass
class ServerState:
    """What the routes share: the engine runner, the token, the log and the library."""

    paths: AppPaths
    token: ServerToken
    runner: EngineRunner
    log: RequestLog
    port: Callable[[], int]
    network: bool = False
    allow_origins: tuple[str, ...] = ()
    max_waiting: int = 8
    #: The embedding process, started by the first embeddings request.
    embeddings: EmbeddingService = field(init=False)

    def __post_init__(self) -> None:
        self._local = threading.local()
        self.embeddings = EmbeddingService(self.paths, self.max_waiting)

    def library(self) -> ModelLibrary:
        """The library on this thread's own connection (SQLite connections stay on one thread)."""
        library: ModelLibrary | None = getattr(self._local, "library", None)
        if library is None:
            library = ModelLibrary(db.connect(self.paths.database), self.paths)
            self._local.library = library
        return library

    def refused(self, status: int, path: str) -> None:
        self.log.add(RequestRecord(now_text(), path, "", status, "refused"))


def build_app(state: ServerState) -> ASGIApp:
    """The whole application, middlewares included."""
    async def models(request: Request) -> Response:
        return await _models(state)

    async def model(request: Request) -> Response:
        return await _model(state, request)

    async def chat(request: Request) -> Response:
        return await _generate(state, request, api.parse_chat)

    async def completions(request: Request) -> Response:
        return await _generate(state, request, api.parse_completion)

    async def embeddings(request: Request) -> Response:
        return await embeddings_route(state, request)

    routes = [
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{name:path}", model, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
    ]
    app: ASGIApp = BearerAuth(Starlette(routes=routes), state.token, on_refused=state.refused)
    if state.allow_origins:
        app = CORSMiddleware(app, allow_origins=list(state.allow_origins),
                             allow_methods=["GET", "POST"],
                             allow_headers=["Authorization", "Content-Type"],
                             allow_credentials=False)
    return HostCheck(app, state.port, network=state.network, on_refused=state.refused)


def _error(status: int, message: str, kind: str, param: str | None = None,
           code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(api.error_body(message, kind, param, code), status_code=status,
                        headers=headers)


async def _models(state: ServerState) -> Response:
    served = [m.to_openai() for m in served_models(state.library())]
    if embedder_installed(state.paths):
        served.append(embedder_entry())
    # Logged like every request, so the Server page shows a client that only lists the models
    # (the first thing an app does when it is pointed at the server).
    state.log.add(RequestRecord(now_text(), "/v1/models", "", 200, "listed"))
    return JSONResponse({"object": "list", "data": served})


async def _model(state: ServerState, request: Request) -> Response:
    name = request.path_params["name"]

    def listed(status: int, outcome: str) -> None:
        state.log.add(RequestRecord(now_text(), request.url.path, name[:200], status, outcome))

    if name == EMBEDDER_NAME and embedder_installed(state.paths):
        listed(200, "listed")
        return JSONResponse(embedder_entry())
    try:
        served = find_model(state.library(), name)
    except UnknownModel as exc:
        listed(404, "error")
        return _error(404, exc.message, "invalid_request_error", "model", "model_not_found")
    listed(200, "listed")
    return JSONResponse(served.to_openai())


async def _disconnected(request: Request) -> None:
    """Returns when the client closes its connection (the body has been read by then)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _next(events: asyncio.Queue[dict[str, Any]], disconnect: asyncio.Task[None]
                ) -> dict[str, Any] | None:
    """The job's next event, or None if the client left first."""
    if not events.empty():
        return events.get_nowait()
    getter = asyncio.ensure_future(events.get())
    done, _ = await asyncio.wait({getter, disconnect}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    return None


async def _generate(state: ServerState, request: Request,
                    parse: Callable[[Any, dict[str, Any]], api.Generation]) -> Response:
    started = time.perf_counter()
    endpoint = request.url.path

    def record(model: str, status: int, outcome: str, done: dict[str, Any] | None = None,
               tokens: int = 0) -> None:
        state.log.add(RequestRecord(
            now_text(), endpoint, model, status, outcome,
            prompt_tokens=int(done["prompt_tokens"]) if done else 0,
            completion_tokens=int(done["completion_tokens"]) if done else tokens,
            seconds=round(time.perf_counter() - started, 3)))

    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        record("", 400, "error")
        return _error(400, "The request body is not valid JSON.", "invalid_request_error")
    try:
        library = state.library()
        gen = parse(body, chat_defaults(library.conn))
        if gen.model == EMBEDDER_NAME:
            raise api.BadRequest(f"{EMBEDDER_NAME!r} is an embedding model: it does not write "
                                 "replies. Use it with POST /v1/embeddings.", "model")
        target = engine_target(library, find_model(library, gen.model))
    except api.BadRequest as exc:
        record(str(body.get("model", "")) if isinstance(body, dict) else "", 400, "error")
        return _error(400, exc.message, "invalid_request_error", exc.param)
    except UnknownModel as exc:
        record(str(body.get("model", "")), 404, "error")
        return _error(404, exc.message, "invalid_request_error", "model", "model_not_found")
    except (ModelWillNotFit, sqlite3.Error) as exc:
        record(str(body.get("model", "")), 500, "error")
        return _error(500, str(exc), "server_error")

    loop = asyncio.get_running_loop()
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def deliver(event: dict[str, Any]) -> None:  # on the runner's thread
        loop.call_soon_threadsafe(events.put_nowait, event)

    job = Job(gen.kind, target, gen.payload, gen.params, deliver)
    try:
        state.runner.submit(job)
    except QueueFull as exc:
        record(gen.model, 503, "refused")
        return _error(503, exc.message, "server_busy",
                      headers={"Retry-After": str(exc.retry_after)})

    disconnect = asyncio.ensure_future(_disconnected(request))
    parts: list[str] = []
    try:
        event = await _next(events, disconnect)
        while event is not None and not gen.stream and event["type"] == "token":
            parts.append(event["text"])
            event = await _next(events, disconnect)
    finally:
        disconnect.cancel()
    if event is None:  # the client left while waiting
        state.runner.cancel(job)
        record(gen.model, CLIENT_CLOSED, "cancelled", tokens=len(parts))
        return Response(status_code=CLIENT_CLOSED)
    if event["type"] == "error":
        record(gen.model, event["status"], "error", tokens=len(parts))
        kind = "server_error" if event["status"] >= 500 else "invalid_request_error"
        return _error(event["status"], event["message"], kind, code=event["code"])
    response_id = api.new_id(gen.kind)
    if not gen.stream:
        record(gen.model, 200, api.finish_reason(event), event)
        return JSONResponse(api.full_response(gen, response_id, event["text"], event))
    return StreamingResponse(_stream(state, job, gen, response_id, event, events, record),
                             media_type="text/event-stream", headers=STREAM_HEADERS)


async def _stream(state: ServerState, job: Job, gen: api.Generation, response_id: str,
                  first: dict[str, Any], events: asyncio.Queue[dict[str, Any]],
                  record: Callable[..., None]) -> AsyncIterator[bytes]:
    """The server-sent events of one answer; if the client leaves, its generation stops."""
    finished, tokens = False, 0
    try:
        if gen.kind == "chat":
            yield api.chunk(gen, response_id, text="", first=True)
        event = first
        while True:
            if event["type"] == "token":
                tokens += 1
                yield api.chunk(gen, response_id, text=event["text"])
            elif event["type"] == "done":
                finished = True
                record(gen.model, 200, api.finish_reason(event), event)
                yield api.chunk(gen, response_id, done=event)
                if gen.include_usage:
                    yield api.chunk(gen, response_id, done=event, usage_only=True)
                yield api.DONE_LINE
                return
            else:  # the engine failed after the answer began: say so in the stream
                finished = True
                record(gen.model, event["status"], "error", tokens=tokens)
                yield api.sse(api.error_body(event["message"], "server_error",
                                             code=event["code"]))
                return
            event = await events.get()
    finally:
        if not finished:
            state.runner.cancel(job)
            record(gen.model, 200, "cancelled", tokens=tokens)
