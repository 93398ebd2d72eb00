"""The base model's quiz answers, kept across runs.

Before training, the worker asks the base model its quiz (about 20 s on 2 cores: an engine
start and a dozen greedy answers). The answers depend only on the model file, the questions
(made from the documents) and the greedy settings, so a re-run on the same documents, or a run
with other training settings, reads them from here instead of asking again. Keyed by the model
file's fingerprint, a hash of the documents' text and a hash of the quiz and its settings; one
small JSON file per key under the app's cache folder.

Plain Python (no torch).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from slmdesk.core.training.quiz_run import (
    MAX_ANSWER_TOKENS,
    QUIZ_CONTEXT_TOKENS,
    QUIZ_SAMPLING,
    QuizResult,
)

CACHE_FOLDER = "quiz-before"


def documents_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()


def quiz_key(model_path: Path, texts_hash: str, items: Sequence[Any]) -> str:
    """The cache key of one quiz on one model for one set of documents."""
    from slmdesk.core.library.store import file_fingerprint

    quiz = json.dumps({"items": [asdict(item) for item in items], "sampling": QUIZ_SAMPLING,
                       "max_tokens": MAX_ANSWER_TOKENS, "context": QUIZ_CONTEXT_TOKENS},
                      sort_keys=True, ensure_ascii=False)
    parts = (file_fingerprint(Path(model_path)), texts_hash,
             hashlib.sha256(quiz.encode("utf-8")).hexdigest())
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:40]


def load_cached(cache_dir: Path, key: str) -> QuizResult | None:
    try:
        data = json.loads((Path(cache_dir) / CACHE_FOLDER / f"{key}.json").read_text(encoding="utf-8"))
        return QuizResult.from_dict(data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def store(cache_dir: Path, key: str, result: QuizResult) -> None:
    """Keep a complete quiz (a failure to write only costs the next run the quiz's time)."""
    folder = Path(cache_dir) / CACHE_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(result.to_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass
