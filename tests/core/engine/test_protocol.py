"""The JSON-lines protocol: every message round-trips, malformed lines are refused clearly."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from slmdesk.core.engine import protocol as p
from slmdesk.core.engine.protocol import ProtocolError, decode, encode

EXAMPLES = [
    p.LoadRequest(id="r1", model_path="/m.gguf", adapters=[p.AdapterSpec("/a.gguf", 0.5)],
                  n_ctx=2048, n_threads=4, chat_format="gemma"),
    p.UnloadRequest(id="r2"),
    p.SetAdaptersRequest(id="r3", adapters=[p.AdapterSpec("/a.gguf", 1.0)]),
    p.ChatRequest(id="r4", messages=[p.ChatMessage("system", "Be brief."),
                                     p.ChatMessage("user", "Héllo ✓\nnew line")],
                  params=p.ChatParams(temperature=0.0, seed=7, stop=["\n\n"])),
    p.CompleteRequest(id="r6", prompt="Once upon a time,\n\u00e9 ✓",
                      params=p.ChatParams(temperature=0.0, max_tokens=8, stop=["\n\n"])),
    p.CancelRequest(id="r4"),
    p.ShutdownRequest(id="r5"),
    p.ReadyEvent(id=None, pid=123, llama_cpp_version="0.3.36"),
    p.LoadedEvent(id="r1", model_path="/m.gguf", chat_format="gemma",
                  chat_format_description="Gemma turn format", n_ctx=2048, load_seconds=0.5),
    p.UnloadedEvent(id="r2"),
    p.AdaptersSetEvent(id="r3", adapters=[p.AdapterSpec("/a.gguf", 1.0)]),
    p.TokenEvent(id="r4", text=" Paris\u2028"),
    p.DoneEvent(id="r4", finish_reason="cancelled", prompt_tokens=10, completion_tokens=3,
                time_to_first_token=0.1, tokens_per_second=None, truncated_turns=2, text="x",
                truncated_tokens=40),
    p.ErrorEvent(id="r1", message="Could not open the model.", detail="Traceback",
                 code="bad_model"),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: m.TYPE)
def test_round_trip(message):
    line = encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    decoded = decode(line)
    assert decoded["type"] == message.TYPE
    assert decoded == {"type": message.TYPE, **json.loads(json.dumps(_asdict(message)))}


def _asdict(message):
    return dataclasses.asdict(message)


def test_every_request_and_event_has_an_example():
    assert {m.TYPE for m in EXAMPLES} == set(p.MESSAGES)


def test_defaults_are_filled_in():
    req = decode('{"type": "chat", "id": "c", "messages": [{"role": "user", "content": "hi"}], '
                 '"params": {"temperature": 0}}')
    assert req["params"] == {**_asdict(p.ChatParams()), "temperature": 0.0}
    load = decode(b'{"type": "load", "id": "l", "model_path": "/m", '
                  b'"adapters": [{"path": "/a"}]}')
    assert load["adapters"] == [{"path": "/a", "scale": 1.0}]
    assert load["chat_format"] is None and load["n_threads"] is None


def test_a_complete_request_takes_the_chat_settings_and_their_defaults():
    req = decode('{"type": "complete", "id": "c", "prompt": "Once"}')
    assert req == {"type": "complete", "id": "c", "prompt": "Once",
                   "params": _asdict(p.ChatParams())}
    done = decode('{"type": "done", "id": "c", "finish_reason": "stop", "prompt_tokens": 2, '
                  '"completion_tokens": 1, "time_to_first_token": null, '
                  '"tokens_per_second": null}')
    assert done["truncated_tokens"] == 0  # an older host's done still reads


def test_dicts_are_validated_when_encoded():
    assert decode(encode({"type": "cancel", "id": "c"})) == {"type": "cancel", "id": "c"}
    with pytest.raises(ProtocolError):
        encode({"type": "cancel"})
    with pytest.raises(ProtocolError):
        encode(object())


def test_unknown_fields_are_ignored():
    assert decode('{"type": "unload", "id": "u", "future": 1}') == {"type": "unload", "id": "u"}


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"not json", "not JSON"),
        (b"\xff\xfe", "UTF-8"),
        (b"[1, 2]", "object"),
        (b'{"id": "x"}', "unknown message type"),
        (b'{"type": "explode", "id": "x"}', "unknown message type"),
        (b'{"type": "load", "id": "x"}', "missing field 'model_path'"),
        (b'{"type": "load", "id": 5, "model_path": "/m"}', "load.id: expected a string"),
        (b'{"type": "load", "id": "x", "model_path": "/m", "n_ctx": "big"}', "integer"),
        (b'{"type": "load", "id": "x", "model_path": "/m", "n_ctx": true}', "integer"),
        (b'{"type": "load", "id": "x", "model_path": "/m", "adapters": {}}', "list"),
        (b'{"type": "load", "id": "x", "model_path": "/m", "adapters": [{"scale": 1}]}',
         "adapters[0]: missing field 'path'"),
        (b'{"type": "chat", "id": "x", "messages": [{"role": "robot", "content": "hi"}]}',
         "role"),
        (b'{"type": "chat", "id": "x", "messages": [], "params": {"temperature": "hot"}}',
         "number"),
        (b'{"type": "complete", "id": "x"}', "missing field 'prompt'"),
        (b'{"type": "complete", "id": "x", "prompt": ["a"]}', "complete.prompt: expected a string"),
        (b'{"type": "complete", "id": "x", "prompt": "a", "params": {"max_tokens": 1.5}}',
         "complete.params.max_tokens: expected an integer"),
        (b'{"type": "done", "id": "x", "finish_reason": "bored", "prompt_tokens": 1, '
         b'"completion_tokens": 1, "time_to_first_token": null, "tokens_per_second": null}',
         "finish_reason"),
    ],
)
def test_malformed_lines_are_refused(line, complaint):
    with pytest.raises(ProtocolError, match=re.escape(complaint)):
        decode(line)


def test_protocol_module_imports_neither_qt_nor_llama_cpp():
    assert "llama_cpp" not in vars(p) and "PySide6" not in vars(p)
