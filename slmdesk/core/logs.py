"""Where the libraries' own warnings go: the log file, never the person's screen.

pypdf says "EOF marker not found" through :mod:`logging` and other parsers use :mod:`warnings`.
With no handler configured, Python prints both to stderr, where they stand beside our own plain
message about the same file and read like a second, cryptic error. :func:`send_library_logs_to_file`
gives the root logger one handler, a file in the log folder, and routes warnings through logging,
so the detail is kept for a bug report and the screen shows only what SLM Desk says.
"""

from __future__ import annotations

import logging
from pathlib import Path

LOG_NAME = "slmdesk.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _LogFile(logging.FileHandler):
    """Our handler, told apart from any a library or a test added."""


class _NoLogFile(logging.NullHandler):
    """Stands in for :class:`_LogFile` when the log folder cannot be written."""


def send_library_logs_to_file(log_dir: Path) -> Path | None:
    """Send warnings and log records of every library to ``log_dir/slmdesk.log``; idempotent.

    Returns the log file, or None when the folder cannot be written: the records are then
    dropped rather than shown, since a read-only home must not turn warnings back into clutter.
    """
    root = logging.getLogger()
    path: Path | None = log_dir / LOG_NAME
    if any(isinstance(handler, (_LogFile, _NoLogFile)) for handler in root.handlers):
        return path
    handler: logging.Handler
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(log_dir / LOG_NAME, encoding="utf-8", delay=True)
    except OSError:
        handler, path = _NoLogFile(), None
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)  # the root keeps its level, WARNING: warnings and errors only
    logging.captureWarnings(True)
    return path
