"""Bounded, seeded fuzzing with Hypothesis: the shared harness of the fuzz tests.

A fuzz test gives a Hypothesis strategy of cases and a check; :func:`fuzz` runs the check on each
case inside :func:`bounded`, which fails the case when it takes too long or allocates too much,
and counts the cases. Runs are reproducible: batch ``n`` always uses seed ``n`` (no example
database), so a failure reported with its batch reruns the same way.

* A normal run (``.ci/run``) is one batch per test, sized to keep all fuzz tests together within
  about a minute.
* ``FUZZ_MINUTES=20`` turns every fuzz test into batches of :data:`LONG_BATCH` cases with seeds 0,
  1, 2, ... until its share of the 20 minutes is spent (the shares of all fuzz tests add up to
  one, so the whole fuzz run takes about that long; set ``FUZZ_BATCH`` for another batch size, and
  ``FUZZ_FIRST_BATCH`` to start at another batch: the one a failure named, or where a run stopped).
  Each test prints its case count (``pytest -s`` shows it).

A case whose input makes the code under test fail is written to ``$FUZZ_CRASH_DIR`` (default:
the system's temp folder, ``slmdesk-fuzz-crashers``) so it can be kept as a regression file.

Limits of the bounds: the deadline is CPU time (``ITIMER_VIRTUAL``), so a slow machine or other
jobs do not fail a case, and it interrupts Python code only between bytecodes, not inside one long
C call. The memory bound is the rise of the peak resident size on Linux (it sees C libraries such as
lxml and zlib too, but memory freed earlier and reused does not count), tracemalloc's peak elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

FUZZ_MINUTES = float(os.environ.get("FUZZ_MINUTES") or 0)
LONG_BATCH = int(os.environ.get("FUZZ_BATCH") or 2000)
FIRST_BATCH = int(os.environ.get("FUZZ_FIRST_BATCH") or 0)  # to replay a reported batch, or go on
CRASH_DIR = Path(os.environ.get("FUZZ_CRASH_DIR") or Path(tempfile.gettempdir()) / "slmdesk-fuzz-crashers")


class CaseTooSlow(AssertionError):
    """A case overran its deadline (a failure Hypothesis can shrink, like any assertion)."""


class _Overrun(BaseException):
    """Raised inside the code under test at the deadline. A BaseException, so the ``except
    Exception`` of a reader (pypdf raises many kinds) does not take the hang for a damaged file;
    and should it be swallowed anyway, :func:`bounded` still fails the case."""


class CaseTooLarge(AssertionError):
    """A case allocated more memory than its bound."""


class _PeakMemory:
    """How far memory use rose during a block: the peak resident size on Linux (reset through
    ``/proc/self/clear_refs``, so it sees C libraries' allocations and costs nothing per
    allocation), else tracemalloc's peak (Python's allocator only, and 15 times slower)."""

    def __init__(self) -> None:
        self.start = 0
        self.proc = _resident_kb("VmRSS") is not None and _reset_peak()

    def __enter__(self) -> _PeakMemory:
        if self.proc:
            _reset_peak()
            self.start = _resident_kb("VmRSS") or 0
        else:
            tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.peak = ((_resident_kb("VmHWM") or 0) - self.start) * 1024
        else:
            self.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()


def _resident_kb(field: str) -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextlib.contextmanager
def bounded(*, cpu_seconds: float, max_bytes: int) -> Iterator[None]:
    """Fail the block if it runs for more than ``cpu_seconds`` or its memory use rises by more than ``max_bytes``."""
    overran = False

    def overrun(signum: int, frame: Any) -> None:
        nonlocal overran
        overran = True
        raise _Overrun

    timer = hasattr(signal, "setitimer")  # not on Windows: no deadline there, only the memory bound
    previous = signal.signal(signal.SIGVTALRM, overrun) if timer else None
    memory = _PeakMemory()
    try:
        with memory:
            if timer:
                signal.setitimer(signal.ITIMER_VIRTUAL, cpu_seconds)
            yield
    except _Overrun:
        pass
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, previous)
    if overran:
        raise CaseTooSlow(f"the case ran for more than {cpu_seconds} s of CPU time")
    if memory.peak > max_bytes:
        raise CaseTooLarge(f"the case raised memory use by {memory.peak / 1e6:.1f} MB at its peak "
                           f"(bound {max_bytes / 1e6:.0f} MB)")


def keep_crasher(data: bytes, suffix: str) -> Path:
    """Write an input that failed a check where it can be turned into a regression file."""
    CRASH_DIR.mkdir(parents=True, exist_ok=True)
    path = CRASH_DIR / f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    path.write_bytes(data)
    return path


def fuzz(cases: st.SearchStrategy[Any], check: Callable[[Any], None], *, examples: int, name: str,
         share: float) -> int:
    """Run ``check`` on ``examples`` cases (seed 0), or on batches until ``share`` of ``FUZZ_MINUTES`` is spent.

    Returns how many cases were checked (shrinking a failure re-runs cases; they are not counted
    as a success). Health checks on slow or filtered data are off: our cases are files, big on
    purpose.
    """
    count = 0

    def one_case(case: Any) -> None:
        nonlocal count
        check(case)
        count += 1

    ends = time.monotonic() + FUZZ_MINUTES * 60 * share
    batch = FIRST_BATCH
    while True:
        run = settings(max_examples=LONG_BATCH if FUZZ_MINUTES else examples, deadline=None,
                       database=None, derandomize=False, phases=[Phase.generate, Phase.shrink],
                       suppress_health_check=list(HealthCheck))(seed(batch)(given(cases)(one_case)))
        try:
            run()
        except Exception:
            print(f"fuzz {name}: failed in batch {batch} (seed {batch}) after {count} good cases")
            raise
        batch += 1
        if not FUZZ_MINUTES or time.monotonic() > ends:
            break
    print(f"fuzz {name}: {count} cases in batches {FIRST_BATCH} to {batch - 1}")
    return count


def plain_message_problem(message: object) -> str | None:
    """Why ``message`` is not a sentence we can show a person, or None if it is one."""
    if not isinstance(message, str) or not message.strip():
        return f"the message is empty or not text: {message!r}"
    if not message.isprintable():
        return f"the message holds control characters: {message!r}"
    if len(message) > 600:
        return f"the message is {len(message)} characters long: {message[:200]!r}..."
    return None
