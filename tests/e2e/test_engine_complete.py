"""Raw-text completion (the notebook's request): the real starter model in the real host."""

from __future__ import annotations

import io
import time

import pytest

from slmdesk.core.engine.client import EngineClient, EngineError
from slmdesk.core.engine.host import EngineHost

GREEDY = {"temperature": 0.0, "seed": 1, "max_tokens": 12}
COUNTING = "1, 2, 3, 4, 5, 6,"
EVENT_TIMEOUT = 120
N_CTX = 256


def _complete(engine: EngineClient, prompt: str, params=GREEDY):
    events = list(engine.complete(prompt, params, timeout=EVENT_TIMEOUT))
    return [e for e in events if e["type"] == "token"], events[-1]


@pytest.fixture(scope="module")
def engine(starter_model_path):
    with EngineClient() as client:
        client.load(starter_model_path, n_ctx=N_CTX)
        yield client


@pytest.mark.slow
def test_the_text_is_continued_as_it_stands(engine):
    tokens, done = _complete(engine, COUNTING)
    text = "".join(t["text"] for t in tokens)
    assert done["type"] == "done" and done["text"] == text
    # A base model continues the list; in a chat turn it would answer instead.
    assert text.startswith(" 7, 8"), text
    assert done["finish_reason"] == "length" and done["completion_tokens"] == GREEDY["max_tokens"]
    assert done["truncated_tokens"] == 0 and done["truncated_turns"] == 0
    assert done["time_to_first_token"] > 0 and done["tokens_per_second"] > 0


@pytest.mark.slow
def test_prompt_tokens_count_the_models_bos(engine):
    _, empty = _complete(engine, "", {**GREEDY, "max_tokens": 4})
    assert empty["prompt_tokens"] == 1  # Gemma asks for a BOS: an empty text is just that
    assert empty["completion_tokens"] == 4
    _, one = _complete(engine, "Hello", {**GREEDY, "max_tokens": 1})
    assert one["prompt_tokens"] == 2


@pytest.mark.slow
def test_greedy_completions_repeat_and_continue_seamlessly(engine):
    first = _complete(engine, COUNTING)[1]["text"]
    assert _complete(engine, COUNTING)[1]["text"] == first
    # Continue = the same request on the longer text: the list goes on.
    more = _complete(engine, COUNTING + first)[1]["text"]
    assert more.strip() and more != first


@pytest.mark.slow
def test_stop_strings_end_the_completion(engine):
    _, done = _complete(engine, COUNTING, {**GREEDY, "stop": [","]})
    assert done["text"] == " 7" and done["finish_reason"] == "stop"


@pytest.mark.slow
def test_cancel_stops_a_completion_quickly_and_keeps_what_was_written(engine):
    received, cancelled_at, done = [], None, None
    for event in engine.complete(COUNTING, {**GREEDY, "max_tokens": 2000},
                                 timeout=EVENT_TIMEOUT):
        if event["type"] == "token":
            received.append(event["text"])
            if len(received) == 3:
                cancelled_at = time.perf_counter()
                engine.cancel()
        else:
            done = event
    assert cancelled_at is not None
    # Counted in tokens, not seconds: a token can take a second on a machine busy elsewhere.
    assert done["finish_reason"] == "cancelled" and done["completion_tokens"] < 10
    assert time.perf_counter() - cancelled_at < 10
    assert done["text"] == "".join(received)
    assert _complete(engine, COUNTING)[1]["finish_reason"] == "length"


@pytest.mark.slow
def test_a_text_longer_than_the_context_keeps_its_end(engine):
    long = "".join(f"{i}, " for i in range(1, 400)).rstrip()  # ~800 tokens, N_CTX is 256
    tokens, done = _complete(engine, long, {**GREEDY, "max_tokens": 8})
    assert done["truncated_tokens"] > 400
    assert done["prompt_tokens"] + 8 == N_CTX
    assert done["finish_reason"] == "length"
    assert "".join(t["text"] for t in tokens).strip().startswith("400")


@pytest.mark.slow
def test_a_huge_max_tokens_leaves_half_the_context_to_the_text(engine):
    long = "word " * 400
    _, done = _complete(engine, long, {**GREEDY, "max_tokens": 5000, "stop": ["\n"]})
    assert done["prompt_tokens"] == N_CTX // 2
    assert done["prompt_tokens"] + done["completion_tokens"] <= N_CTX


@pytest.mark.slow
def test_completion_without_a_model_is_a_clear_error():
    with EngineClient() as fresh, pytest.raises(EngineError, match="No model") as info:
        _complete(fresh, COUNTING)
    assert info.value.code == "no_model"


# --- fitting a text to the context, without a model -----------------------------------------


class _Words:
    """Stands in for llama_cpp.Llama: token i+10 for the i-th word, BOS 1 if the model has one."""

    def __init__(self, n_ctx: int, bos: int = 1) -> None:
        self._n_ctx, self._bos = n_ctx, bos

    def n_ctx(self) -> int:
        return self._n_ctx

    def token_bos(self) -> int:
        return self._bos

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        words = [10 + i for i, _ in enumerate(text.split())]
        return ([self._bos] if add_bos and self._bos >= 0 else []) + words


def _host(n_ctx: int, bos: int = 1) -> EngineHost:
    host = EngineHost(io.BytesIO())
    host.llm = _Words(n_ctx, bos)
    return host


def test_a_text_that_fits_is_sent_whole_with_its_bos():
    tokens, dropped, max_tokens = _host(100)._fit_text("a b c", 20)
    assert (tokens, dropped, max_tokens) == ([1, 10, 11, 12], 0, 20)


def test_a_long_text_loses_its_beginning_and_keeps_the_bos():
    tokens, dropped, max_tokens = _host(100)._fit_text("w " * 150, 20)
    assert len(tokens) == 80 and tokens[0] == 1 and tokens[-1] == 10 + 149
    assert dropped == 151 - 80 and max_tokens == 20


def test_the_reply_gets_at_most_half_the_context_and_then_what_is_left():
    tokens, dropped, max_tokens = _host(100)._fit_text("w " * 150, 1000)
    assert len(tokens) == 50 and max_tokens == 50
    tokens, dropped, max_tokens = _host(100)._fit_text("w " * 10, 1000)
    assert dropped == 0 and max_tokens == 100 - 11


def test_a_model_without_bos_is_cut_the_same_way():
    tokens, dropped, _ = _host(10, bos=-1)._fit_text("w " * 20, 4)
    assert tokens == list(range(10 + 14, 10 + 20)) and dropped == 14


def test_an_empty_text_without_bos_is_refused_clearly():
    with pytest.raises(Exception, match="no text to continue") as info:
        _host(10, bos=-1)._fit_text("", 4)
    assert info.value.code == "empty"
