"""Real token counts and a chunk preview for the fine-tuning wizard, from a short child process.

The training worker tokenizes with the base model's tokenizer through transformers, which the
window must never import (it is slow to import and belongs in a child process). For the preview
the window starts ``python -m slmdesk.core.training.preview`` instead: it reads the documents,
tokenizes them with the GGUF file's own vocabulary through llama.cpp (loaded vocabulary-only, in
about a second, no weights), cuts them into chunks exactly as :mod:`slmdesk.core.training.dataset` will,
and prints one JSON line. The vocabulary is the model's own, so the counts match training to
within a token or two per document; the worker reports the exact ones once a run starts.

Request (JSON on stdin): model_path, documents, sequence_length, overlap, validation_fraction,
seed. Answer (JSON on stdout): files (path, title, characters, tokens), skipped (path, reason),
stats (see :class:`~slmdesk.core.training.dataset.DatasetStats`), preview (the first chunks as text), or
``{"error": message}``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from slmdesk.core.training.dataset import (
    MIN_CHUNKS_FOR_CHUNK_SPLIT,
    MIN_DOCUMENTS_FOR_DOCUMENT_SPLIT,
)


class VocabTokenizer:
    """The GGUF file's tokenizer through llama.cpp (vocabulary only), as a dataset Tokenizer."""

    def __init__(self, model_path: str) -> None:
        from slmdesk.core.engine.cpu_backend import import_llama_cpp

        llama_cpp, _ = import_llama_cpp()
        self.llm = llama_cpp.Llama(model_path=model_path, vocab_only=True, verbose=False)
        self.bos_token_id = self.llm.token_bos() if self.llm.token_bos() >= 0 else None
        self.eos_token_id = self.llm.token_eos() if self.llm.token_eos() >= 0 else None
        self._cache: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        if text not in self._cache:  # each document is counted, then cut: tokenize it once
            self._cache[text] = list(self.llm.tokenize(text.encode("utf-8"), add_bos=False,
                                                       special=False))
        return self._cache[text]

    def decode(self, ids: Sequence[int]) -> str:
        text: str = self.llm.detokenize(list(ids), special=True).decode("utf-8", errors="replace")
        return text

    def close(self) -> None:
        self.llm.close()


def preview(request: dict[str, Any]) -> dict[str, Any]:
    """Read, tokenize and cut the documents of ``request`` (see the module notes)."""
    from slmdesk.core.documents.collect import collect_documents
    from slmdesk.core.training.dataset import build_dataset

    found = collect_documents(request["documents"])
    result: dict[str, Any] = {
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in found.skipped],
        "files": [], "stats": None, "preview": []}
    if not found.documents:
        return result
    tokenizer = VocabTokenizer(request["model_path"])
    try:
        for doc in found.documents:
            result["files"].append({"path": str(doc.path), "title": doc.title,
                                    "characters": doc.characters,
                                    "tokens": len(tokenizer.encode(doc.text))})
        dataset = build_dataset([doc.text for doc in found.documents], tokenizer,
                                sequence_length=int(request["sequence_length"]),
                                overlap=int(request["overlap"]),
                                validation_fraction=float(request["validation_fraction"]),
                                seed=int(request.get("seed", 0)),
                                titles=[doc.title for doc in found.documents])
        result["stats"] = dataset.stats.to_dict()
        result["preview"] = dataset.preview(tokenizer, count=int(request.get("chunks", 3)))
    finally:
        tokenizer.close()
    return result


def chunk_lengths_from_tokens(document_tokens: Sequence[int], sequence_length: int, overlap: int,
                              validation_fraction: float) -> list[int]:
    """Token lengths of the training chunks :func:`slmdesk.core.training.dataset.build_dataset` would cut
    from documents of these token counts (for estimates when the settings change; the held-back
    share is approximated by whole chunks)."""
    stream = sum(tokens + 1 for tokens in document_tokens if tokens)  # + one separator each
    if stream == 0:
        return []
    body = sequence_length - 1  # the BOS token starts each chunk
    if stream <= body:
        return [stream + 1]
    stride = max(1, body - overlap)
    count = len(range(0, stream - body + 1, stride))
    if (count - 1) * stride != stream - body:
        count += 1  # the tail window
    documents = sum(1 for tokens in document_tokens if tokens)
    held = 0
    if validation_fraction > 0 and (count >= MIN_CHUNKS_FOR_CHUNK_SPLIT
                                    or documents >= MIN_DOCUMENTS_FOR_DOCUMENT_SPLIT):
        held = min(count - 1, max(1, math.floor(validation_fraction * count + 0.5)))
    return [sequence_length] * (count - held)


def main() -> int:
    # stdout carries the one answer line; llama.cpp's chatter goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        request = json.loads(sys.stdin.read())
        answer = preview(request)
    except Exception as exc:  # noqa: BLE001 - the window shows estimates instead
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    out.write(json.dumps(answer) + "\n")
    out.flush()
    return 0 if "error" not in answer else 1


if __name__ == "__main__":
    sys.exit(main())
