"""The JSON-lines events a training worker writes, shared by every reader.

The worker writes one JSON object per line on stdout and appends the same line to
``RUN_DIR/events.jsonl``; the command line (:mod:`slmdesk.core.training.runner`) and the GUI
(a QProcess wrapper) parse them with :func:`parse_event`. Keeping the vocabulary here means the
two readers never drift apart. Each event is a dict with a ``type`` and a ``time`` (Unix seconds):

``started``     pid, run_dir, resume (bool), job (dict)
``status``      stage, message: a plain sentence about what is happening (loading, converting...)
``dataset``     documents, tokens, chunks, train_chunks, validation_chunks, split, preview (list[str])
``plan``        total_steps, steps_per_epoch, epochs, train_tokens, estimate_seconds
``precision``   dtype ("fp32" or "bf16"), requested, reason, speedup, fp32_gflops, bf16_gflops,
                probe_seconds, message (see :mod:`slmdesk.core.training.precision`)
``eval``        stage ("before", "during", "after"), loss, perplexity, split ("validation" or
                "train" when the text was too short to hold some back), tokens
``quiz``        stage ("before", "after"), correct, total, seconds, chat_format, answers (list of
                question, expected, reply, correct, form, source)
``step``        step, total_steps, epoch, loss, learning_rate, tokens_per_second, eta_seconds
``checkpoint``  step, path
``finished``    adapter_path, adapter_model_id, metrics (dict), message
``cancelled``   step, resumable, message
``failed``      message, detail (technical, for a bug report), resumable
``interrupted`` message, exit_code, log_tail, resumable: never written by the worker; the parent
                makes it up when the worker dies without a word (killed, out of memory)

``finished``, ``cancelled``, ``failed`` and ``interrupted`` are terminal: nothing follows them.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import IO, Any

from slmdesk.core.errors import SlmdeskError

STARTED = "started"
STATUS = "status"
DATASET = "dataset"
PLAN = "plan"
PRECISION = "precision"
EVAL = "eval"
STEP = "step"
QUIZ = "quiz"
CHECKPOINT = "checkpoint"
FINISHED = "finished"
CANCELLED = "cancelled"
FAILED = "failed"
INTERRUPTED = "interrupted"

TERMINAL = frozenset({FINISHED, CANCELLED, FAILED, INTERRUPTED})

#: The one message a parent sends on the worker's stdin.
CANCEL_REQUEST = {"type": "cancel"}

EVENTS_FILE = "events.jsonl"


class EventError(SlmdeskError, ValueError):
    """A line that is not a training event."""


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity; a diverged loss is reported as null rather than breaking readers.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def make_event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "time": round(time.time(), 3), **fields}


def encode_event(event: dict[str, Any]) -> str:
    """One line of JSON, newline included."""
    return json.dumps(_finite(event), ensure_ascii=False, allow_nan=False) + "\n"


def parse_event(line: str | bytes) -> dict[str, Any]:
    """Parse one line written by the worker; raise :class:`EventError` for anything else."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    try:
        event = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EventError(f"not JSON: {line[:200]!r}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise EventError(f"not an event: {line[:200]!r}")
    return event


def is_terminal(event: dict[str, Any]) -> bool:
    return event.get("type") in TERMINAL


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """Every event a run has logged so far (unreadable lines, e.g. a torn last line, skipped)."""
    path = Path(run_dir) / EVENTS_FILE
    events: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return events
    for line in lines:
        try:
            events.append(parse_event(line))
        except EventError:
            continue
    return events


class EventWriter:
    """Writes each event to a stream (the worker's stdout) and appends it to events.jsonl."""

    def __init__(self, stream: IO[bytes] | None, log_path: Path | None) -> None:
        self._stream = stream
        self._log = open(log_path, "ab") if log_path is not None else None

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = make_event(kind, **fields)
        data = encode_event(event).encode("utf-8")
        if self._log is not None:
            self._log.write(data)
            self._log.flush()
        if self._stream is not None:
            try:
                self._stream.write(data)
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self._stream = None  # the parent went away; keep training and logging to file
        return event

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def format_duration(seconds: float | None) -> str:
    """``1:05`` or ``1:02:03``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_progress(event: dict[str, Any], width: int = 20) -> str:
    """A one-line progress bar for a ``step`` event: ``step 12/40 [=====>    ] loss 2.31 ...``."""
    step, total = int(event.get("step", 0)), max(1, int(event.get("total_steps", 1)))
    filled = min(width, int(width * step / total))
    bar = "=" * filled + (">" if filled < width else "") + " " * max(0, width - filled - 1)
    loss = event.get("loss")
    speed = event.get("tokens_per_second")
    parts = [f"step {step}/{total} [{bar}]",
             f"loss {loss:.2f}" if isinstance(loss, (int, float)) else "loss ?",
             f"{speed:.0f} tok/s" if isinstance(speed, (int, float)) else "",
             f"ETA {format_duration(event.get('eta_seconds'))}"]
    return " ".join(part for part in parts if part)
