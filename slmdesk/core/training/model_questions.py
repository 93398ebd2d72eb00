"""Questions that an instruction-tuned base model writes itself about each part of the documents.

The rules of :mod:`slmdesk.core.knowledge` ask for names, places, dates and numbers; a model that
already follows instructions can ask about everything else too ("Why did the meeting move?").
It runs through the engine (llama.cpp, the model's own chat format) before training. Only a
model with a chat template is offered this: a base model answers an instruction by rambling.

Every pair is checked against the text it came from: an answer whose words are mostly not in
the passage is a guess, and training on guesses would teach the model to make things up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from slmdesk.core.gguf.info import ModelInfo

FORM = "model_written"
#: Questions asked for per passage when the option is on.
DEFAULT_PER_PASSAGE = 3
#: Characters of document text per request: a few paragraphs, well inside a small context.
PASSAGE_CHARACTERS = 1500
MAX_REPLY_TOKENS = 320
#: Decode and prompt-reading speeds on a laptop CPU for the time estimate (the starter-sized
#: models decode at ~60 tokens/s on 2 cores and read prompts ~10 times faster).
DECODE_TOKENS_PER_SECOND = 40.0
PROMPT_TOKENS_PER_SECOND = 300.0
#: An answer must have at least this share of its words in the passage.
MIN_GROUNDED_SHARE = 0.6

PROMPT = ("Here is a passage from my notes.\n\n\"\"\"\n{passage}\n\"\"\"\n\n"
          "Write {count} different questions that someone could ask about the facts in this "
          "passage, each followed by its short answer taken from the passage. Use exactly this "
          "form, nothing else:\nQ: <question>\nA: <answer>")
_PAIR = re.compile(r"^\s*(?:\d+[.)]\s*)?Q\s*[:.]\s*(?P<q>.+?)\s*\n+\s*A\s*[:.]\s*(?P<a>.+?)\s*$",
                   re.MULTILINE | re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class WrittenQuestion:
    question: str
    answer: str
    passage: str
    form: str = FORM


def offered_for(info: ModelInfo) -> bool:
    """Whether the model can be asked to write questions: it has its own chat template."""
    return info.has_chat_template


def passages(texts: Sequence[str], size: int = PASSAGE_CHARACTERS) -> list[str]:
    """The documents cut into passages of about ``size`` characters at paragraph or sentence
    ends (a long paragraph is cut at the last sentence end before the limit)."""
    out: list[str] = []
    for text in texts:
        current = ""
        for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
            if not paragraph:
                continue
            while len(paragraph) > size:
                cut = max(paragraph.rfind(". ", 0, size), paragraph.rfind("\n", 0, size))
                cut = cut + 1 if cut > size // 3 else size
                if current:
                    out.append(current)
                    current = ""
                out.append(paragraph[:cut].strip())
                paragraph = paragraph[cut:].strip()
            if current and len(current) + len(paragraph) + 2 > size:
                out.append(current)
                current = ""
            current = f"{current}\n\n{paragraph}" if current else paragraph
        if current:
            out.append(current)
    return [p for p in out if p]


def parse_pairs(reply: str) -> list[tuple[str, str]]:
    """(question, answer) pairs from a reply in the asked form; anything else is ignored."""
    pairs = []
    for match in _PAIR.finditer(reply.replace("\r", "")):
        question, answer = match.group("q").strip(), match.group("a").strip()
        if question.endswith("?") and answer and len(question) <= 300 and len(answer) <= 400:
            pairs.append((question, answer))
    return pairs


def grounded(answer: str, passage: str) -> bool:
    """Whether most of the answer's words come from the passage (not a guess)."""
    words = [w.casefold() for w in _WORD.findall(answer)]
    if not words:
        return False
    known = {w.casefold() for w in _WORD.findall(passage)}
    return sum(w in known for w in words) / len(words) >= MIN_GROUNDED_SHARE


def estimate_seconds(texts: Sequence[str], per_passage: int = 3) -> float:
    """Rough time to have the model write the questions (prompt reading plus the replies)."""
    chunks = passages(texts)
    prompt_tokens = sum(len(p) // 4 + 80 for p in chunks)
    reply_tokens = len(chunks) * min(MAX_REPLY_TOKENS, 45 * per_passage)
    return prompt_tokens / PROMPT_TOKENS_PER_SECOND + reply_tokens / DECODE_TOKENS_PER_SECOND


def write_questions(model_path: str | Path, texts: Sequence[str], *, per_passage: int = 3,
                    threads: int | None = None, should_stop: Callable[[], bool] = lambda: False,
                    on_progress: Callable[[int, int], None] | None = None
                    ) -> list[WrittenQuestion]:
    """Ask the model at ``model_path`` for ``per_passage`` questions on each passage of
    ``texts``; keep the well-formed, grounded and new ones. Engine errors reach the caller."""
    from slmdesk.core.engine.client import EngineClient

    chunks = passages(texts)
    out: list[WrittenQuestion] = []
    seen: set[str] = set()
    with EngineClient() as engine:
        engine.load(model_path, n_ctx=2048, n_threads=threads)
        for index, passage in enumerate(chunks):
            if should_stop():
                break
            prompt = PROMPT.format(passage=passage, count=per_passage)
            reply = "".join(event.get("text", "") for event in engine.chat(
                [{"role": "user", "content": prompt}],
                dict(temperature=0.0, top_k=1, top_p=1.0, repeat_penalty=1.05,
                     presence_penalty=0.0, frequency_penalty=0.0,
                     max_tokens=MAX_REPLY_TOKENS, seed=0)) if event["type"] == "token")
            for question, answer in parse_pairs(reply)[:per_passage]:
                key = question.casefold()
                if key not in seen and grounded(answer, passage):
                    seen.add(key)
                    out.append(WrittenQuestion(question, answer, passage))
            if on_progress is not None:
                on_progress(index + 1, len(chunks))
    return out
