"""The one root of SLM Desk's errors, and the shape of a progress report.

Every error the core raises for a person to read is a :class:`SlmdeskError`: ``message`` is a
plain sentence for them (``str(error)`` is the same), ``detail`` the technical rest (a path, an
exit code, a traceback, the engine's last lines) for the *Details* button or a bug report. So the
command line catches this one type and prints the message, and the window's message bar shows
the message with the detail one click away. Errors that callers also catch by a built-in kind
(``ValueError``, ``LookupError``) inherit from both.
"""

from __future__ import annotations

from collections.abc import Callable


class SlmdeskError(Exception):
    """An error with words for the user (``message``) and the technical rest (``detail``)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


#: Progress of long work: (done, total) in files or bytes. Returning False asks it to stop.
ProgressCallback = Callable[[int, int], "bool | None"]
