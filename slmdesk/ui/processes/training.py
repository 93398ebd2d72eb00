"""The training worker seen from the GUI: a QProcess that reads the worker's JSON-line events.

The Qt twin of :class:`slmdesk.core.training.runner.TrainingRunner`: it starts
``python -m slmdesk.core.training.worker RUN_DIR [--resume]`` (through
:func:`slmdesk.core.processes.child_command`, so the packaged app works too), parses its stdout
with :mod:`slmdesk.core.training.events` and turns each event into a signal on the GUI thread.
The worker's stderr goes to ``RUN_DIR/worker.log``, whose last lines explain a failure.

Stopping is the worker's own clean cancel (a line on its stdin: it checkpoints and exits),
escalated to SIGTERM and then SIGKILL if it does not answer. A worker that ends without a terminal
event (killed, out of memory) is reported as ``crashed`` and its run is marked *interrupted* in
the database, so it can be resumed from its last checkpoint. Nothing here imports torch.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal, Slot

from slmdesk.core.processes import TRAINING_MODULE, Child, child_launch, describe_exit
from slmdesk.core.training import events as ev
from slmdesk.core.training.runner import (
    CANCEL_GRACE_SECONDS,
    LOG_FILE,
    log_tail,
    record_interrupted,
)
from slmdesk.paths import AppPaths
from slmdesk.ui.processes.launch import qt_crash_signal, start_child
from slmdesk.ui.processes.line_buffer import LineBuffer


class TrainingProcess(QObject):
    """One training worker at a time; :meth:`start` again after it ended to resume."""

    #: Any event, as parsed (the specific signals below follow it).
    event = Signal(dict)
    #: The worker process started (before it says anything).
    launched = Signal()
    #: A plain sentence about what the worker is doing (``status`` events).
    status = Signal(str)
    #: The documents were cut into chunks (``dataset`` event: tokens, chunks, preview...).
    dataset = Signal(dict)
    #: The number of steps is known (``plan`` event).
    plan = Signal(dict)
    #: One optimizer step (``step`` event: step, total_steps, loss, tokens_per_second, eta...).
    progress = Signal(dict)
    #: A loss measurement on the validation (or training) text (``eval`` event).
    eval = Signal(dict)
    checkpoint = Signal(dict)
    #: Terminal events; exactly one of finished, cancelled, failed or crashed ends a run.
    finished = Signal(dict)
    cancelled = Signal(dict)
    #: The worker reported an error: message, technical detail and the log's last lines.
    failed = Signal(str, str)
    #: The worker died without a word: message, the log's last lines.
    crashed = Signal(str, str)
    #: The process has ended, after the terminal signal (for buttons and the close handler).
    ended = Signal()

    def __init__(self, paths: AppPaths | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.run_dir: Path | None = None
        self.resume = False
        self.terminal: dict | None = None
        self._process: QProcess | None = None
        self._stdout_lines = LineBuffer()
        self._log = None
        self._cancel_requested = False
        self._escalation = QTimer(self)
        self._escalation.setSingleShot(True)
        self._escalation.timeout.connect(self._escalate)
        self._escalation_stage = 0

    # -- process life ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return (self._process is not None
                and self._process.state() != QProcess.ProcessState.NotRunning)

    @property
    def pid(self) -> int | None:
        return int(self._process.processId()) or None if self.running else None

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def start(self, run_dir: Path, *, resume: bool = False) -> None:
        """Start the worker on a run folder (holding job.json); events follow asynchronously."""
        if self.running:
            raise RuntimeError("A training run is already in progress.")
        self._cleanup()
        self.run_dir = Path(run_dir).resolve()
        self.resume = resume
        self.terminal = None
        self._stdout_lines = LineBuffer()
        self._cancel_requested = False
        self._escalation_stage = 0
        self._log = open(self.run_dir / LOG_FILE, "ab")
        self._log.write(f"--- worker started {time.strftime('%Y-%m-%d %H:%M:%S')}"
                        f"{' (resume)' if resume else ''} ---\n".encode())
        self._log.flush()
        process = QProcess(self)
        process.readyReadStandardOutput.connect(self._on_stdout)
        process.readyReadStandardError.connect(self._on_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process = process
        start_child(process, child_launch(TRAINING_MODULE, str(self.run_dir),
                                          *(["--resume"] if resume else [])))
        self.launched.emit()

    def cancel(self, grace: float = CANCEL_GRACE_SECONDS) -> None:
        """Ask the worker to save a checkpoint and stop (``cancelled`` follows); escalate to
        SIGTERM after ``grace`` seconds and to SIGKILL after as long again."""
        if not self.running or self._cancel_requested:
            return
        self._cancel_requested = True
        if self._process.state() == QProcess.ProcessState.Running:
            self._process.write(ev.encode_event(ev.CANCEL_REQUEST).encode())
            # End of input too: the worker's stdin reader then ends, instead of holding the stdin
            # lock while the interpreter shuts down ("could not acquire lock ... at interpreter
            # shutdown" aborts it after its checkpoint otherwise).
            self._process.closeWriteChannel()
        self._escalation.start(int(grace * 1000))

    @Slot()
    def _escalate(self) -> None:
        if not self.running:
            return
        self._escalation_stage += 1
        if self._escalation_stage == 1:
            self._process.terminate()
            self._escalation.start(self._escalation.interval())
        else:
            self._process.kill()

    def kill(self) -> None:
        """End the worker at once (its last checkpoint stays; the run becomes interrupted)."""
        if self.running:
            self._process.kill()

    def wait(self, timeout: float) -> bool:
        """Block until the worker has ended (only at shutdown); True if it has."""
        if not self.running:
            return True
        return self._process.waitForFinished(int(timeout * 1000))

    def shutdown(self, timeout: float = 60.0) -> None:
        """At exit: cancel (checkpoint), wait, kill if need be. Blocking on purpose: no worker
        may be left training for a window that is gone without having saved."""
        if not self.running:
            return
        self.cancel()
        if not self.wait(timeout):
            self._process.kill()
            self._process.waitForFinished(5000)

    # -- output ---------------------------------------------------------------------------------

    @Slot()
    def _on_stdout(self) -> None:
        if self._process is not None:
            self.feed(bytes(self._process.readAllStandardOutput().data()))

    def feed(self, data: bytes) -> None:
        """Take a piece of the worker's stdout; emit one signal per complete event line."""
        self._dispatch_lines(self._stdout_lines.feed(data))

    def _dispatch_lines(self, lines: list[bytes]) -> None:
        for line in lines:
            try:
                event = ev.parse_event(line)
            except ev.EventError:
                self._write_log(b"[not an event] " + line[:500] + b"\n")
                continue
            self._dispatch(event)

    def _dispatch(self, event: dict) -> None:
        kind = event["type"]
        if ev.is_terminal(event):
            if self.terminal is not None:
                return
            self.terminal = event
        self.event.emit(event)
        if kind == ev.STATUS:
            self.status.emit(str(event.get("message", "")))
        elif kind == ev.DATASET:
            self.dataset.emit(event)
        elif kind == ev.PLAN:
            self.plan.emit(event)
        elif kind == ev.STEP:
            self.progress.emit(event)
        elif kind == ev.EVAL:
            self.eval.emit(event)
        elif kind == ev.CHECKPOINT:
            self.checkpoint.emit(event)
        elif kind == ev.FINISHED:
            self.finished.emit(event)
        elif kind == ev.CANCELLED:
            self.cancelled.emit(event)
        elif kind == ev.FAILED:
            # The worker prints the traceback to its log too: the tail usually holds it.
            tail = self.log_tail()
            details = (f"Last lines of the training log ({self.run_dir / LOG_FILE}):\n{tail}"
                       if tail else str(event.get("detail") or ""))
            self.failed.emit(str(event.get("message", "Training failed.")), details)

    @Slot()
    def _on_stderr(self) -> None:
        if self._process is not None:
            self._write_log(bytes(self._process.readAllStandardError().data()))

    def _write_log(self, data: bytes) -> None:
        if self._log is not None and data:
            self._log.write(data)
            self._log.flush()

    def log_tail(self, lines: int = 15) -> str:
        return log_tail(self.run_dir, lines) if self.run_dir is not None else ""

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        self._on_stdout()
        self._on_stderr()
        self._dispatch_lines(self._stdout_lines.flush())
        self._escalation.stop()
        self._close_log()
        if self.terminal is None:
            signum = qt_crash_signal(exit_code, status)
            self._died(describe_exit(Child.TRAINING, None if signum else exit_code,
                                     signal_number=signum).message)
        self.ended.emit()

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.terminal is None:
            self._close_log()
            self._died("The training process could not be started "
                       f"({self._process.errorString() if self._process else error}).")
            self.ended.emit()

    def _died(self, headline: str) -> None:
        """No terminal event: record the run as interrupted (resumable) and say so."""
        self.terminal = record_interrupted(self.run_dir, headline, self.paths)
        self.event.emit(self.terminal)
        self.crashed.emit(self.terminal["message"], self.terminal["log_tail"])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _cleanup(self) -> None:
        if self._process is not None:
            self._process.deleteLater()
            self._process = None
