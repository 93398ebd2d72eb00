"""The quiz before training, asked while the worker loads, where that pays.

Before training the worker asks the base model its quiz through an engine child (llama.cpp,
about 12 s for 12 questions on 2 cores). Right after it come steps that keep one core busy at
most: importing torch and transformers, loading the converted model, cutting the documents into
chunks. With the overlap on, the quiz runs in a thread (its engine is its own process) while the
worker does those steps, and the worker waits for it before the precision probe, which must time
the processor alone, and before anything that computes on all cores.

Only the loading is overlapped, not the first training steps: the steps use every core, and
sharing them with the quiz pays only where one side gains less than 2x from its second core.
On the busy 2-core machine measured the quiz ran faster on one engine thread than on two, but
an idle machine could not be had to see whether that holds without the other jobs, so the
steps keep all cores.

The answers are the same either way: the same engine, questions and greedy settings, and the
worker reports them through the same code once they are in (tests/core/training/
test_quiz_overlap.py). Only the time differs, so the setting (``TrainingJob.quiz_overlap``) is
"auto" by default and :func:`overlap_wanted` decides from the measurement in
bench/quiz_overlap_bench.py (README "Measured").

Plain Python (no torch).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, TypeVar

QUIZ_OVERLAP = ("auto", "on", "off")
#: Physical cores from which "auto" overlaps the quiz with loading. Measured on a 2-core EPYC
#: shared with other jobs (bench/quiz_overlap_bench.py, bench/results/quiz_overlap_bench.json,
#: alternated, load average 6): the first training step came 5.4 s sooner (43.7 s against
#: 49.0 s from the worker's start, medians of two), the quiz taking 19.8 s on one engine thread
#: beside the loading against 18.3 s on two alone, with the same answers. On one core the quiz
#: and the loading would share it: nothing to gain, and not measured, so it stays off there.
MIN_OVERLAP_CORES = 2

T = TypeVar("T")


def overlap_wanted(setting: str, cores: int) -> bool:
    """Whether the quiz before training runs while the worker loads.

    "on" and "off" are obeyed; "auto" overlaps from :data:`MIN_OVERLAP_CORES` physical cores:
    the steps the quiz overlaps use one core, so a second one is free for the engine.
    """
    if setting in ("on", "off"):
        return setting == "on"
    return cores >= MIN_OVERLAP_CORES


def overlap_engine_threads(cores: int, job_threads: int = 0) -> int:
    """The quiz engine's threads while it shares the machine with the loading steps: all
    physical cores but the one the loading uses (at least one)."""
    return job_threads or max(1, cores - 1)


class PendingQuiz(Generic[T]):
    """A quiz asked now (``background=False``) or in a thread while the caller goes on.

    ``ask(should_stop)`` does the asking; :meth:`result` returns what it returned (or raises what
    it raised) in the caller's thread, so that the caller reports it the same way in both cases.
    :meth:`abandon` stops a background quiz after its current answer and waits for its engine
    to close: the worker calls it whenever it ends early, so that no engine outlives it. The
    engine's start and the answer under way cannot be interrupted, so a cancel during an
    overlapped quiz takes that long (seconds; tens of seconds on a busy machine), where the
    quiz asked in the worker's own thread stops at once.
    """

    def __init__(self, ask: Callable[[Callable[[], bool]], T], *, background: bool) -> None:
        self._ask = ask
        self._stop = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future[T] | None = None
        if background:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="quiz-before")
            self._future = self._executor.submit(ask, self._stop.is_set)

    @property
    def background(self) -> bool:
        return self._future is not None

    @property
    def done(self) -> bool:
        """Whether :meth:`result` would return at once (a quiz asked now is never started)."""
        return self._future is None or self._future.done()

    def result(self) -> T:
        if self._future is None:
            return self._ask(self._stop.is_set)
        try:
            return self._future.result()
        finally:
            self._close()

    def abandon(self) -> None:
        self._stop.set()
        self._close()

    def _close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
