"""Fetch one file over HTTP into a partial file that survives a closed or killed app.

``hf_hub_download`` cannot do what Get models needs: it writes to a temporary name unique to
the process and deletes it on any failure (huggingface_hub 2.x), so a download interrupted by
closing the app starts again from zero, and it cannot be paused from another thread. So this
loop keeps one partial file per download and continues it with a ``Range`` request from its
size, through huggingface_hub's own HTTP client and error mapping. The SHA-256 is computed as
the bytes arrive (the part already on disk is hashed first on a resume), so verifying costs no
second read. A read that waits longer than the stall timeout is retried from where it stopped.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from slmdesk.core.errors import SlmdeskError
from slmdesk.core.gguf.info import format_bytes
from slmdesk.core.hub.errors import ConnectionLost

_HASH_BLOCK = 8 * 1024 * 1024


#: Answers worth trying again: rate limits and a busy or restarting server.
TRANSIENT_STATUS = (408, 429, 500, 502, 503, 504)


class _TransientAnswer(Exception):
    """The server answered with a status that usually passes (see TRANSIENT_STATUS)."""


class TransferStopped(SlmdeskError):
    """The transfer was stopped on request (paused or cancelled); the partial file is kept."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long a silent connection may last, and how often to try again without progress."""

    stall_seconds: float = 30.0
    attempts: int = 6
    first_wait: float = 1.0
    max_wait: float = 15.0

    def wait_before(self, attempt: int) -> float:
        return float(min(self.max_wait, self.first_wait * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class TransferProgress:
    """Where a transfer stands, for a progress bar: bytes, speed and time left."""

    done: int
    total: int | None
    bytes_per_second: float
    phase: str = "downloading"  # "checking" (hashing the part on disk), "retrying"
    retry: int = 0

    @property
    def eta_seconds(self) -> float | None:
        if not self.total or self.bytes_per_second <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.bytes_per_second)

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.done / self.total) if self.total else None

    def describe(self) -> str:
        """"41% 120 MB of 290 MB, 8.2 MB/s, 21 s left" (the CLI and the window say the same)."""
        total = format_bytes(self.total) if self.total else "?"
        head = f"{int((self.fraction or 0) * 100)}% \u2014 {format_bytes(self.done)} of {total}"
        if self.phase == "checking":
            return f"{head}, checking the part already downloaded"
        if self.phase == "retrying":
            return f"{head}, the connection stalled: trying again ({self.retry})"
        eta = self.eta_seconds
        left = "" if eta is None else f", {format_duration(eta)} left"
        return f"{head}, {format_bytes(int(self.bytes_per_second))}/s{left}"


def format_duration(seconds: float) -> str:
    """"8 s", "3 min 05 s", "1 h 20 min"."""
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


ProgressReport = Callable[[TransferProgress], None]


@dataclass
class TransferControl:
    """Asks a running transfer to stop, from any thread; checked between chunks."""

    _stop: threading.Event = field(default_factory=threading.Event)
    reason: str = ""

    def stop(self, reason: str) -> None:
        self.reason = reason
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait, waking early on a stop; True when stopped."""
        return self._stop.wait(seconds)


class _Speed:
    """Bytes per second over the last few seconds (a window, so a pause does not linger)."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, done: int) -> float:
        now = time.monotonic()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()
        (start, first), (end, last) = self.samples[0], self.samples[-1]
        return (last - first) / (end - start) if end > start else 0.0


def hash_existing(path: Path, update: Callable[[bytes], None], control: TransferControl,
                  progress: ProgressReport | None, total: int | None) -> int:
    """Feed the bytes already on disk to ``digest``; their count."""
    done = 0
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            update(block)
            done += len(block)
            if control.stopped:
                raise TransferStopped(control.reason or "stopped")
            if progress is not None:
                progress(TransferProgress(done, total, 0.0, phase="checking"))
    return done


def fetch(url: str, partial: Path, *, headers: dict[str, str], expected_size: int | None,
          control: TransferControl, progress: ProgressReport | None = None,
          policy: RetryPolicy | None = None) -> str:
    """Bring ``partial`` up to the whole file at ``url``; return its SHA-256 (hex).

    Raises:
        TransferStopped: ``control`` asked to stop (the partial file stays for a resume).
        ConnectionLost: the server stayed silent or unreachable through every retry.
        huggingface_hub.errors.HfHubHTTPError: the server refused (401, 404, ...).
        OSError: writing failed (a full disk: errno ENOSPC).
    """
    import httpx2
    from huggingface_hub import get_session, hf_raise_for_status

    retried = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError,
               _TransientAnswer)
    policy = policy or RetryPolicy()
    digest = hashlib.sha256()
    if expected_size is not None and partial.exists() and partial.stat().st_size > expected_size:
        partial.unlink()  # longer than the file: not ours to continue
    partial.parent.mkdir(parents=True, exist_ok=True)
    done = hash_existing(partial, digest.update, control, progress, expected_size)
    speed = _Speed()
    failures = 0
    last_error: BaseException | None = None
    while expected_size is None or done < expected_size:
        if control.stopped:
            raise TransferStopped(control.reason or "stopped")
        request_headers = dict(headers, **({"Range": f"bytes={done}-"} if done else {}))
        before = done
        try:
            with get_session().stream(
                    "GET", url, headers=request_headers, follow_redirects=True,
                    timeout=httpx2.Timeout(policy.stall_seconds, connect=policy.stall_seconds)
            ) as response:
                if response.status_code in TRANSIENT_STATUS:
                    raise _TransientAnswer(f"the server answered {response.status_code}")
                if response.status_code >= 400:
                    response.read()
                hf_raise_for_status(response)
                if done and response.status_code != 206:
                    # The server ignored the Range: start over rather than append a second copy.
                    digest, done = hashlib.sha256(), 0
                    partial.write_bytes(b"")
                with partial.open("ab") as writer:
                    for chunk in response.iter_bytes():  # as received: a stall loses none
                        writer.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(TransferProgress(done, expected_size, speed.add(done)))
                        if control.stopped:
                            writer.flush()
                            raise TransferStopped(control.reason or "stopped")
            if expected_size is None:
                break
            if done == before:
                raise httpx2.RemoteProtocolError("the server ended the answer without data")
        except retried as exc:
            last_error = exc
            failures = 1 if done > before else failures + 1
            if failures >= policy.attempts:
                why = (f"the server was busy ({exc})" if isinstance(exc, _TransientAnswer) else
                       f"the server sent nothing for {policy.stall_seconds:g} seconds")
                raise ConnectionLost(
                    f"The download stopped: {why}, {policy.attempts} times in a row. The part "
                    "already downloaded is kept: resume it when the connection is back.",
                    f"{type(exc).__name__}: {exc}") from exc
            if progress is not None:
                progress(TransferProgress(done, expected_size, 0.0, phase="retrying",
                                          retry=failures))
            if control.sleep(policy.wait_before(failures)):
                raise TransferStopped(control.reason or "stopped") from last_error
    return digest.hexdigest()
