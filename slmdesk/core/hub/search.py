"""Search the Hub for GGUF repositories and list a repository's GGUF files.

Both go through ``huggingface_hub.HfApi`` at the endpoint :func:`access.hub_endpoint` names.
A file's quantization is read from its name (``...-Q4_K_M.gguf``), as every GGUF publisher
names them; a file split into parts (``-00001-of-00003.gguf``) is marked, since SLM Desk
downloads single-file models only.
"""

from __future__ import annotations

import re
import socket
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from slmdesk.core.hub.errors import ConnectionLost, explain
from slmdesk.core.library.memory import MemoryEstimate, estimate_memory_for_shape

_QUANT = re.compile(r"(?<![A-Za-z0-9])(I?Q\d(?:_[A-Z0-9]+)*|F16|BF16|F32|FP16)(?![A-Za-z0-9])",
                    re.IGNORECASE)
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
SEARCH_LIMIT = 30
#: A Hub that does not take a connection within this time is reported at once: huggingface_hub
#: would retry five times over about 25 s, printing a line each time.
REACH_TIMEOUT_SECONDS = 5.0


def _quiet_hub_logs() -> None:
    """huggingface_hub prints its retries on stderr through a handler of its own: send them to
    SLM Desk's log file instead (the root logger's, :mod:`slmdesk.core.logs`)."""
    import logging

    hub_logger = logging.getLogger("huggingface_hub")
    for handler in list(hub_logger.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler):
            hub_logger.removeHandler(handler)
    hub_logger.propagate = True


def check_reachable(endpoint: str) -> None:
    """Raise :class:`ConnectionLost` at once when ``endpoint`` takes no connection (no network,
    a name that does not resolve, a mirror that is down), saying how to work offline."""
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), REACH_TIMEOUT_SECONDS).close()
    except OSError as exc:
        raise ConnectionLost(
            f"Could not reach {endpoint}: {exc.strerror or exc}. Check your connection (or "
            "HF_ENDPOINT, if you use a mirror) and try again. On a computer without internet, "
            "turn the Hub off: slmdesk models offline on (or tick “Offline” on the Get models page).",
            f"{type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class RepoSummary:
    """One search result: a repository that holds GGUF files."""

    repo_id: str
    downloads: int
    likes: int
    last_modified: str | None
    gated: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HubFile:
    """One GGUF file of a repository, with what the Hub says about it."""

    repo_id: str
    filename: str
    size: int | None
    sha256: str | None
    quantization: str
    split_parts: int | None = None

    @property
    def is_split(self) -> bool:
        return bool(self.split_parts and self.split_parts > 1)

    def estimate(self, available_bytes: int | None = None) -> MemoryEstimate:
        """A lower bound from the file size alone (the KV cache needs the header)."""
        return estimate_memory_for_shape(self.size or 0, block_count=None, head_count_kv=None,
                                         head_dim=None, vocab_size=None,
                                         max_context_length=None,
                                         available_bytes=available_bytes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RepoFiles:
    """A repository's GGUF files at one commit, with its license and gating."""

    repo_id: str
    revision: str | None
    license: str | None
    gated: bool
    files: tuple[HubFile, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [file.to_dict() for file in self.files]
        return data


def quantization_of(filename: str) -> str:
    """The quantization a GGUF file's name announces ("Q4_K_M"), or "" when it says none."""
    found = _QUANT.findall(filename.rsplit("/", 1)[-1])
    return found[-1].upper().replace("FP16", "F16") if found else ""


def search_gguf_repos(endpoint: str, query: str, limit: int = SEARCH_LIMIT) -> list[RepoSummary]:
    """Repositories matching ``query`` that hold GGUF files, most downloaded first."""
    from huggingface_hub import HfApi

    _quiet_hub_logs()
    check_reachable(endpoint)
    try:
        found = HfApi(endpoint=endpoint).list_models(
            search=query.strip() or None, filter="gguf", sort="downloads", limit=limit)
        return [RepoSummary(model.id, model.downloads or 0, model.likes or 0,
                            model.last_modified.isoformat() if model.last_modified else None,
                            bool(model.gated))
                for model in found]
    except Exception as exc:  # every failure of the request becomes a plain message
        raise explain(exc, endpoint, query) from exc


def list_gguf_files(endpoint: str, repo_id: str, revision: str | None = None) -> RepoFiles:
    """The GGUF files of ``repo_id`` with their sizes and SHA-256 (one request)."""
    from huggingface_hub import HfApi

    _quiet_hub_logs()
    check_reachable(endpoint)
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision,
                                                   files_metadata=True)
    except Exception as exc:
        raise explain(exc, endpoint, repo_id) from exc
    files = []
    for sibling in info.siblings or []:
        if not sibling.rfilename.lower().endswith(".gguf"):
            continue
        split = _SPLIT.search(sibling.rfilename)
        files.append(HubFile(
            repo_id=repo_id, filename=sibling.rfilename,
            size=sibling.lfs.size if sibling.lfs else sibling.size,
            sha256=sibling.lfs.sha256 if sibling.lfs else None,
            quantization=quantization_of(_SPLIT.sub(".gguf", sibling.rfilename)),
            split_parts=int(split.group(2)) if split else None))
    card = info.card_data
    license_name = card.get("license") if card is not None else None
    if license_name is None:
        license_name = next((tag.split(":", 1)[1] for tag in info.tags or []
                             if tag.startswith("license:")), None)
    return RepoFiles(repo_id, info.sha, license_name, bool(info.gated),
                     tuple(sorted(files, key=lambda f: (f.size or 0, f.filename))))
