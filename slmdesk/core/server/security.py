"""What every request passes before it reaches the model: the Host header, then the token.

* **Bind**: loopback only, unless the person asks for the network with an explicit flag
  (:func:`check_bind`); Ollama's open port shows what a careless default costs.
* **Host header** (DNS rebinding): a web page can make its own domain name resolve to 127.0.0.1
  and then talk to a local server as if it were its own origin. The browser still sends that
  domain in ``Host``, so only loopback names with our port are accepted (and IP literals when
  serving the network); anything else gets 403.
* **Bearer token**: every ``/v1`` request needs ``Authorization: Bearer <token>``; a missing or
  wrong token gets 401. CORS preflights (``OPTIONS``) pass to the CORS layer, which answers
  only origins that were listed (see ``app.py``).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from slmdesk.core.errors import SlmdeskError
from slmdesk.core.server.token import ServerToken

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class BindRefused(SlmdeskError):
    """The server was asked to listen somewhere it must not without the person's say-so."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_network: bool) -> str | None:
    """Refuse a non-loopback address unless ``allow_network``; the warning to print if allowed.

    Raises:
        BindRefused: ``host`` reaches beyond this computer and ``allow_network`` is false.
    """
    if is_loopback(host):
        return None
    if not allow_network:
        raise BindRefused(
            f"The server only listens on this computer (127.0.0.1) unless you say otherwise: "
            f"{host} can be reached from other computers. Add --allow-network if you mean it.")
    return (f"WARNING: the server listens on {host}: other computers on the network can reach "
            "it. Anyone with the token can use your models; keep the token secret, and stop the "
            "server when you do not need it.")


def allowed_hosts(port: int) -> frozenset[str]:
    """The Host header values a loopback server answers to (the name with our port)."""
    names = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:
        names.update(LOOPBACK_NAMES)
    return frozenset(names)


def _is_ip_literal_with_port(host: str, port: int) -> bool:
    name, sep, tail = host.rpartition(":")
    if not sep or tail != str(port):
        return False
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


async def _send_error(send: Send, status: int, message: str, kind: str,
                      extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"error": {"message": message, "type": kind, "param": None,
                                 "code": kind}}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode("ascii")),
                            *extra_headers]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return ""


class HostCheck:
    """ASGI middleware: 403 unless the Host header names this server by a loopback name.

    ``port`` is read through a callable because a server started on port 0 learns its port
    when it binds.
    """

    def __init__(self, app: ASGIApp, port: Callable[[], int], *, network: bool = False,
                 on_refused: Callable[[int, str], None] | None = None) -> None:
        self.app, self.port, self.network, self.on_refused = app, port, network, on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host").lower()
        port = self.port()
        if host in allowed_hosts(port) or (self.network and _is_ip_literal_with_port(host, port)):
            await self.app(scope, receive, send)
            return
        if self.on_refused is not None:
            self.on_refused(403, scope.get("path", ""))
        await _send_error(send, 403, "This server only answers requests addressed to "
                          f"localhost:{port} or 127.0.0.1:{port} (the Host header was "
                          f"{host[:100]!r}).", "forbidden_host")


class BearerAuth:
    """ASGI middleware: 401 unless ``Authorization: Bearer <the token>`` is sent."""

    def __init__(self, app: ASGIApp, token: ServerToken,
                 on_refused: Callable[[int, str], None] | None = None) -> None:
        self.app, self.token, self.on_refused = app, token, on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        scheme, _, offered = _header(scope, b"authorization").partition(" ")
        if scheme.lower() == "bearer" and offered.strip() and self.token.matches(offered.strip()):
            await self.app(scope, receive, send)
            return
        if self.on_refused is not None:
            self.on_refused(401, scope.get("path", ""))
        await _send_error(send, 401, "A valid token is needed: send the header "
                          "'Authorization: Bearer <token>' with the token SLM Desk shows on its "
                          "Server page or prints with 'slmdesk serve'.", "invalid_api_key",
                          ((b"www-authenticate", b'Bearer realm="slmdesk"'),))
