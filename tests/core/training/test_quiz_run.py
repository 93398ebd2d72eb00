"""The quiz asked in chat: the shared engine setup and one-turn chat, with a stand-in engine
(the real engine is exercised by the slow training and end-to-end tests)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import slmdesk.core.engine.client as engine_client
from slmdesk.core.engine.client import EngineError
from slmdesk.core.training.quiz_run import (
    QUIZ_CONTEXT_TOKENS,
    QUIZ_SAMPLING,
    ask_in_chat,
    ask_quiz,
    quiz_engine,
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
