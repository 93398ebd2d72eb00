"""EngineProcess: the real engine host in a real QProcess, driven through Qt signals."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from slmdesk.core.engine import protocol as p
from slmdesk.ui.processes.engine import LOG_NAME, EngineNotRunning, EngineProcess

GREEDY = {"temperature": 0.0, "seed": 1, "max_tokens": 24}
FRANCE = [{"role": "user", "content": "The capital of France is"}]
START_TIMEOUT = 120_000
REPLY_TIMEOUT = 180_000


@pytest.fixture
def engine(tmp_path):
    process = EngineProcess(tmp_path / "logs")
    yield process
    process.stop()


def _started(qtbot, engine: EngineProcess) -> dict:
    with qtbot.waitSignal(engine.ready, timeout=START_TIMEOUT) as blocker:
        engine.start()
    return blocker.args[0]


def _loaded(qtbot, engine: EngineProcess, model: Path, n_ctx: int = 512) -> dict:
    with qtbot.waitSignal(engine.loaded, timeout=START_TIMEOUT) as blocker:
        engine.load(model, n_ctx=n_ctx)
    return blocker.args[0]


# --- reading the protocol (no process needed) ----------------------------------------------------


def test_events_split_across_reads_are_joined_into_lines(qtbot):
    engine = EngineProcess()
    tokens, dones = [], []
    engine.token.connect(lambda req, text: tokens.append((req, text)))
    engine.done.connect(dones.append)
    stream = b"".join([
        p.encode(p.TokenEvent(id="g1", text="Hel")),
        p.encode(p.TokenEvent(id="g1", text="lo \u00e9")),
        p.encode(p.DoneEvent(id="g1", finish_reason="stop", prompt_tokens=3, completion_tokens=2,
                             time_to_first_token=0.1, tokens_per_second=20.0, text="Hello \u00e9")),
    ])
    for start in range(0, len(stream), 7):  # arbitrary cuts, mid-line and mid-character
        engine.feed_stdout(stream[start:start + 7])
    assert tokens == [("g1", "Hel"), ("g1", "lo \u00e9")]
    assert len(dones) == 1 and dones[0]["text"] == "Hello \u00e9"
    assert dones[0]["tokens_per_second"] == 20.0


def test_an_unreadable_line_is_kept_for_the_log_not_emitted(qtbot):
    engine = EngineProcess()
    errors = []
    engine.error.connect(errors.append)
    engine.feed_stdout(b"this is not json\n")
    assert errors == []
    assert "unreadable engine output" in engine.stderr_tail()


def test_requests_need_a_running_engine(qtbot):
    engine = EngineProcess()
    with pytest.raises(EngineNotRunning):
        engine.chat(FRANCE)
    with pytest.raises(EngineNotRunning):
        engine.complete("Once upon a time")
    engine.stop()  # stopping an engine that never ran is harmless


# --- the real host -------------------------------------------------------------------------------


@pytest.mark.slow
def test_load_and_stream_a_reply(qtbot, engine, starter_model_path, tmp_path):
    ready = _started(qtbot, engine)
    assert ready["pid"] == engine.pid
    loaded = _loaded(qtbot, engine, starter_model_path)
    assert loaded["chat_format"] == "gemma"
    assert "Gemma" in loaded["chat_format_description"]
    assert loaded["n_ctx"] == 512

    tokens = []
    engine.token.connect(lambda req, text: tokens.append((req, text)))
    with qtbot.waitSignal(engine.done, timeout=REPLY_TIMEOUT) as blocker:
        req_id = engine.chat(FRANCE, GREEDY)
    done = blocker.args[0]
    assert done["id"] == req_id
    assert tokens and all(req == req_id for req, _ in tokens)
    assert "".join(text for _, text in tokens) == done["text"]
    assert done["text"].strip()
    assert done["finish_reason"] in ("stop", "length")
    assert done["time_to_first_token"] > 0 and done["tokens_per_second"] > 0
    assert (tmp_path / "logs" / LOG_NAME).read_text().startswith("--- engine started")


@pytest.mark.slow
def test_requests_sent_before_ready_are_held_until_it(qtbot, engine, starter_model_path):
    with qtbot.waitSignal(engine.loaded, timeout=START_TIMEOUT):
        engine.start()
        engine.load(starter_model_path, n_ctx=256)
    assert engine.is_ready


@pytest.mark.slow
def test_cancel_ends_the_reply_as_cancelled(qtbot, engine, starter_model_path):
    _started(qtbot, engine)
    _loaded(qtbot, engine, starter_model_path)
    with qtbot.waitSignal(engine.token, timeout=REPLY_TIMEOUT):
        req_id = engine.chat([{"role": "user", "content": "Tell me a long story."}],
                             {**GREEDY, "max_tokens": 400})
    with qtbot.waitSignal(engine.done, timeout=10_000) as blocker:
        engine.cancel(req_id)
    assert blocker.args[0]["finish_reason"] == "cancelled"
    assert blocker.args[0]["completion_tokens"] < 400


@pytest.mark.slow
def test_a_completion_streams_and_is_cancelled_like_a_reply(qtbot, engine, starter_model_path):
    _started(qtbot, engine)
    _loaded(qtbot, engine, starter_model_path)
    tokens = []
    engine.token.connect(lambda req, text: tokens.append((req, text)))
    with qtbot.waitSignal(engine.done, timeout=REPLY_TIMEOUT) as blocker:
        req_id = engine.complete("1, 2, 3, 4, 5, 6,", {**GREEDY, "max_tokens": 6,
                                                       "context_length": 512})  # not sampling
    done = blocker.args[0]
    assert done["id"] == req_id and engine.current_chat is None
    assert "".join(text for req, text in tokens if req == req_id) == done["text"]
    assert done["text"].startswith(" 7, 8") and done["completion_tokens"] == 6
    assert done["truncated_tokens"] == 0 and done["prompt_tokens"] > 5

    with qtbot.waitSignal(engine.token, timeout=REPLY_TIMEOUT):
        req_id = engine.complete("Once upon a time", {**GREEDY, "max_tokens": 400})
    assert engine.current_chat == req_id
    with qtbot.waitSignal(engine.done, timeout=10_000) as blocker:
        engine.cancel()
    assert blocker.args[0]["finish_reason"] == "cancelled"
    assert blocker.args[0]["completion_tokens"] < 400


@pytest.mark.slow
def test_a_missing_model_is_an_error_event(qtbot, engine, tmp_path):
    _started(qtbot, engine)
    with qtbot.waitSignal(engine.error, timeout=START_TIMEOUT) as blocker:
        req_id = engine.load(tmp_path / "nowhere.gguf")
    error = blocker.args[0]
    assert error["id"] == req_id and error["code"] == "bad_model"
    assert "was not found" in error["message"]
    assert engine.running  # one failed request never ends the engine


@pytest.mark.slow
def test_a_damaged_model_gives_the_loader_message(qtbot, engine, starter_model_path, tmp_path):
    damaged = tmp_path / "damaged.gguf"
    with open(starter_model_path, "rb") as src:
        damaged.write_bytes(src.read(16 * 1024 * 1024))  # the header, most tensors cut off
    _started(qtbot, engine)
    with qtbot.waitSignal(engine.error, timeout=START_TIMEOUT) as blocker:
        engine.load(damaged)
    assert blocker.args[0]["code"] == "bad_model"
    assert "could not open this model file" in blocker.args[0]["message"]


@pytest.mark.slow
def test_a_killed_engine_is_reported_as_crashed(qtbot, engine):
    _started(qtbot, engine)
    with qtbot.waitSignal(engine.crashed, timeout=30_000) as blocker:
        os.kill(engine.pid, signal.SIGKILL)
    message = blocker.args[0]
    assert "stopped unexpectedly: it was killed (SIGKILL)" in message
    assert "out of memory" in message and engine.last_exit.restart_helps
    assert not engine.running
    with pytest.raises(EngineNotRunning):
        engine.chat(FRANCE)
    _started(qtbot, engine)  # and it can be started again
    assert engine.running


@pytest.mark.slow
def test_stop_is_not_a_crash(qtbot, engine):
    _started(qtbot, engine)
    crashes = []
    engine.crashed.connect(crashes.append)
    with qtbot.waitSignal(engine.stopped, timeout=30_000):
        engine.stop()
    assert not engine.running and crashes == []
