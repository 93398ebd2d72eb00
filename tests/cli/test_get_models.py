"""``slmdesk models search|files|download|offline`` as real processes against a loopback Hub."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slmdesk.core import db
from slmdesk.core.hub.store import DownloadStatus, DownloadStore
from slmdesk.core.library.store import ModelLibrary
from slmdesk.paths import app_paths
from tests.cli.interrupt import interruptible
from tests.hub_server import HubFileSpec, start_loopback_hub, write_gguf

REPO, FILE = "test/Tiny-GGUF", "tiny-Q8_0.gguf"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = start_loopback_hub(monkeypatch, tmp_path)
    yield server
    server.__exit__()


@pytest.fixture
def model_bytes(tmp_path):
    return write_gguf(tmp_path / "model.gguf", padding_bytes=1_000_000).read_bytes()


def slmdesk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmdesk", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=120)


def start_slmdesk(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "slmdesk", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
                            preexec_fn=interruptible)


def wait_for_partial(at_least: int, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for partial in app_paths().downloads_dir.glob("*/*.partial"):
            if partial.stat().st_size >= at_least:
                return partial
        time.sleep(0.05)
    raise AssertionError("the download did not get going")


def test_search_and_files(hub, model_bytes):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes))
    found = slmdesk("models", "search", "tiny", "--json")
    assert found.returncode == 0, found.stderr
    assert [repo["repo_id"] for repo in json.loads(found.stdout)] == [REPO]
    listing = slmdesk("models", "files", REPO, "--json")
    assert listing.returncode == 0, listing.stderr
    (file,) = json.loads(listing.stdout)["files"]
    assert file["filename"] == FILE and file["size"] == len(model_bytes)
    assert file["quantization"] == "Q8_0" and file["memory"]["verdict"] == "fits"
    text = slmdesk("models", "files", REPO)
    assert "Q8_0" in text.stdout and FILE in text.stdout and "apache-2.0" in text.stdout


def test_a_download_killed_halfway_resumes_with_a_range_and_ends_verified(hub, model_bytes):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, bytes_per_second=400_000))
    first = start_slmdesk("models", "download", REPO, FILE)
    partial = wait_for_partial(len(model_bytes) // 3)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    kept = partial.stat().st_size
    assert 0 < kept < len(model_bytes)

    hub.repos[REPO].files[FILE].bytes_per_second = None
    second = slmdesk("models", "download", REPO, FILE, "--json")
    assert second.returncode == 0, second.stderr
    assert "Resuming" in second.stderr
    entry = json.loads(second.stdout)
    assert Path(entry["path"]).read_bytes() == model_bytes
    assert hub.gets[-1].range == f"bytes={kept}-"
    assert hub.gets[-1].bytes_sent == len(model_bytes) - kept  # the bytes kept were not re-fetched
    library = ModelLibrary.open(app_paths())
    assert [e.id for e in library.entries()] == [entry["id"]]
    library.close()


def test_ctrl_c_pauses_and_the_same_command_resumes(hub, model_bytes):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, bytes_per_second=400_000))
    first = start_slmdesk("models", "download", REPO, FILE)
    wait_for_partial(100_000)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=30)
    assert first.returncode == 130 and "Run the same command again to resume" in stderr
    conn = db.connect(app_paths().database)
    (row,) = DownloadStore(conn).all()
    conn.close()
    assert row.status == DownloadStatus.PAUSED and row.partial_path.stat().st_size > 0

    hub.repos[REPO].files[FILE].bytes_per_second = None
    second = slmdesk("models", "download", REPO, FILE)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("Added #")


def test_failures_exit_non_zero_with_the_reason(hub, model_bytes):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, declared_sha256="f" * 64))
    damaged = slmdesk("models", "download", REPO, FILE)
    assert damaged.returncode == 1 and "arrived damaged" in damaged.stderr
    missing = slmdesk("models", "download", "nobody/none", FILE)
    assert missing.returncode == 1 and "There is no repository nobody/none" in missing.stderr
    library = ModelLibrary.open(app_paths())
    assert library.entries() == []  # nothing unverified in the library
    library.close()


def test_the_offline_setting_stops_every_request(hub, model_bytes):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes))
    assert "off (offline)" in slmdesk("models", "offline", "on").stdout
    refused = slmdesk("models", "search", "tiny")
    assert refused.returncode == 1 and "Hub access is off" in refused.stderr
    assert hub.requests == []
    assert "is on" in slmdesk("models", "offline", "off").stdout
    assert slmdesk("models", "search", "tiny").returncode == 0
