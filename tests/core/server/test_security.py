"""The server's defences, over real HTTP on loopback: token, Host header, CORS, bind policy.

None of these requests reaches the model, so the engine is not started (``start_engine``
False) and the tests take well under a second each.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
import subprocess
import sys

import pytest

from slmdesk.core.server.security import BindRefused, check_bind, is_loopback
from slmdesk.core.server.server import LocalServer, ServerConfig
from slmdesk.core.server.token import TOKEN_PREFIX, ServerToken
from slmdesk.paths import app_paths


def request(server: LocalServer, method: str, path: str, *, token: str | None = "",
            host: str | None = None, origin: str | None = None, body: dict | None = None,
            timeout: float = 10) -> tuple[int, dict[str, str], dict]:
    """One raw request with exactly the headers given (``token`` "" = the server's token)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    headers = {"Host": host or f"127.0.0.1:{server.port}"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token or server.token.current()}"
    if origin:
        headers["Origin"] = origin
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(payload))
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders(payload)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    answer = {k.lower(): v for k, v in response.getheaders()}
    return response.status, answer, (json.loads(data) if data.startswith(b"{") else {})


@pytest.fixture
def server():
    with LocalServer(app_paths(), ServerConfig(port=0, start_engine=False)) as running:
        yield running


@pytest.fixture
def cors_server():
    config = ServerConfig(port=0, start_engine=False, allow_origins=("http://localhost:3000",))
    with LocalServer(app_paths(), config) as running:
        yield running


def test_the_token_is_made_once_readable_by_its_owner_only_and_rotates(server):
    token = server.token.current()
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    assert ServerToken.for_paths(app_paths()).current() == token  # the same on every start
    assert stat.S_IMODE(os.stat(server.token.path).st_mode) == 0o600
    assert request(server, "GET", "/v1/models", token=token)[0] == 200

    # Rotated elsewhere (as 'slmdesk serve --rotate-token' does): the running server follows.
    new = ServerToken.for_paths(app_paths()).rotate()
    assert new != token
    assert request(server, "GET", "/v1/models", token=token)[0] == 401
    assert request(server, "GET", "/v1/models", token=new)[0] == 200


