"""The embedding process: a sentence-embedding GGUF in llama.cpp's embedding mode, over JSON lines.

Run as ``python -m slmdesk.core.engine.embed_host MODEL.gguf``. It answers ``{"texts": [...]}``
with ``{"type": "vectors", "data": base64, "tokens": n}``, the float32 vectors (unit length, row
after row) and how many tokens the model read (after truncation to its context), and says ``{"type": "ready", "dimensions": n}`` once loaded. Like the chat engine it is a child
process, so the window never loads llama.cpp and a native crash costs only this process; it is
separate from the chat engine because it runs while no chat model is loaded (indexing, the
command line) and its model is tiny (23 M parameters, 0.2 s to load).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from typing import Any, BinaryIO

from slmdesk.core.engine.cpu_backend import import_llama_cpp

# A passage is at most ~900 characters (~250 tokens); all-MiniLM-L6-v2 reads 512 at most.
CONTEXT = 512


def embedding_threads() -> int:
    """Half the physical cores, at least one.

    llama.cpp's worker threads wait for each other at every layer by spinning, so a thread that
    loses its core to another process (the chat engine, a training run, the window) stalls them
    all: on two cores with a training run beside it, two threads took 0.5 to 0.85 s a passage
    and one thread 0.2 s (README, Measured). Indexing runs in the background; it should not
    compete for every core.
    """
    from slmdesk.core.engine.host import default_threads

    return max(1, default_threads() // 2)


def _take_stdout() -> BinaryIO:
    """Keep the real stdout for answers; anything native code prints goes to stderr."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=0)


def _send(out: BinaryIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")


def _embed_each(model: Any, texts: list[str]) -> tuple[Any, int]:
    """One text per decode. llama-cpp-python packs several texts into one batch, but an encoder
    then attends over the whole batch (masked), so the work grows with the square of the texts
    packed: measured 0.25 s of CPU a passage two to a batch, 0.45 s four, 0.9 s eight, against
    0.16 s one at a time."""
    import numpy as np

    vectors = np.empty((len(texts), model.n_embd()), dtype=np.float32)
    tokens = 0
    for row, text in enumerate(texts):
        raw, count = model.embed([text], truncate=True, return_count=True)
        vectors[row] = raw[0]
        tokens += count
    return vectors, tokens


def main(argv: list[str]) -> int:
    out = _take_stdout()
    import numpy as np

    try:
        llama_cpp, _backend = import_llama_cpp()
        threads = embedding_threads()
        model = llama_cpp.Llama(argv[0], embedding=True, n_ctx=CONTEXT, n_batch=CONTEXT, n_ubatch=CONTEXT,
                                n_threads=threads, n_threads_batch=threads, verbose=False,
                                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN)
    except Exception as exc:  # a missing or damaged file: said once, then the process ends
        _send(out, {"type": "error", "message": f"The embedding model could not be loaded: {exc}"})
        return 1
    _send(out, {"type": "ready", "dimensions": model.n_embd()})
    for line in sys.stdin.buffer:
        try:
            texts = json.loads(line)["texts"]
            vectors, tokens = _embed_each(model, texts)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            _send(out, {"type": "vectors", "data": base64.b64encode(vectors.tobytes()).decode(),
                        "tokens": int(tokens)})
        except Exception as exc:
            _send(out, {"type": "error", "message": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
