"""Run slow core work (copying, scanning, assembling) off the GUI thread.

A :class:`BackgroundTask` runs a plain function on the global thread pool and reports through
Qt signals, which Qt delivers on the GUI thread because the signal object lives there. The
function gets a progress callback; when the task is cancelled that callback returns False,
which the core's loops take as a request to stop.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from slmdesk.core.errors import SlmdeskError

WorkFunction = Callable[[Callable[[int, int], bool]], Any]


class TaskSignals(QObject):
    progress = Signal(object, object)  # done, total (may exceed 32 bits: bytes)
    succeeded = Signal(object)
    #: The exception and its detail for the message bar: an :class:`SlmdeskError`'s own
    #: ``detail``, else the traceback (a bug: the person can copy it into a report).
    failed = Signal(object, str)


class BackgroundTask(QRunnable):
    """One unit of work for the thread pool; connect to ``signals`` before :meth:`start`."""

    def __init__(self, work: WorkFunction, name: str = "") -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.work = work
        self.name = name
        self.signals = TaskSignals()
        self._cancelled = threading.Event()
        self.done = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def start(self) -> "BackgroundTask":
        QThreadPool.globalInstance().start(self)
        return self

    def _report_progress(self, done: int, total: int) -> bool:
        try:
            self.signals.progress.emit(int(done), int(total))
        except RuntimeError:
            self._cancelled.set()  # the window is gone: stop the work
        return not self._cancelled.is_set()

    def run(self) -> None:  # runs on a pool thread
        try:
            result = self.work(self._report_progress)
        except Exception as exc:  # every failure reaches the UI as a message
            detail = exc.detail if isinstance(exc, SlmdeskError) else traceback.format_exc()
            self._emit(self.signals.failed, exc, detail)
        else:
            self._emit(self.signals.succeeded, result)
        finally:
            self.done.set()

    @staticmethod
    def _emit(signal, *values) -> None:
        try:
            signal.emit(*values)
        except RuntimeError:
            pass  # the window closed while the work ran: nobody is left to tell
