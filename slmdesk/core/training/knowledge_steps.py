"""The training run's knowledge steps: examples from the documents, and the quiz.

Kept out of the worker so that the worker stays about processes, events and checkpoints:

* :func:`knowledge_examples` turns the documents into question-and-answer examples in the base
  model's chat format (:mod:`slmdesk.core.knowledge` makes them, :mod:`slmdesk.core.training._chat_examples`
  writes them in the model's turn format), with plain-words notes for the user;
* :func:`load_or_make_quiz` makes the quiz once per run and keeps it in ``RUN_DIR/quiz.json``,
  so that a resumed run asks the same questions after training as it asked before.

Plain Python (no torch).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

QUIZ_FILE = "quiz.json"


@dataclass
class KnowledgeExamples:
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # (rule, prompt, reply)
    notes: list[str] = field(default_factory=list)
    chat_format: str = ""


def knowledge_examples(texts: Sequence[str], titles: Sequence[str], base_model_path: Path,
                       *, seed: int = 0, written: Sequence[Any] = (),
                       hold_back: bool = False) -> KnowledgeExamples:
    """Examples for ``texts`` in the chat format of the model at ``base_model_path``; none, with
    a note saying why, when the format is unknown or no sentence lends itself to a question.
    ``written`` are questions the model wrote itself (:mod:`slmdesk.core.training.model_questions`);
    ``hold_back`` keeps a few sentences for the quiz (:mod:`slmdesk.core.knowledge.held_back`)."""
    from slmdesk.core.engine.chat_format import ChatTemplateError, UnknownChatFormat
    from slmdesk.core.gguf.info import GGUFError, read_model_info
    from slmdesk.core.knowledge import augment_documents
    from slmdesk.core.training._chat_examples import (
        chat_format_for_model,
        render_chat_parts,
    )

    augmentation = augment_documents(list(texts), list(titles), seed=seed, hold_back=hold_back)
    out = KnowledgeExamples(notes=list(augmentation.notes))
    pairs = [(e.form, e.question, e.answer) for e in augmentation.examples]
    pairs += [(w.form, w.question, w.answer) for w in written]
    if not pairs:
        return out
    try:
        info = read_model_info(base_model_path)
        choice = chat_format_for_model(info)
        out.examples = [(form, *render_chat_parts(choice, question, answer, info.chat_template))
                        for form, question, answer in pairs]
        out.chat_format = choice.name
    except (GGUFError, UnknownChatFormat, ChatTemplateError, OSError) as exc:
        out.notes.append(f"Questions about the documents were left out ({exc}); the model "
                         "learns their text only.")
    return out


def load_or_make_quiz(run_dir: Path, texts: Sequence[str] | None, count: int, *,
                      seed: int = 0, hold_back: bool = False) -> list[Any]:
    """The run's quiz: read from ``RUN_DIR/quiz.json``, else made from ``texts`` and saved."""
    path = Path(run_dir) / QUIZ_FILE
    if path.is_file():
        from slmdesk.core.knowledge import QuizItem

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [QuizItem(**item) for item in data["items"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged file: make the quiz again
    if texts is None or count <= 0:
        return []
    from slmdesk.core.knowledge import make_quiz

    items = make_quiz(list(texts), count, seed=seed, hold_back=hold_back)
    tmp = path.with_name(QUIZ_FILE + ".tmp")
    tmp.write_text(json.dumps({"items": [asdict(item) for item in items]}, indent=1,
                              ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return items


WRITTEN_FILE = "model_questions.json"


def load_or_write_questions(run_dir: Path, model_path: Path, texts: Sequence[str] | None,
                            per_passage: int, **kwargs: Any) -> list[Any]:
    """The questions the model wrote for this run: from ``RUN_DIR/model_questions.json``, else
    asked now (engine errors reach the caller) and saved, so a resumed run trains on the same."""
    from slmdesk.core.training.model_questions import WrittenQuestion, write_questions

    path = Path(run_dir) / WRITTEN_FILE
    if path.is_file():
        try:
            return [WrittenQuestion(**item) for item in
                    json.loads(path.read_text(encoding="utf-8"))["questions"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if not texts or per_passage <= 0:
        return []
    written = write_questions(model_path, texts, per_passage=per_passage, **kwargs)
    tmp = path.with_name(WRITTEN_FILE + ".tmp")
    tmp.write_text(json.dumps({"questions": [asdict(w) for w in written]}, indent=1,
                              ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return written
