"""The log of requests: when, which model, how many tokens, how long, never the text.

Each entry goes to a JSON-lines file in the app's log folder (``server-requests.log``) and to
anyone listening (the window's Server page), and the last few hundred are kept in memory.
Prompts and replies are never written: the log shows what the server did, not what was said.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

LOG_FILE_NAME = "server-requests.log"


@dataclass(frozen=True)
class RequestRecord:
    """One request. ``outcome`` is the finish reason ("stop", "length"), "cancelled" (its client
    left), "listed" (a model list or entry), "refused" (401, 403, 503) or "error"."""

    time: str
    endpoint: str
    model: str
    status: int
    outcome: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestLog:
    """Thread-safe: entries may come from the server's event loop and be read by the window."""

    def __init__(self, path: Path | None, keep: int = 500) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._recent: collections.deque[RequestRecord] = collections.deque(maxlen=keep)
        self._listeners: list[Callable[[RequestRecord], None]] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._recent.append(record)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(record.to_json() + "\n")
            listeners = list(self._listeners)
        for listener in listeners:
            listener(record)

    def recent(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._recent)

    def subscribe(self, listener: Callable[[RequestRecord], None]) -> None:
        with self._lock:
            self._listeners.append(listener)
