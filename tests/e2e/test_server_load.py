"""The server under load and when the engine dies, on the real SmolLM2 starter, loopback only.

Eight streaming clients at once and one that leaves halfway: every reply arrives whole, is its
own (the same as the reply to the same question asked alone) and nobody's generation is stopped
by anyone else's; the queue bound answers 503 with Retry-After. Then the engine is killed in
the middle of a reply: that request gets a 500 that says so, and the next one is served.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time

import pytest
from openai import APIError, InternalServerError, OpenAI

from slmdesk.core.library.store import ModelLibrary
from slmdesk.core.server.server import LocalServer, ServerConfig
from slmdesk.paths import AppPaths

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
QUESTIONS = ["What is the opposite of hot?", "What color is the sky on a clear day?",
             "Name a fruit.", "How many legs does a cat have?"]
MAX_TOKENS = 10
CLIENTS = 8
MAX_WAITING = 8
# A continuation that runs its full 1500 tokens (about 20 s): counting goes on only without the
# Chat defaults' presence and frequency penalties, which end it after about 40 tokens.
LONG_REPLY = {"model": MODEL, "prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "max_tokens": 1500,
              "temperature": 0, "presence_penalty": 0, "frequency_penalty": 0}


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("load-home")
    paths = AppPaths(root / "data", root / "config", root / "cache", root / "logs").ensure()
    library = ModelLibrary.open(paths)
    library.ensure_starters()
    library.close()
    with LocalServer(paths, ServerConfig(port=0, max_waiting=MAX_WAITING)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    return OpenAI(base_url=server.base_url, api_key=server.token.current(), max_retries=0,
                  timeout=300)


def _ask(client, question: str) -> tuple[str, str | None, object]:
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}], stream=True,
        temperature=0, max_tokens=MAX_TOKENS, stream_options={"include_usage": True})
    parts, reason, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            reason = choice.finish_reason or reason
    return "".join(parts), reason, usage


def test_eight_streams_and_one_that_leaves_all_get_their_own_whole_reply(server, client):
    alone = {}
    for question in QUESTIONS:  # each question asked alone: the reply it must get under load
        answer = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": question}], temperature=0,
            max_tokens=MAX_TOKENS)
        alone[question] = (answer.choices[0].message.content, answer.choices[0].finish_reason,
                           answer.usage.completion_tokens)

    # The one that leaves: a long continuation, running while the others queue behind it.
    leaving = client.completions.create(**LONG_REPLY, stream=True)
    pieces = iter(leaving)
    first = [next(pieces).choices[0].text for _ in range(3)]
    assert server.runner.busy

    results: dict[int, tuple] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = _ask(client, QUESTIONS[index % len(QUESTIONS)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    _wait_for(lambda: server.runner.waiting == MAX_WAITING, 60, "the queue to fill")

    # The queue is full: the next request is turned away at once, with a time to come back.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}),
        headers={"Authorization": f"Bearer {server.token.current()}",
                 "Content-Type": "application/json"})
    busy = conn.getresponse()
    body = json.loads(busy.read())
    assert busy.status == 503 and int(busy.getheader("Retry-After")) >= 1
    assert "busy" in body["error"]["message"]

    # The leaving client was not stopped by the eight arriving: it still streams; then it goes.
    more = [next(pieces).choices[0].text for _ in range(3)]
    assert all(first + more)
    leaving.close()

    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    assert time.monotonic() - started < 240
    for index in range(CLIENTS):
        question = QUESTIONS[index % len(QUESTIONS)]
        text, reason, usage = results[index]
        assert (text, reason, usage.completion_tokens) == alone[question], (index, question)

    records = server.log.recent()
    cancelled = [r for r in records if r.endpoint == "/v1/completions"]
    assert len(cancelled) == 1 and cancelled[0].outcome == "cancelled"
    assert 6 <= cancelled[0].completion_tokens < 1500
    assert [r.status for r in records].count(503) == 1
    assert sum(r.outcome in ("stop", "length") for r in records) == len(QUESTIONS) + CLIENTS


def test_an_engine_killed_mid_reply_is_a_500_and_the_next_request_is_served(server, client):
    failure: list[BaseException] = []

    def long_reply() -> None:
        try:
            client.completions.create(**LONG_REPLY)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=long_reply)
    thread.start()
    _wait_for(lambda: server.runner.busy and server.runner.engine_pid, 60, "the reply to start")
    time.sleep(0.5)
    os.kill(server.runner.engine_pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert len(failure) == 1 and isinstance(failure[0], InternalServerError), failure
    assert failure[0].status_code == 500
    assert "engine" in failure[0].message and "starts it again" in failure[0].message

    # A stream whose engine dies after the first tokens ends with the error, not silently.
    stream = client.completions.create(**LONG_REPLY, stream=True)
    with pytest.raises(APIError, match="starts it again"):
        for index, _chunk in enumerate(stream):
            if index == 2:
                os.kill(server.runner.engine_pid, signal.SIGKILL)

    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTIONS[0]}], temperature=0,
        max_tokens=4)
    assert answer.choices[0].message.content
