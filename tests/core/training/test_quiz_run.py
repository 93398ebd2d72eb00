"""The quiz asked in chat: the shared engine setup and one-turn chat, with a stand-in engine
(the real engine is exercised by the slow training and end-to-end tests)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import slmdesk.core.engine.client as engine_client
from slmdesk.core.engine.client import EngineError
from slmdesk.core.training.quiz_run import (
    MEASURED_ERROR,
    QUIZ_CONTEXT_TOKENS,
    QUIZ_SAMPLING,
    TAUGHT_TO_NATURAL,
    QuizAnswer,
    QuizResult,
    ask_in_chat,
    ask_quiz,
    expectation_sentence,
    expected_share,
    quiz_engine,
    quiz_summary,
)


class FakeEngine:
    """Answers every question with ``replies[question]``, split into token events."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.loads: list[dict] = []
        self.chats: list[tuple[list, dict]] = []
        self.closed = False

    def __enter__(self) -> "FakeEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True

    def load(self, model_path, **kwargs) -> dict:
        self.loads.append({"model_path": model_path, **kwargs})
        return {"type": "loaded", "chat_format": "gemma"}

    def chat(self, messages, params):
        self.chats.append((messages, params))
        reply = self.replies[messages[-1]["content"]]
        if reply == "<error>":
            raise EngineError("The message is too long.")
        for word in reply.split(" "):
            yield {"type": "token", "text": word + " "}
        yield {"type": "done", "reason": "stop"}


@pytest.fixture
def fake_engine(monkeypatch):
    engine = FakeEngine({"Where is the lighthouse?": "  It stands in Tromsø.",
                         "Who built it?": "<error>"})
    monkeypatch.setattr(engine_client, "EngineClient", lambda: engine)
    return engine


def test_a_question_is_asked_alone_and_greedily(fake_engine):
    reply = ask_in_chat(fake_engine, "Where is the lighthouse?")

    assert reply == "It stands in Tromsø."
    assert fake_engine.chats == [([{"role": "user", "content": "Where is the lighthouse?"}],
                                  QUIZ_SAMPLING)]


def test_the_engine_loads_the_model_with_the_adapter_and_closes(fake_engine, tmp_path):
    with quiz_engine(tmp_path / "base.gguf", tmp_path / "adapter.gguf", threads=2) as (
            engine, loaded):
        assert engine is fake_engine and loaded["chat_format"] == "gemma"
    assert fake_engine.closed
    assert fake_engine.loads == [{"model_path": tmp_path / "base.gguf",
                                  "adapters": [(str(tmp_path / "adapter.gguf"), 1.0)],
                                  "n_ctx": QUIZ_CONTEXT_TOKENS, "n_threads": 2}]


def test_the_quiz_marks_each_reply_and_lets_engine_errors_through(fake_engine, tmp_path):
    item = SimpleNamespace(form="where", question="Where is the lighthouse?", expected="Tromsø",
                           source="The lighthouse stands in Tromsø.")
    result = ask_quiz(tmp_path / "base.gguf", [item], "before")

    assert fake_engine.loads[0]["adapters"] == []
    assert (result.stage, result.chat_format, result.correct, result.total) == (
        "before", "gemma", 1, 1)
    assert result.answers[0].reply == "It stands in Tromsø."

    failing = SimpleNamespace(form="who", question="Who built it?", expected="Ada",
                              source="Ada built it.")
    with pytest.raises(EngineError):
        ask_quiz(tmp_path / "base.gguf", [failing], "after")


def _result(taught: list[bool], untaught: list[bool]) -> QuizResult:
    return QuizResult("after", [QuizAnswer("q", "e", "r", ok) for ok in taught]
                      + [QuizAnswer("q", "e", "r", ok, taught=False) for ok in untaught])


def test_the_summary_names_the_held_back_score_apart():
    result = _result([True] * 11 + [False], [True, False, False, False])
    assert quiz_summary(None, result) == ("answered 11 of 12 after; on sentences held back from "
                                          "training: 1 of 4 after")
    assert quiz_summary(_result([False] * 12, [False] * 4).to_dict(), result.to_dict()) == (
        "answered 0 of 12 before, 11 of 12 after; on sentences held back from training: 0 of 4 "
        "before, 1 of 4 after")
    assert quiz_summary(None, _result([True, False], [])) == "answered 1 of 2 after"
    assert quiz_summary(None, result, held_back=False) == "answered 11 of 12 after"


def test_the_expectation_lies_between_remembering_and_the_held_back_score_with_an_honest_width():
    assert expected_share(_result([], [])) is None and expectation_sentence(None) == ""
    share, low, high, asked = expected_share(_result([True] * 12, [True, False, False, False]))
    assert (share, asked) == (0.625, 4)  # halfway between 12/12 and 1/4
    assert low <= share - MEASURED_ERROR and high >= share + MEASURED_ERROR
    few = expected_share(_result([], [True, False]))
    many = expected_share(_result([], [True, False] * 40))
    assert few[0] == many[0] == 0.5 and (few[2] - few[1]) > (many[2] - many[1])
    assert many[1] == pytest.approx(0.5 - MEASURED_ERROR)  # never narrower than measured
    assert expectation_sentence(_result([True] * 11 + [False], [True, False, False, False])
                                .to_dict()) == (
        "It answered 1 of 4 questions about sentences held back from training (11 of 12 about "
        "taught ones); your own questions fall in between: expect about 6 in 10 to be answered "
        "(somewhere between 3 and 9 in 10).")
    # a quiz.json or metrics written before held-back sentences existed reads as all taught
    old = {"stage": "after", "answers": [{"question": "q", "expected": "e", "reply": "e",
                                          "correct": True}]}
    assert QuizResult.from_dict(old).untaught == [] and "1 of 1 questions" in expectation_sentence(old)


def test_with_every_sentence_taught_the_expectation_is_the_remembering_score_scaled():
    share, low, high, asked = expected_share(_result([True] * 10 + [False] * 2, []))
    assert asked == 0 and share == pytest.approx(TAUGHT_TO_NATURAL * 10 / 12)
    assert low <= share - MEASURED_ERROR and high >= share + MEASURED_ERROR and low >= 0
    assert expectation_sentence(_result([True] * 10 + [False] * 2, []).to_dict()) == (
        "It answered 10 of 12 questions about what it was taught, worded as the training "
        "worded them. Your own questions will be worded otherwise: on documents others wrote, "
        "people's questions got about 4 right answers for every 10 the quiz got. Expect about "
        "3 in 10 of yours to be answered (somewhere between 0 and 6 in 10).")
    assert expected_share(_result([False] * 12, []))[:2] == (0.0, 0.0)
