"""A loopback stand-in for the Hugging Face Hub, speaking its API as ``huggingface_hub`` calls it.

It listens on 127.0.0.1 only and answers the endpoints Get models uses: the model search
(``/api/models``), model info with siblings and LFS SHA-256 (``/api/models/<repo>``), and
``/<repo>/resolve/<revision>/<file>`` for HEAD (``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag``,
``X-Linked-Size``, on a 302 to a storage path as the Hub answers for LFS files) and GET with
``Range``. Each file can be throttled, stall once, be served
with a wrong SHA-256 or claim a huge size; every GET is recorded with its Range and the bytes
actually sent, so tests can prove a resume fetched only the missing part. Point
``huggingface_hub`` at it with ``HF_ENDPOINT=server.url``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
from gguf import GGUFWriter

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_gguf(path: Path, *, padding_bytes: int = 0, name: str = "Hub Test Model") -> Path:
    """A small valid chat GGUF; ``padding_bytes`` of extra f32 weights make it as big as a
    test needs (a throttled transfer that can be killed halfway)."""
    rng = np.random.default_rng(0)
    writer = GGUFWriter(path, "llama")
    writer.add_type("model")
    writer.add_name(name)
    writer.add_license("apache-2.0")
    writer.add_context_length(256)
    writer.add_embedding_length(32)
    writer.add_block_count(1)
    writer.add_feed_forward_length(32)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_tokenizer_model("llama")
    vocab = ["<unk>", "<s>", "</s>"] + [f"tok{i}" for i in range(21)]
    writer.add_token_list(vocab)
    writer.add_token_scores([0.0] * len(vocab))
    writer.add_token_types([1] * len(vocab))
    writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    writer.add_tensor("token_embd.weight", rng.standard_normal((len(vocab), 32)).astype(np.float32))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    if padding_bytes:
        writer.add_tensor("blk.0.ffn_up.weight",
                          rng.standard_normal(padding_bytes // 4).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@dataclass
class HubFileSpec:
    """One file the server offers, and how it misbehaves."""

    data: bytes
    declared_sha256: str | None = None  # None: the true one
    declared_size: int | None = None  # None: the true one
    bytes_per_second: float | None = None  # throttle
    stall_once_after: int | None = None  # first GET: go silent after this many bytes
    stall_seconds: float = 5.0
    silent: bool = False  # GET never answers
    ignore_range: bool = False  # always 200 with the whole file, as some proxies do
    busy_answers: int = 0  # this many GETs first get 503

    @property
    def sha256(self) -> str:
        return self.declared_sha256 or hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return self.declared_size if self.declared_size is not None else len(self.data)


@dataclass
class HubRepoSpec:
    files: dict[str, HubFileSpec] = field(default_factory=dict)
    gated: bool = False
    license: str = "apache-2.0"
    downloads: int = 10
    status: int | None = None  # 401 / 404 for every request about this repo
    redirect: bool = True  # resolve answers 302 to a storage path, as the Hub does for LFS


@dataclass
class GetRecord:
    path: str
    range: str | None
    bytes_sent: int = 0


class LoopbackHub:
    """The server; use as a context manager (``with LoopbackHub() as hub:``)."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepoSpec] = {}
        self.gets: list[GetRecord] = []
        self.requests: list[str] = []
        self._stalled: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_file(self, repo_id: str, filename: str, spec: HubFileSpec, **repo: object) -> None:
        target = self.repos.setdefault(repo_id, HubRepoSpec())
        for key, value in repo.items():
            setattr(target, key, value)
        target.files[filename] = spec

    def bytes_sent(self, filename: str) -> int:
        return sum(g.bytes_sent for g in self.gets if g.path.endswith("/" + filename))

    def __enter__(self) -> "LoopbackHub":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                hub._serve(self, head=False)

            def do_HEAD(self) -> None:  # noqa: N802
                hub._serve(self, head=True)

        return Handler

    # Routing --------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler, *, head: bool) -> None:
        parsed = urlparse(request.path)
        path = unquote(parsed.path)
        self.requests.append(f"{request.command} {request.path}")
        if path == "/api/models":
            return self._search(request, parse_qs(parsed.query))
        if path.startswith("/api/models/"):
            repo_id = path[len("/api/models/"):].split("/revision/")[0]
            return self._model_info(request, repo_id)
        if path.startswith("/cdn/"):
            repo_id, filename = path[len("/cdn/"):].split("/-/", 1)
            return self._resolve(request, repo_id, filename, head=head, on_cdn=True)
        if "/resolve/" in path:
            repo_id, rest = path.lstrip("/").split("/resolve/", 1)
            _revision, filename = rest.split("/", 1)
            return self._resolve(request, repo_id, filename, head=head)
        self._json(request, {"error": "not found"}, 404)

    def _search(self, request: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        words = (query.get("search") or [""])[0].lower()
        found = [{"id": repo_id, "_id": repo_id, "downloads": repo.downloads, "likes": 1,
                  "lastModified": "2025-01-01T00:00:00.000Z", "gated": repo.gated,
                  "tags": ["gguf"], "private": False}
                 for repo_id, repo in sorted(self.repos.items(),
                                             key=lambda item: -item[1].downloads)
                 if words in repo_id.lower() and repo.status is None]
        self._json(request, found)

    def _repo_error(self, request: BaseHTTPRequestHandler, repo: HubRepoSpec | None) -> bool:
        status = 404 if repo is None else repo.status
        if status is None:
            return False
        self._json(request, {"error": "Repository not found"}, status,
                   {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        return True

    def _model_info(self, request: BaseHTTPRequestHandler, repo_id: str) -> None:
        repo = self.repos.get(repo_id)
        if self._repo_error(request, repo):
            return
        assert repo is not None
        siblings = [{"rfilename": "README.md", "size": 120}]
        for name, spec in repo.files.items():
            siblings.append({"rfilename": name, "size": spec.size, "blobId": "b" * 40,
                             "lfs": {"size": spec.size, "sha256": spec.sha256,
                                     "pointerSize": 134}})
        self._json(request, {"id": repo_id, "_id": repo_id, "sha": COMMIT,
                             "gated": "manual" if repo.gated else False, "private": False,
                             "tags": ["gguf", f"license:{repo.license}"],
                             "cardData": {"license": repo.license}, "siblings": siblings,
                             "downloads": repo.downloads, "likes": 1})

    def _resolve(self, request: BaseHTTPRequestHandler, repo_id: str, filename: str,
                 *, head: bool, on_cdn: bool = False) -> None:
        repo = self.repos.get(repo_id)
        if self._repo_error(request, repo):
            return
        assert repo is not None
        if repo.gated:
            return self._json(request, {"error": "Access to this model is restricted"}, 401,
                              {"X-Error-Code": "GatedRepo",
                               "X-Error-Message": "Access is restricted"})
        spec = repo.files.get(filename)
        if spec is None:
            return self._json(request, {"error": "Entry not found"}, 404,
                              {"X-Error-Code": "EntryNotFound",
                               "X-Error-Message": "Entry not found"})
        common = {"X-Repo-Commit": COMMIT, "ETag": f'"{spec.sha256}"',
                  "X-Linked-Etag": f'"{spec.sha256}"', "X-Linked-Size": str(spec.size),
                  "Accept-Ranges": "bytes"}
        if repo.redirect and not on_cdn:
            # As the Hub does for LFS files: metadata on the redirect, bytes from storage.
            request.send_response(302)
            for key, value in common.items():
                request.send_header(key, value)
            request.send_header("Location", f"/cdn/{repo_id}/-/{filename}")
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        if head:
            request.send_response(200)
            for key, value in common.items():
                request.send_header(key, value)
            request.send_header("Content-Length", str(spec.size))
            request.end_headers()
            return
        if spec.silent:
            time.sleep(30)
            return
        if spec.busy_answers > 0:
            spec.busy_answers -= 1
            with self._lock:
                self.gets.append(GetRecord(request.path, request.headers.get("Range")))
            return self._json(request, {"error": "busy"}, 503)
        start = 0
        range_header = None if spec.ignore_range else request.headers.get("Range")
        if range_header:
            start = int(range_header.split("=", 1)[1].split("-", 1)[0])
        record = GetRecord(request.path, range_header)
        with self._lock:
            self.gets.append(record)
        body = spec.data[start:]
        request.send_response(206 if range_header else 200)
        for key, value in common.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(body)))
        if range_header:
            request.send_header("Content-Range", f"bytes {start}-{len(spec.data) - 1}/"
                                f"{len(spec.data)}")
        request.end_headers()
        stall_at = None
        if spec.stall_once_after is not None and filename not in self._stalled:
            self._stalled.add(filename)
            stall_at = spec.stall_once_after - start
        step = 16 * 1024
        try:
            for offset in range(0, len(body), step):
                if stall_at is not None and offset >= stall_at:
                    time.sleep(spec.stall_seconds)
                    request.close_connection = True
                    return
                piece = body[offset:offset + step]
                request.wfile.write(piece)
                request.wfile.flush()
                record.bytes_sent += len(piece)
                if spec.bytes_per_second:
                    time.sleep(len(piece) / spec.bytes_per_second)
        except (BrokenPipeError, ConnectionResetError):
            request.close_connection = True

    @staticmethod
    def _json(request: BaseHTTPRequestHandler, data: object, status: int = 200,
              headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)


def start_loopback_hub(monkeypatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start a server and point huggingface_hub at it (no token, no cache of the real Hub)."""
    hub = LoopbackHub().__enter__()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return hub
