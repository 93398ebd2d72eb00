"""Ask the quiz in chat, through the engine, and mark the answers.

The quiz's questions come from :mod:`slmdesk.core.knowledge` (in forms the training data does
not use). They are asked exactly as a person would ask them in the chat panel: one question per
fresh conversation, through the engine process (llama.cpp, the chat format the chat panel would
pick, the exported adapter on the quantized base), greedy so that the result is repeatable.

Plain Python: the training worker runs it before and after training, the benchmarks too.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

#: Enough for a short answer and the sentence that carries it; the questions ask for one fact.
MAX_ANSWER_TOKENS = 48
#: Greedy decoding with the chat panel's default repeat penalty switched off: repeatable marks.
QUIZ_SAMPLING = dict(temperature=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0,
                     max_tokens=MAX_ANSWER_TOKENS, seed=0)


@dataclass(frozen=True)
class QuizAnswer:
    question: str
    expected: str
    reply: str
    correct: bool
    form: str = ""
    source: str = ""


@dataclass
class QuizResult:
    """The quiz's answers at one moment (``stage``: "before" or "after" training)."""

    stage: str
    answers: list[QuizAnswer] = field(default_factory=list)
    seconds: float = 0.0
    chat_format: str = ""

    @property
    def correct(self) -> int:
        return sum(answer.correct for answer in self.answers)

    @property
    def total(self) -> int:
        return len(self.answers)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "correct": self.correct, "total": self.total,
                "seconds": round(self.seconds, 1), "chat_format": self.chat_format,
                "answers": [asdict(answer) for answer in self.answers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QuizResult":
        return cls(stage=data.get("stage", ""), seconds=data.get("seconds", 0.0),
                   chat_format=data.get("chat_format", ""),
                   answers=[QuizAnswer(**answer) for answer in data.get("answers", [])])


def quiz_summary(before: QuizResult | dict | None, after: QuizResult | dict | None) -> str:
    """'answered 0 of 12 before, 9 of 12 after' (either side may be missing)."""
    parts = []
    for result, when in ((before, "before"), (after, "after")):
        if isinstance(result, dict):
            result = QuizResult.from_dict(result)
        if result is not None and result.total:
            parts.append(f"{result.correct} of {result.total} {when}")
    return ("answered " + ", ".join(parts)) if parts else "no quiz"


def ask_quiz(model_path: str | Path, items: Sequence[Any], stage: str, *,
             adapter_path: str | Path | None = None, threads: int | None = None,
             should_stop: Callable[[], bool] = lambda: False,
             on_answer: Callable[[int, QuizAnswer], None] | None = None) -> QuizResult:
    """Ask each of ``items`` (:class:`slmdesk.core.knowledge.QuizItem`) in its own chat.

    Raises the engine's errors (:class:`EngineError`, :class:`EngineCrashed`) to the caller:
    a quiz that cannot run must not fail the training it reports on, so callers catch them.
    """
    from slmdesk.core.engine.client import EngineClient
    from slmdesk.core.knowledge import answer_matches

    started = time.perf_counter()
    result = QuizResult(stage=stage)
    with EngineClient() as engine:
        adapters = [(str(adapter_path), 1.0)] if adapter_path else []
        loaded = engine.load(model_path, adapters=adapters, n_ctx=1024, n_threads=threads)
        result.chat_format = loaded.get("chat_format", "")
        for index, item in enumerate(items):
            if should_stop():
                break
            reply = "".join(event.get("text", "") for event in engine.chat(
                [{"role": "user", "content": item.question}], QUIZ_SAMPLING)
                if event["type"] == "token").strip()
            answer = QuizAnswer(question=item.question, expected=item.expected, reply=reply,
                                correct=answer_matches(reply, item), form=item.form,
                                source=item.source)
            result.answers.append(answer)
            if on_answer is not None:
                on_answer(index, answer)
    result.seconds = time.perf_counter() - started
    return result
