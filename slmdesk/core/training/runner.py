"""The parent side of a training run, in plain Python (the command line and the tests use it).

:class:`TrainingRunner` starts the worker process for a run folder, yields its events as dicts,
asks it to stop (a cancel line, then SIGTERM, then SIGKILL if it will not), and notices when it
dies without saying so: the run is then marked *interrupted* in the database, with the exit code
and the last lines of ``worker.log`` as the error, and can be resumed from its last checkpoint.

The worker runs in its own session, so Ctrl+C in a terminal reaches only the parent, which turns
it into a clean cancel. The GUI starts the same worker through QProcess and parses the same events
with :mod:`slmdesk.core.training.events`.
"""

from __future__ import annotations

import collections
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

from slmdesk.core.processes import (
    TRAINING_MODULE,
    Child,
    child_launch,
    close_quietly,
    describe_exit,
    pump_lines,
)
from slmdesk.core.training import events as ev

LOG_FILE = "worker.log"
#: After a cancel request, seconds until SIGTERM, and as long again until SIGKILL. A checkpoint
#: of the largest model we train takes well under a minute; the command line and the window wait
#: the same.
CANCEL_GRACE_SECONDS = 90.0
_EOF = object()


def record_interrupted(run_dir: Path, headline: str, paths: Any = None) -> dict[str, Any]:
    """The worker died without a terminal event: mark its run *interrupted* (resumable) in the
    database and return the ``interrupted`` event that says so, for the CLI and the window alike."""
    tail = log_tail(run_dir)
    message = (f"{headline} The run is kept and can be resumed from its last checkpoint"
               " (slmdesk train --resume <run id>, or Resume in Fine-tune \u203a Runs).")
    try:
        from slmdesk.core.training.runs import RunStore
        from slmdesk.paths import app_paths

        store = RunStore.open(paths or app_paths())
        try:
            run = store.find_by_dir(run_dir)
            if run is not None:
                message = message.replace("<run id>", str(run.id))
                if run.status == "running":
                    store.update(run.id, status="interrupted", pid=None,
                                 error=message + ("\n" + tail if tail else ""))
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - the event must reach the caller regardless
        tail += f"\n(could not update the run record: {exc})"
    return ev.make_event(ev.INTERRUPTED, message=message, log_tail=tail, resumable=True)


def log_tail(run_dir: Path, lines: int = 15) -> str:
    """The last lines the worker wrote to stderr (its log), for error messages."""
    try:
        with open(Path(run_dir) / LOG_FILE, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = collections.deque((line for line in text.splitlines() if line.strip()), maxlen=lines)
    return "\n".join(kept)


class TrainingRunner:
    """One worker process for one run folder.

    Example::

        runner = TrainingRunner(run.run_dir)
        runner.start()
        for event in runner.events():
            print(event["type"])
    """

    def __init__(self, run_dir: Path, *, resume: bool = False, env: dict[str, str] | None = None
                 ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.resume = resume
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.terminal_event: dict[str, Any] | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._timers: list[threading.Timer] = []
        self._done = False

    # -- process -----------------------------------------------------------------------------

    def start(self) -> "TrainingRunner":
        args = [str(self.run_dir)] + (["--resume"] if self.resume else [])
        launch = child_launch(TRAINING_MODULE, *args, base_env=self.env)
        extra: dict[str, Any] = {}
        if os.name == "posix":
            extra["start_new_session"] = True
        else:
            extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        with open(self.run_dir / LOG_FILE, "ab") as log:
            self.proc = subprocess.Popen(launch.argv, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, env=launch.env,
                                         **extra)
        threading.Thread(target=self._read, name="training-events", daemon=True).start()
        return self

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        # A line that is not an event is not ours; the worker keeps stdout for events.
        pump_lines(self.proc.stdout, ev.parse_event, self._queue.put, lambda _line: None,
                   ev.EventError)
        self._queue.put(_EOF)

    # -- events ------------------------------------------------------------------------------

    def events(self, poll: float = 0.2) -> Iterator[dict[str, Any]]:
        """Yield events until a terminal one; safe to call again after an exception (Ctrl+C)."""
        while not self._done:
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                continue
            if item is _EOF:
                self._done = True
                if self.terminal_event is None:
                    self.terminal_event = self._died()
                    yield self.terminal_event
                break
            if ev.is_terminal(item):
                self.terminal_event = item
            yield item

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the process to end; its exit code (None if it is still running)."""
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for timer in self._timers:
            timer.cancel()
        return code

    def _died(self) -> dict[str, Any]:
        """The worker ended without a terminal event: record the run as interrupted."""
        code = self.wait(timeout=30)
        event = record_interrupted(self.run_dir, describe_exit(Child.TRAINING, code).message)
        event["exit_code"] = code
        return event

    # -- stopping ----------------------------------------------------------------------------

    def cancel(self, grace: float = CANCEL_GRACE_SECONDS) -> None:
        """Ask the worker to checkpoint and stop; escalate to SIGTERM after ``grace`` seconds and
        to SIGKILL after twice that, should it not answer."""
        if not self.running:
            return
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(ev.encode_event(ev.CANCEL_REQUEST).encode())
            self.proc.stdin.flush()
            # Closing stdin lets the worker's stdin reader end: a reader still blocked there at
            # interpreter shutdown aborts the worker after its "cancelled" event.
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            self.terminate()
        for delay, action in ((grace, self.terminate), (2 * grace, self.kill)):
            timer = threading.Timer(delay, action)
            timer.daemon = True
            timer.start()
            self._timers.append(timer)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)

    def _signal(self, signum: int) -> None:
        if self.running:
            assert self.proc is not None
            try:
                self.proc.send_signal(signum)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        """Release the pipes (the process is left to finish; call cancel() first to stop it)."""
        for timer in self._timers:
            timer.cancel()
        if self.proc is not None:
            close_quietly(self.proc.stdin, self.proc.stdout)

