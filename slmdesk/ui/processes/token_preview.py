"""Real token counts for the documents page, from a short child process.

The tokenizer belongs to the base model and needs llama.cpp (or transformers), which the GUI
process never imports, so :mod:`slmdesk.core.training.preview` runs as a child for a second or two
and answers with one JSON line. A newer request replaces one still running.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QObject, QProcess, Signal, Slot

from slmdesk.core.processes import PREVIEW_MODULE, Child, child_launch, describe_exit
from slmdesk.ui.processes.launch import qt_crash_signal, start_child


class TokenPreview(QObject):
    """Runs one preview at a time; ``ready`` carries the answer, ``failed`` a reason."""

    ready = Signal(dict)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process: QProcess | None = None
        self.request: dict | None = None

    @property
    def running(self) -> bool:
        return (self._process is not None
                and self._process.state() != QProcess.ProcessState.NotRunning)

    def start(self, request: dict) -> None:
        """Tokenize ``request`` (see :mod:`slmdesk.core.training.preview`); replaces a running one."""
        self.stop()
        self.request = request
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.setStandardErrorFile(QProcess.nullDevice())
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        start_child(process, child_launch(PREVIEW_MODULE))
        process.write(json.dumps(request).encode("utf-8"))
        process.closeWriteChannel()

    def stop(self) -> None:
        """Abandon a preview still running (its answer is no longer wanted)."""
        process, self._process = self._process, None
        if process is not None:
            process.finished.disconnect(self._on_finished)
            process.errorOccurred.disconnect(self._on_error)
            if process.state() != QProcess.ProcessState.NotRunning:
                process.kill()
                process.waitForFinished(3000)
            process.deleteLater()

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        process = self.sender()
        if process is not self._process:
            return
        raw = bytes(process.readAllStandardOutput().data()).decode("utf-8", errors="replace")
        self._process = None
        process.deleteLater()
        try:
            answer = json.loads(raw.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            signum = qt_crash_signal(code, status)
            if signum is None:
                self.failed.emit("the token counter stopped without an answer")
            else:
                self.failed.emit(describe_exit(Child.PREVIEW, None, signal_number=signum).message)
            return
        if "error" in answer:
            self.failed.emit(str(answer["error"]))
        else:
            self.ready.emit(answer)

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.sender() is self._process:
            self._process = None
            self.failed.emit("the token counter could not be started")