def test_a_missing_or_wrong_token_gets_401(server):
    for token in (None, "sk-wrong", server.token.current()[:-1]):
        status, headers, body = request(server, "GET", "/v1/models", token=token)
        assert status == 401, token
        assert body["error"]["code"] == "invalid_api_key"
        assert headers["www-authenticate"].startswith("Bearer")
    status, _, _ = request(server, "POST", "/v1/chat/completions", token=None,
                           body={"model": "x", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 401
    refused = [r for r in server.log.recent() if r.status == 401]
    assert len(refused) == 4 and all(r.outcome == "refused" for r in refused)


def test_listing_the_models_is_logged_and_an_unknown_one_is_a_logged_404(server):
    assert request(server, "GET", "/v1/models")[0] == 200
    status, _, body = request(server, "GET", "/v1/models/no-such-model")
    assert status == 404 and body["error"]["code"] == "model_not_found"
    records = [(r.endpoint, r.model, r.status, r.outcome) for r in server.log.recent()]
    assert records == [("/v1/models", "", 200, "listed"),
                       ("/v1/models/no-such-model", "no-such-model", 404, "error")]
    logged = server.log.path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["outcome"] for line in logged[-2:]] == ["listed", "error"]


def test_a_foreign_host_gets_403_even_with_the_token(server):
    port = server.port
    for host in ("evil.example", f"evil.example:{port}", f"localhost.evil.example:{port}",
                 f"127.0.0.1.nip.io:{port}", "localhost", f"localhost:{port + 1}",
                 f"192.168.1.20:{port}"):
        status, _, body = request(server, "GET", "/v1/models", host=host)
        assert status == 403, host
        assert body["error"]["code"] == "forbidden_host"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST:{port}"):
        assert request(server, "GET", "/v1/models", host=host)[0] == 200, host


def test_cors_is_off_unless_origins_are_listed(server, cors_server):
    status, headers, _ = request(server, "GET", "/v1/models", origin="http://localhost:3000")
    assert status == 200 and "access-control-allow-origin" not in headers
    status, headers, _ = request(server, "OPTIONS", "/v1/models", token=None,
                                 origin="http://localhost:3000")
    assert not any(key.startswith("access-control") for key in headers)

    # With a listed origin: that origin is answered, any other one is not.
    status, headers, _ = request(cors_server, "GET", "/v1/models", origin="https://evil.example")
    assert status == 200 and "access-control-allow-origin" not in headers
    status, headers, _ = request(cors_server, "OPTIONS", "/v1/models", token=None,
                                 origin="https://evil.example")
    assert "access-control-allow-origin" not in headers
    status, headers, _ = request(cors_server, "GET", "/v1/models", origin="http://localhost:3000")
    assert headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "access-control-allow-credentials" not in headers
    conn = http.client.HTTPConnection("127.0.0.1", cors_server.port, timeout=10)
    conn.request("OPTIONS", "/v1/chat/completions", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    preflight = conn.getresponse()
    preflight.read()
    assert preflight.status == 200
    assert preflight.getheader("access-control-allow-origin") == "http://localhost:3000"


def test_a_bind_beyond_loopback_needs_the_flag():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    assert check_bind("127.0.0.1", allow_network=False) is None
    for host in ("0.0.0.0", "::", "192.168.1.20"):
        with pytest.raises(BindRefused, match="--allow-network"):
            check_bind(host, allow_network=False)
        assert "WARNING" in check_bind(host, allow_network=True)
    with pytest.raises(BindRefused):
        LocalServer(app_paths(), ServerConfig(host="0.0.0.0", port=0, start_engine=False))


def test_slmdesk_serve_refuses_a_network_address_without_the_flag():
    result = subprocess.run([sys.executable, "-m", "slmdesk", "serve", "--host", "0.0.0.0",
                             "--port", "0"], capture_output=True, text=True, timeout=120,
                            env=os.environ.copy())
    assert result.returncode == 1
    assert "--allow-network" in result.stderr and "token:" not in result.stdout


def test_bad_requests_are_refused_with_a_reason(server):
    status, _, body = request(server, "POST", "/v1/chat/completions",
                              body={"model": "nothing-like-it",
                                    "messages": [{"role": "user", "content": "hi"}]})
    assert status == 404 and body["error"]["code"] == "model_not_found"
    status, _, body = request(server, "POST", "/v1/chat/completions",
                              body={"model": "x", "messages": []})
    assert status == 400 and body["error"]["param"] == "messages"
    status, _, body = request(server, "POST", "/v1/chat/completions",
                              body={"model": "x", "n": 2,
                                    "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and body["error"]["param"] == "n"
    status, _, body = request(server, "POST", "/v1/completions",
                              body={"model": "x", "prompt": "hi", "temperature": 9})
    assert status == 400 and body["error"]["param"] == "temperature"
    status, _, body = request(server, "POST", "/v1/chat/completions",
                              body={"model": "x", "tools": [{"type": "function"}],
                                    "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and body["error"]["param"] == "tools"


def test_the_queue_bound_counts_only_the_requests_that_wait():
    """With no room to wait, an idle engine still takes a request; a busy one refuses it."""
    import threading

    from slmdesk.core.engine.protocol import ChatParams
    from slmdesk.core.server.runner import EngineRunner, EngineTarget, Job, QueueFull

    runner = EngineRunner(max_waiting=0, module="slmdesk.no_such_engine", start_engine=False)
    failed = threading.Event()
    events: list[dict] = []

    def deliver(event: dict) -> None:
        events.append(event)
        failed.set()

    try:
        runner.submit(Job("complete", EngineTarget("/nowhere.gguf", 256), "hi", ChatParams(),
                          deliver))
        with pytest.raises(QueueFull) as refused:  # the first one has not finished yet
            runner.submit(Job("complete", EngineTarget("/nowhere.gguf", 256), "hi",
                              ChatParams(), deliver))
        assert refused.value.retry_after >= 1
        assert failed.wait(60)
        assert events[0]["type"] == "error" and events[0]["status"] == 500
    finally:
        runner.close()
