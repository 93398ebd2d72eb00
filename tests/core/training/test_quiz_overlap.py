"""The quiz before training asked while the training loads: the policy, the background call,
and a real worker run whose overlapped quiz gives the answers a quiz asked on its own gives."""

from __future__ import annotations

import threading
import time

import pytest

from slmdesk.core.training import events as ev
from slmdesk.core.training.quiz_overlap import (
    PendingQuiz,
    overlap_engine_threads,
    overlap_wanted,
)
from tests.core.training.test_worker import drive, new_run, of_type


def test_the_setting_is_obeyed_and_auto_follows_the_measurement():
    from slmdesk.core.training import quiz_overlap

    assert overlap_wanted("on", 1) and not overlap_wanted("off", 64)
    assert overlap_wanted("auto", quiz_overlap.MIN_OVERLAP_CORES)
    assert not overlap_wanted("auto", quiz_overlap.MIN_OVERLAP_CORES - 1)
    assert overlap_engine_threads(2) == 1 and overlap_engine_threads(1) == 1
    assert overlap_engine_threads(8, job_threads=3) == 3


def test_a_background_quiz_runs_in_another_thread_and_reports_in_the_callers():
    threads = []

    def ask(should_stop):
        threads.append(threading.current_thread())
        return "answers"

    pending = PendingQuiz(ask, background=True)
    assert pending.background and pending.result() == "answers"
    assert threads[0] is not threading.current_thread()
    now = PendingQuiz(ask, background=False)
    assert not now.background and now.result() == "answers"
    assert threads[1] is threading.current_thread()


def test_a_background_quizs_failure_reaches_the_caller():
    def ask(should_stop):
        raise TimeoutError("the engine did not start")

    with pytest.raises(TimeoutError, match="did not start"):
        PendingQuiz(ask, background=True).result()


def test_abandoning_stops_the_quiz_and_waits_for_it():
    answered, finished = [], threading.Event()

    def ask(should_stop):
        while not should_stop():
            answered.append(1)
            time.sleep(0.01)
        finished.set()
        return len(answered)

    pending = PendingQuiz(ask, background=True)
    time.sleep(0.05)
    pending.abandon()
    assert finished.is_set() and answered


@pytest.mark.slow
def test_an_overlapped_quiz_gives_the_answers_of_one_asked_alone_and_the_run_completes(
        cached_training_base, starter_model_path):
    from slmdesk.core.training.knowledge_steps import load_or_make_quiz
    from slmdesk.core.training.quiz_run import ask_quiz

    run, _ = new_run(starter_model_path, quiz_questions=3, max_steps=2, sequence_length=128,
                     overlap=8, quiz_overlap="on", dtype="fp32")
    events = drive(run.run_dir)
    assert events[-1]["type"] == ev.FINISHED, events[-1]
    before, after = of_type(events, ev.QUIZ)
    assert before["stage"] == "before" and before["overlapped"] is True
    assert after["stage"] == "after" and after["overlapped"] is False
    kinds = [e["type"] for e in events]
    # waited for before the probe (which must time the processor alone) and the steps
    assert kinds.index(ev.QUIZ) < kinds.index(ev.PRECISION) < kinds.index(ev.STEP)
    assert any("while the training loads" in e["message"] for e in of_type(events, ev.STATUS))
    assert events[-1]["metrics"]["quiz_before"]["answers"] == before["answers"]

    items = load_or_make_quiz(run.run_dir, None, 0)
    alone = ask_quiz(starter_model_path, items, "before")
    assert [a["reply"] for a in before["answers"]] == [a.reply for a in alone.answers]
    assert before["correct"] == alone.correct and before["total"] == alone.total
    assert sum(a.taught for a in alone.answers) == 3  # then those about held-back sentences


@pytest.mark.slow
def test_a_cancel_while_the_quiz_runs_beside_the_loading_stops_both(cached_training_base,
                                                                   starter_model_path):
    run, _ = new_run(starter_model_path, quiz_questions=6, quiz_overlap="on")

    def cancel_when_loading(runner, event):
        if event["type"] == ev.STATUS and event["stage"] == "loading":
            runner.cancel()

    # The worker waits for the quiz's engine to close (no engine outlives it); the engine's
    # start and the answer under way are not interruptible, so on a busy machine this takes a
    # while (93 s once at a load average of 6, 4 s another time): bounded, not instant.
    started = time.perf_counter()
    events = drive(run.run_dir, on_event=cancel_when_loading)
    assert events[-1]["type"] == ev.CANCELLED, events[-1]
    assert time.perf_counter() - started < 180
    assert not of_type(events, ev.STEP) and not of_type(events, ev.QUIZ)
