"""Downloads on worker threads, reported to the window through Qt signals.

Each download gets a plain Python thread of its own (not the shared thread pool, whose few
threads must stay free for imports and searches while a gigabyte file arrives) running
:func:`slmdesk.core.hub.downloads.run_download` with its own database connection. The signals
live on this object, on the GUI thread, so Qt queues every report to it; progress is passed on
at most ten times a second.
"""

from __future__ import annotations

import threading
import time
import traceback

from PySide6.QtCore import QObject, Signal

from slmdesk.core import db
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.hub.downloads import (
    CANCEL,
    PAUSE,
    DownloadCancelled,
    DownloadPaused,
    cancel_download,
    run_download,
)
from slmdesk.core.hub.store import DownloadStore
from slmdesk.core.hub.transfer import RetryPolicy, TransferControl, TransferProgress
from slmdesk.paths import AppPaths

_REPORT_EVERY = 0.1


class DownloadRunner(QObject):
    """Starts, pauses and cancels downloads; one thread per running download."""

    #: download id, TransferProgress
    progress = Signal(int, object)
    #: download id, LibraryEntry
    finished = Signal(int, object)
    #: download id, "paused" or "cancelled"
    stopped = Signal(int, str)
    #: download id, message, detail
    failed = Signal(int, str, str)

    def __init__(self, paths: AppPaths, policy: RetryPolicy | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.policy = policy
        self._threads: dict[int, tuple[threading.Thread, TransferControl]] = {}

    def is_running(self, download_id: int) -> bool:
        entry = self._threads.get(download_id)
        return entry is not None and entry[0].is_alive()

    @property
    def running_ids(self) -> list[int]:
        return [key for key in self._threads if self.is_running(key)]

    def start(self, download_id: int) -> None:
        if self.is_running(download_id):
            return
        control = TransferControl()
        thread = threading.Thread(target=self._work, args=(download_id, control),
                                  name=f"download-{download_id}", daemon=True)
        self._threads[download_id] = (thread, control)
        thread.start()

    def pause(self, download_id: int) -> None:
        if self.is_running(download_id):
            self._threads[download_id][1].stop(PAUSE)

    def cancel(self, download_id: int) -> None:
        """Stop a running download and delete its part, or forget a paused one."""
        if self.is_running(download_id):
            self._threads[download_id][1].stop(CANCEL)
            return
        conn = db.connect(self.paths.database)
        try:
            cancel_download(DownloadStore(conn), download_id)
        finally:
            conn.close()
        self._emit(self.stopped, download_id, "cancelled")

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait for every thread to end; True when all did."""
        deadline = time.monotonic() + timeout
        for thread, _control in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.running_ids

    def shutdown(self, timeout: float = 5.0) -> None:
        """Pause everything (the parts stay for the next start) and wait a little for the
        threads. One stuck in a silent read is left behind (daemon): its row still says
        *running* with this process's pid, which the next start reads as interrupted, and its
        partial file holds every byte written."""
        for download_id in self.running_ids:
            self.pause(download_id)
        self.wait(timeout)

    def _work(self, download_id: int, control: TransferControl) -> None:  # a worker thread
        last = [0.0]

        def report(state: TransferProgress) -> None:
            now = time.monotonic()
            if now - last[0] >= _REPORT_EVERY or state.phase != "downloading":
                last[0] = now
                self._emit(self.progress, download_id, state)

        try:
            entry = run_download(self.paths, download_id, control, report, self.policy)
        except DownloadPaused:
            self._emit(self.stopped, download_id, "paused")
        except DownloadCancelled:
            self._emit(self.stopped, download_id, "cancelled")
        except SlmdeskError as exc:
            self._emit(self.failed, download_id, exc.message, exc.detail)
        except Exception as exc:  # a bug: the person can copy the traceback into a report
            self._emit(self.failed, download_id, f"The download failed: {exc}",
                       traceback.format_exc())
        else:
            self._emit(self.finished, download_id, entry)

    @staticmethod
    def _emit(signal: object, *values: object) -> None:
        try:
            signal.emit(*values)  # type: ignore[attr-defined]
        except RuntimeError:
            pass  # the window closed while the download ran
