"""Binding and running the server: in the foreground (``slmdesk serve``) or on a thread (the
window's Server page), with uvicorn.

The socket is bound here rather than by uvicorn, so the port is known before the first request
(port 0 picks a free one, which the tests use), a port already in use is a plain error, and the
Host check knows which port to expect.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any

from slmdesk.core.errors import SlmdeskError
from slmdesk.core.server.app import ServerState, build_app
from slmdesk.core.server.request_log import LOG_FILE_NAME, RequestLog
from slmdesk.core.server.runner import EngineRunner
from slmdesk.core.server.security import check_bind
from slmdesk.core.server.token import ServerToken
from slmdesk.paths import AppPaths

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_WAITING = 8


class ServerError(SlmdeskError):
    """The server could not start (port in use, bad address)."""


@dataclass(frozen=True)
class ServerConfig:
    """How the server listens. ``allow_network`` must be set to bind beyond loopback."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow_network: bool = False
    allow_origins: tuple[str, ...] = ()
    max_waiting: int = DEFAULT_MAX_WAITING
    #: Start the engine process with the server (False: with the first request).
    start_engine: bool = True


class LocalServer:
    """One server: bound on construction, then :meth:`run` (blocking) or :meth:`start` (thread).

    Raises (on construction):
        BindRefused: a non-loopback host without ``allow_network``.
        ServerError: the address cannot be bound.
    """

    def __init__(self, paths: AppPaths, config: ServerConfig | None = None) -> None:
        import uvicorn

        self.config = config or ServerConfig()
        self.warning = check_bind(self.config.host, self.config.allow_network)
        paths.ensure()
        self.paths = paths
        self.token = ServerToken.for_paths(paths)
        self.token.current()  # made now, so it can be shown before the first request
        self.log = RequestLog(paths.log_dir / LOG_FILE_NAME)
        self._socket = _bind(self.config.host, self.config.port)
        self.port: int = self._socket.getsockname()[1]
        self.runner = EngineRunner(max_waiting=self.config.max_waiting,
                                   log_path=paths.log_dir / "engine.log",
                                   start_engine=self.config.start_engine)
        self.state = ServerState(paths, self.token, self.runner, self.log, lambda: self.port,
                                 network=self.warning is not None,
                                 allow_origins=self.config.allow_origins,
                                 max_waiting=self.config.max_waiting)
        self._uvicorn = uvicorn.Server(uvicorn.Config(
            build_app(self.state), log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=3))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host = self.config.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}/v1"

    def run(self) -> None:
        """Serve until interrupted (Ctrl+C), then stop the engine."""
        try:
            self._uvicorn.run(sockets=[self._socket])
        finally:
            self._close()

    def start(self) -> None:
        """Serve on a thread of its own; :meth:`stop` ends it."""
        self._thread = threading.Thread(target=self.run, name="slmdesk-server", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._close()

    def _close(self) -> None:
        self.runner.close()
        self.state.embeddings.close()
        try:
            self._socket.close()
        except OSError:
            pass

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServerError(f"{host} is not an address this computer has.", str(exc)) from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServerError(f"The server cannot listen on {host}:{port}: "
                          f"{exc.strerror or exc}. Is another program using that port? Choose "
                          "another port (--port).", str(exc)) from exc
    return sock
