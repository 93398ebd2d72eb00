"""Whole lines out of a child process's output, which QProcess hands over in arbitrary pieces."""

from __future__ import annotations


class LineBuffer:
    """Collects bytes and gives back complete, non-blank lines (without their newline)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        *lines, self._pending = (self._pending + data).split(b"\n")
        return [line for line in lines if line.strip()]

    def flush(self) -> list[bytes]:
        """The last line when the process ended without a newline after it."""
        rest, self._pending = self._pending, b""
        return [rest] if rest.strip() else []
