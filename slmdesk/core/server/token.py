"""The server's bearer token: made on first use, kept in a file only its owner can read.

A file (mode 0600 in the app's config folder) rather than the database: the database is read
by every part of the app and copied in backups, while the token is a password. The running
server reads the file again when it changes, so ``slmdesk serve --rotate-token`` (or the
window's Rotate button) takes effect at once in a server already running.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

from slmdesk.paths import AppPaths

TOKEN_FILE_NAME = "server-token"
#: "sk-" makes tools that check the shape of an OpenAI key accept it; 32 random bytes follow.
TOKEN_PREFIX = "sk-slmdesk-"


def token_path(paths: AppPaths) -> Path:
    return paths.config_dir / TOKEN_FILE_NAME


class ServerToken:
    """The token of one SLM Desk home, cached until its file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cached: tuple[int, str] | None = None

    @classmethod
    def for_paths(cls, paths: AppPaths) -> ServerToken:
        return cls(token_path(paths))

    def current(self) -> str:
        """The token, generated and saved the first time it is asked for."""
        with self._lock:
            try:
                stamp = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                return self._write_new()
            if self._cached is None or self._cached[0] != stamp:
                text = self.path.read_text(encoding="ascii").strip()
                if not text:
                    return self._write_new()
                self._cached = (stamp, text)
            return self._cached[1]

    def rotate(self) -> str:
        """A new token; the old one stops working at once."""
        with self._lock:
            return self._write_new()

    def _write_new(self) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        # Created 0600 from the start, so the token is never readable by others, not even briefly.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        os.chmod(partial, 0o600)
        os.replace(partial, self.path)
        self._cached = (self.path.stat().st_mtime_ns, token)
        return token

    def matches(self, offered: str) -> bool:
        """Constant-time comparison, so the token cannot be guessed a character at a time."""
        return secrets.compare_digest(offered.encode("utf-8"), self.current().encode("ascii"))
