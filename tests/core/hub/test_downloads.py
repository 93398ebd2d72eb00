"""Downloads from a loopback Hub with the real huggingface_hub: resume, verify, fail cleanly."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from slmdesk.core import db
from slmdesk.core.hub.access import HubOffline, set_offline
from slmdesk.core.hub.downloads import (
    CANCEL,
    PAUSE,
    ChecksumMismatch,
    DownloadCancelled,
    DownloadPaused,
    run_download,
    start_download,
)
from slmdesk.core.hub.errors import (
    ConnectionLost,
    DiskFull,
    GatedRepoError,
    LoginRequiredError,
    NotFoundError,
)
from slmdesk.core.hub.store import DownloadStatus, DownloadStore
from slmdesk.core.hub.transfer import RetryPolicy, TransferControl
from slmdesk.core.library.store import ModelLibrary
from slmdesk.paths import app_paths
from tests.hub_server import COMMIT, HubFileSpec, start_loopback_hub, write_gguf

REPO, FILE = "test/Tiny-GGUF", "tiny-Q8_0.gguf"
FAST = RetryPolicy(stall_seconds=0.5, attempts=3, first_wait=0.05, max_wait=0.1)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = start_loopback_hub(monkeypatch, tmp_path)
    yield server
    server.__exit__()


@pytest.fixture
def model_bytes(tmp_path):
    return write_gguf(tmp_path / "model.gguf", padding_bytes=1_000_000).read_bytes()


@pytest.fixture
def paths():
    return app_paths().ensure()


@pytest.fixture
def store(paths):
    conn = db.connect(paths.database)
    yield DownloadStore(conn)
    conn.close()


def library_rows(paths) -> list:
    library = ModelLibrary.open(paths)
    try:
        return library.entries()
    finally:
        library.close()


def test_a_download_reports_progress_verifies_and_enters_the_library(hub, model_bytes, paths,
                                                                       store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, bytes_per_second=4_000_000))
    download = start_download(store, paths, REPO, FILE)
    reports = []
    entry = run_download(paths, download.id, progress=reports.append)

    assert entry.path == paths.models_dir / FILE
    assert entry.path.read_bytes() == model_bytes
    assert entry.provenance["repo_id"] == REPO and entry.provenance["revision"] == COMMIT
    done = [r.done for r in reports]
    assert done == sorted(done) and done[-1] == len(model_bytes)
    assert any(r.bytes_per_second > 0 and r.eta_seconds is not None for r in reports)
    row = store.get(download.id)
    assert row.status == DownloadStatus.DONE and row.model_id == entry.id
    assert not row.partial_path.parent.exists()  # nothing left in downloads/
    assert [g.range for g in hub.gets] == [None]
    assert hub.gets[0].path.startswith("/cdn/")  # the resolve's redirect was followed


def test_a_paused_download_resumes_with_a_range_and_fetches_only_the_rest(hub, model_bytes,
                                                                          paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, bytes_per_second=2_000_000))
    download = start_download(store, paths, REPO, FILE)
    control = TransferControl()

    def pause_halfway(state):
        if state.done >= len(model_bytes) // 2:
            control.stop(PAUSE)

    with pytest.raises(DownloadPaused):
        run_download(paths, download.id, control, progress=pause_halfway)
    paused = store.get(download.id)
    kept = paused.partial_path.stat().st_size
    assert paused.status == DownloadStatus.PAUSED and 0 < kept < len(model_bytes)
    assert library_rows(paths) == []  # a partial file never appears in the library

    assert start_download(store, paths, REPO, FILE).id == download.id  # the same row resumes
    entry = run_download(paths, download.id)
    assert entry.path.read_bytes() == model_bytes
    assert hub.gets[-1].range == f"bytes={kept}-"
    assert hub.gets[-1].bytes_sent == len(model_bytes) - kept


def test_a_stalled_transfer_is_retried_from_where_it_stopped(hub, model_bytes, paths, store):
    half = len(model_bytes) // 2
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, stall_once_after=half, stall_seconds=3))
    download = start_download(store, paths, REPO, FILE)
    phases = []
    entry = run_download(paths, download.id, progress=lambda s: phases.append(s.phase),
                         policy=FAST)
    assert entry.path.read_bytes() == model_bytes
    assert "retrying" in phases
    assert len(hub.gets) == 2 and hub.gets[1].range is not None
    assert hub.bytes_sent(FILE) == len(model_bytes)  # nothing fetched twice


def test_a_server_that_ignores_the_range_gets_the_file_again_not_appended(hub, model_bytes,
                                                                           paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, bytes_per_second=2_000_000,
                                         ignore_range=True))
    download = start_download(store, paths, REPO, FILE)
    control = TransferControl()
    with pytest.raises(DownloadPaused):
        run_download(paths, download.id, control,
                     progress=lambda s: control.stop(PAUSE) if s.done > 300_000 else None)
    hub.repos[REPO].files[FILE].bytes_per_second = None
    entry = run_download(paths, download.id)
    assert entry.path.read_bytes() == model_bytes  # verified, so not doubled


def test_a_busy_server_is_tried_again(hub, model_bytes, paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, busy_answers=2))
    download = start_download(store, paths, REPO, FILE)
    entry = run_download(paths, download.id, policy=FAST)
    assert entry.path.read_bytes() == model_bytes
    assert len(hub.gets) == 3


def test_a_file_already_downloaded_is_not_fetched_again(hub, model_bytes, paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes))
    first = run_download(paths, start_download(store, paths, REPO, FILE).id)
    again = start_download(store, paths, REPO, FILE)
    assert run_download(paths, again.id).id == first.id
    assert len(hub.gets) == 1


def test_a_server_that_stops_answering_fails_with_its_own_message(hub, model_bytes, paths,
                                                                   store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, silent=True))
    download = start_download(store, paths, REPO, FILE)
    with pytest.raises(ConnectionLost, match="sent nothing for 0.5 seconds, 3 times"):
        run_download(paths, download.id, policy=FAST)
    row = store.get(download.id)
    assert row.status == DownloadStatus.FAILED and "resume it" in row.error


def test_a_file_that_does_not_match_its_sha256_is_refused(hub, model_bytes, paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, declared_sha256="0" * 64))
    download = start_download(store, paths, REPO, FILE)
    with pytest.raises(ChecksumMismatch, match="arrived damaged"):
        run_download(paths, download.id)
    assert library_rows(paths) == []
    assert list(paths.models_dir.iterdir()) == []
    assert not store.get(download.id).partial_path.exists()
    assert store.get(download.id).status == DownloadStatus.FAILED


def test_a_cancelled_download_leaves_nothing(hub, model_bytes, paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, bytes_per_second=2_000_000))
    download = start_download(store, paths, REPO, FILE)
    control = TransferControl()
    with pytest.raises(DownloadCancelled):
        run_download(paths, download.id, control,
                     progress=lambda s: control.stop(CANCEL) if s.done > 100_000 else None)
    assert store.get(download.id).status == DownloadStatus.CANCELLED
    assert not store.get(download.id).partial_path.parent.exists()
    assert library_rows(paths) == []


def test_no_room_for_the_file_fails_before_the_first_byte(hub, model_bytes, paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes, declared_size=10**15))
    download = start_download(store, paths, REPO, FILE)
    with pytest.raises(DiskFull, match="Not enough disk space"):
        run_download(paths, download.id)
    assert hub.gets == []
    assert store.get(download.id).status == DownloadStatus.FAILED


def test_a_disk_that_fills_during_the_download_fails_cleanly(hub, model_bytes, tmp_path,
                                                             monkeypatch):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs",
                                            str(mount)], capture_output=True).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        monkeypatch.setenv("SLMDESK_HOME", str(mount / "home"))
        small = app_paths().ensure()
        conn = db.connect(small.database)
        hub.add_file(REPO, FILE, HubFileSpec(model_bytes, bytes_per_second=4_000_000))
        download = start_download(DownloadStore(conn), small, REPO, FILE)
        filled = []

        def another_program_fills_the_disk(state):
            if state.done > 200_000 and not filled:
                filled.append(mount / "filler")
                with open(filled[0], "wb") as handle:
                    try:
                        while True:
                            handle.write(b"\0" * 65536)
                    except OSError:
                        pass

        with pytest.raises(DiskFull, match="The disk is full"):
            run_download(small, download.id, progress=another_program_fills_the_disk)
        filled[0].unlink()
        row = DownloadStore(conn).get(download.id)
        # The database shares the full disk: it may not have taken the word "failed" either.
        assert row.status in (DownloadStatus.FAILED, DownloadStatus.RUNNING)
        assert row.partial_path.exists()  # kept, to resume once there is room
        assert ModelLibrary(conn, small).entries() == []
        conn.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize(("status", "gated", "error", "words"), [
    (401, False, LoginRequiredError, "asks you to log in"),
    (404, False, NotFoundError, "There is no repository test/Tiny-GGUF"),
    (None, True, GatedRepoError, "is gated"),
])
def test_refusals_get_their_own_message(hub, model_bytes, paths, store, status, gated, error,
                                        words):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes), status=status, gated=gated)
    download = start_download(store, paths, REPO, FILE)
    with pytest.raises(error, match=words):
        run_download(paths, download.id)
    assert words in store.get(download.id).error  # the row keeps the same sentence
    assert hub.gets == []


def test_a_missing_file_is_named(hub, model_bytes, paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes))
    download = start_download(store, paths, REPO, "other-Q4_K_M.gguf")
    with pytest.raises(NotFoundError, match="has no file named other-Q4_K_M.gguf"):
        run_download(paths, download.id)


def test_nothing_is_sent_while_offline(hub, model_bytes, paths, store):
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes))
    set_offline(store.conn, True)
    download = start_download(store, paths, REPO, FILE)
    with pytest.raises(HubOffline):
        run_download(paths, download.id)
    assert hub.requests == []


def test_a_download_whose_process_died_is_listed_as_paused(paths, store):
    download = store.create(REPO, FILE, paths.downloads_dir)
    dead = subprocess.Popen(["true"])
    dead.wait()
    store.update(download.id, status="running", pid=dead.pid)
    assert [d.id for d in store.recover_interrupted()] == [download.id]
    assert store.get(download.id).status == DownloadStatus.PAUSED


def test_split_files_are_refused_with_a_reason(paths, store):
    with pytest.raises(Exception, match="split into several files"):
        start_download(store, paths, REPO, "big-Q4_K_M-00001-of-00003.gguf")


def test_a_download_runs_off_the_calling_thread(hub, model_bytes, paths, store):
    """The window runs downloads on a worker thread with its own database connection."""
    hub.add_file(REPO, FILE, HubFileSpec(model_bytes))
    download = start_download(store, paths, REPO, FILE)
    result = {}
    worker = threading.Thread(target=lambda: result.update(entry=run_download(paths,
                                                                              download.id)))
    worker.start()
    worker.join(30)
    assert result["entry"].path.is_file()
