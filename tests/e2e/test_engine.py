"""The engine end to end: the real starter model in the real host process, through the client."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from slmdesk.core.engine.chat_format import choose_chat_format
from slmdesk.core.engine.client import EngineClient, EngineCrashed, EngineError
from slmdesk.core.engine.host import EngineHost

GREEDY = {"temperature": 0.0, "seed": 1, "max_tokens": 24}
FRANCE = [{"role": "user", "content": "The capital of France is"}]
EVENT_TIMEOUT = 120


def _chat(engine: EngineClient, messages, params=GREEDY):
    events = list(engine.chat(messages, params, timeout=EVENT_TIMEOUT))
    return [e for e in events if e["type"] == "token"], events[-1]


@pytest.fixture(scope="module")
def engine(starter_model_path):
    """One engine with the starter model, shared by the tests that leave it loaded."""
    with EngineClient() as client:
        client.load(starter_model_path, n_ctx=1024)
        yield client


@pytest.fixture
def fresh_engine():
    with EngineClient() as client:
        yield client


@pytest.mark.slow
def test_ready_and_loaded_events(fresh_engine, starter_model_path):
    assert fresh_engine.ready["pid"] == fresh_engine.pid
    assert fresh_engine.ready["llama_cpp_version"]
    loaded = fresh_engine.load(starter_model_path, n_ctx=512)
    assert loaded["chat_format"] == "gemma"
    assert loaded["chat_format_description"] == (
        "Gemma turn format (from the architecture 'gemma3'; the model file has no chat template)"
    )
    assert loaded["n_ctx"] == 512
    assert loaded["model_path"] == str(starter_model_path)
    assert 0 < loaded["load_seconds"] < 60


@pytest.mark.slow
def test_streamed_reply_is_real_text_with_timings(engine):
    tokens, done = _chat(engine, FRANCE)
    assert tokens, "the model produced no tokens"
    text = "".join(t["text"] for t in tokens)
    assert text.strip()
    assert done["text"] == text
    assert done["finish_reason"] in ("stop", "length")
    assert done["prompt_tokens"] > 5
    assert 0 < done["completion_tokens"] <= GREEDY["max_tokens"] + 1
    assert 0 < done["time_to_first_token"] < 30
    assert done["tokens_per_second"] > 0
    assert done["truncated_turns"] == 0
    assert "[unreadable engine output]" not in engine.stderr_tail()


@pytest.mark.slow
def test_greedy_replies_repeat(engine):
    assert _chat(engine, FRANCE)[1]["text"] == _chat(engine, FRANCE)[1]["text"]


@pytest.mark.slow
def test_max_tokens_ends_with_length(engine):
    tokens, done = _chat(engine, [{"role": "user", "content": "Count: 1, 2, 3, 4,"}],
                         {**GREEDY, "max_tokens": 5})
    assert done["finish_reason"] == "length"
    assert done["completion_tokens"] == 5


@pytest.mark.slow
def test_cancel_mid_reply_stops_quickly(engine):
    """Counted in tokens, not seconds: a busy machine slows both the reply and the cancel."""
    params = {**GREEDY, "max_tokens": 2000}
    events = engine.chat([{"role": "user", "content": "Count: 1, 2, 3, 4, 5, 6,"}], params,
                         timeout=EVENT_TIMEOUT)
    received = 0
    after_cancel = None
    for event in events:
        if event["type"] == "token":
            received += 1
            if after_cancel is not None:
                after_cancel += 1
            if received == 3:
                after_cancel = 0
                engine.cancel()
        else:
            done = event
    assert after_cancel is not None, "the reply ended before it could be cancelled"
    assert after_cancel <= 4, f"{after_cancel} tokens came after the cancel"
    assert done["finish_reason"] == "cancelled"
    assert done["completion_tokens"] < 50
    # The engine serves the next request normally.
    assert _chat(engine, FRANCE)[1]["finish_reason"] in ("stop", "length")


@pytest.mark.slow
def test_leaving_the_loop_early_cancels_the_reply(engine):
    for _event in engine.chat(FRANCE, {**GREEDY, "max_tokens": 2000}, timeout=EVENT_TIMEOUT):
        break
    assert _chat(engine, FRANCE)[1]["finish_reason"] in ("stop", "length")


@pytest.mark.slow
def test_context_overflow_drops_the_oldest_turns(fresh_engine, starter_model_path):
    fresh_engine.load(starter_model_path, n_ctx=256)
    history = [{"role": "system", "content": "You are terse."}]
    for i in range(8):
        history += [
            {"role": "user", "content": f"Tell me fact number {i} about Paris and its bridges."},
            {"role": "assistant", "content": f"Fact {i}: the Seine has many old stone bridges."},
        ]
    history.append({"role": "user", "content": "The capital of France is"})
    _, done = _chat(fresh_engine, history, {**GREEDY, "max_tokens": 32})
    assert done["truncated_turns"] >= 1
    assert done["prompt_tokens"] + 32 <= 256
    assert done["finish_reason"] in ("stop", "length")

    with pytest.raises(EngineError, match="too long") as info:
        _chat(fresh_engine, [{"role": "user", "content": "word " * 400}])
    assert info.value.code == "context_full"
    assert _chat(fresh_engine, FRANCE)[1]["truncated_turns"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing"])
def test_bad_model_file_is_an_error_and_the_host_lives_on(
    fresh_engine, starter_model_path, tmp_path, damage
):
    bad = tmp_path / "bad.gguf"
    if damage == "truncated":
        with open(starter_model_path, "rb") as f:
            bad.write_bytes(f.read(1_000_000))
    elif damage == "garbage":
        bad.write_bytes(b"GGUF\x03\x00\x00\x00" + os.urandom(4096))
    with pytest.raises(EngineError) as info:
        fresh_engine.load(bad)
    assert info.value.code == "bad_model"
    assert "model file" in info.value.message
    assert fresh_engine.alive
    fresh_engine.load(starter_model_path, n_ctx=256)
    assert _chat(fresh_engine, FRANCE)[1]["type"] == "done"


@pytest.mark.slow
def test_chat_without_a_model_is_a_clear_error(fresh_engine):
    with pytest.raises(EngineError, match="No model is loaded") as info:
        _chat(fresh_engine, FRANCE)
    assert info.value.code == "no_model"


@pytest.mark.slow
def test_a_garbled_request_line_does_not_stop_the_host(fresh_engine, starter_model_path):
    fresh_engine._proc.stdin.write(b"this is not json\n")
    fresh_engine._proc.stdin.flush()
    with pytest.raises(EngineError) as info:
        fresh_engine.load(starter_model_path, n_ctx=256)
    assert info.value.code == "bad_request"
    fresh_engine.load(starter_model_path, n_ctx=256)
    assert fresh_engine.alive


@pytest.mark.slow
def test_killed_host_raises_engine_crashed(fresh_engine, starter_model_path):
    fresh_engine.load(starter_model_path, n_ctx=256)
    os.kill(fresh_engine.pid, signal.SIGKILL)
    with pytest.raises(EngineCrashed) as info:
        _chat(fresh_engine, FRANCE)
    assert info.value.returncode == -signal.SIGKILL
    with pytest.raises(EngineCrashed):
        fresh_engine.unload()


@pytest.mark.slow
def test_host_killed_mid_reply_raises_engine_crashed(fresh_engine, starter_model_path):
    fresh_engine.load(starter_model_path, n_ctx=256)
    killed = False
    with pytest.raises(EngineCrashed):
        for _event in fresh_engine.chat(FRANCE, {**GREEDY, "max_tokens": 2000},
                                       timeout=EVENT_TIMEOUT):
            if not killed:
                os.kill(fresh_engine.pid, signal.SIGKILL)
                killed = True
    assert killed


def _write_starter_lora(path: Path, rank: int = 4) -> Path:
    """A random LoRA on every ffn_down of the starter model: strong enough to change replies."""
    import gguf

    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), arch="gemma3")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    for block in range(18):  # ffn_down is 2048 -> 640 in Gemma 3 270M
        writer.add_tensor(f"blk.{block}.ffn_down.weight.lora_a",
                          rng.normal(0, 0.5, (rank, 2048)).astype(np.float32))
        writer.add_tensor(f"blk.{block}.ffn_down.weight.lora_b",
                          rng.normal(0, 0.5, (640, rank)).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.slow
def test_adapter_scales_change_without_reloading(fresh_engine, starter_model_path, tmp_path):
    lora = _write_starter_lora(tmp_path / "lora.gguf")
    loaded = fresh_engine.load(starter_model_path, n_ctx=256, adapters=[(lora, 0.0)])
    assert loaded["adapters"] == [{"path": str(lora), "scale": 0.0}]
    base = _chat(fresh_engine, FRANCE)[1]["text"]

    fresh_engine.set_adapters([(lora, 1.0)])
    assert _chat(fresh_engine, FRANCE)[1]["text"] != base
    fresh_engine.set_adapters([(lora, 0.0)])
    assert _chat(fresh_engine, FRANCE)[1]["text"] == base
    assert fresh_engine.set_adapters([])["adapters"] == []
    assert _chat(fresh_engine, FRANCE)[1]["text"] == base

    not_an_adapter = tmp_path / "notes.gguf"
    not_an_adapter.write_bytes(b"GGUF nonsense")
    with pytest.raises(EngineError) as info:
        fresh_engine.set_adapters([(not_an_adapter, 1.0)])
    assert info.value.code == "bad_adapter"
    assert _chat(fresh_engine, FRANCE)[1]["text"] == base


# --- context fitting, without a model --------------------------------------------------------


class _WordModel:
    """Stands in for llama_cpp.Llama: one token per whitespace-separated word."""

    def __init__(self, n_ctx: int) -> None:
        self._n_ctx = n_ctx

    def n_ctx(self) -> int:
        return self._n_ctx

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return [0] * (len(text.split()) + int(add_bos))


def _fitting_host(n_ctx: int) -> EngineHost:
    host = EngineHost(io.BytesIO())
    host.llm = _WordModel(n_ctx)
    host._render = host._make_renderer(choose_chat_format("gemma3", None))
    return host


def _turns(n: int) -> list[dict]:
    msgs = [{"role": "system", "content": "sys " * 5}]
    for i in range(n):
        msgs += [{"role": "user", "content": f"question{i} " * 10},
                 {"role": "assistant", "content": f"answer{i} " * 10}]
    return msgs + [{"role": "user", "content": "last " * 10}]


def test_fit_keeps_everything_that_fits():
    msgs = _turns(2)
    kept, n, dropped, max_tokens = _fitting_host(1000)._fit(msgs, 100)
    assert (kept, dropped, max_tokens) == (msgs, 0, 100)


def test_fit_drops_oldest_turns_keeping_system_and_last_message():
    msgs = _turns(5)
    kept, n, dropped, max_tokens = _fitting_host(120)._fit(msgs, 20)
    assert n + 20 <= 120 and dropped >= 1
    assert kept[0] == msgs[0] and kept[-1] == msgs[-1]
    assert kept[1:-1] == msgs[1 + 2 * dropped:-1]  # whole turns, oldest first


def test_fit_shrinks_the_reply_before_failing_and_then_fails_clearly():
    host = _fitting_host(40)
    only = [{"role": "user", "content": "word " * 20}]
    kept, n, dropped, max_tokens = host._fit(only, 100)
    assert kept == only and max_tokens == 40 - n
    with pytest.raises(Exception, match="too long"):
        host._fit([{"role": "user", "content": "word " * 39}], 100)


class _TemplateModel(_WordModel):
    """A stand-in with an embedded chat template and BOS/EOS tokens."""

    def __init__(self, template: str) -> None:
        super().__init__(1000)
        self.metadata = {"general.architecture": "gemma3", "tokenizer.chat_template": template}

    def token_eos(self) -> int:
        return 1

    def token_bos(self) -> int:
        return 2

    def detokenize(self, tokens, prev_tokens=None, special=False) -> bytes:
        return {1: b"<eos>", 2: b"<bos>"}[tokens[0]]


def _embedded_host(template: str) -> EngineHost:
    host = EngineHost(io.BytesIO())
    host.llm = _TemplateModel(template)
    choice = choose_chat_format("gemma3", template)
    host._render = host._make_renderer(choice)
    return host


def test_embedded_template_is_rendered_with_the_model_tokens():
    template = ("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}"
                "{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}")
    prompt, has_bos, stop = _embedded_host(template)._prompt(FRANCE)
    assert prompt == "<bos>[user]The capital of France is<eos>[assistant]"
    assert has_bos and stop == ["<eos>"]


def test_hostile_embedded_template_fails_the_chat_not_the_host():
    host = _embedded_host("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(Exception, match="unsafe") as info:
        host._fit(FRANCE, 10)
    assert info.value.code == "chat_format"
