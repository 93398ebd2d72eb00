"""A download from the Hub, from the request to the library entry.

The order is what keeps the library clean: the Hub's metadata first (the commit, the size and
the SHA-256, from ``model_info`` with file metadata and the ``resolve`` HEAD), then the free
disk space, then the bytes into ``downloads/<id>/<file>.partial`` (resumed from its size), then
the SHA-256 compared, and only then the file renamed and imported through the library's own
import (the header read and checked as for any file a person adds). A file that fails any step
never reaches the ``models`` table. The commit is pinned at the start, so a resume never mixes
bytes of two versions of the file.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from slmdesk.core import db
from slmdesk.core.gguf.info import GGUFError, format_bytes
from slmdesk.core.hub.access import ensure_online
from slmdesk.core.hub.errors import DiskFull, HubError, NotFoundError, explain
from slmdesk.core.hub.store import Download, DownloadStatus, DownloadStore
from slmdesk.core.hub.transfer import (
    ProgressReport,
    RetryPolicy,
    TransferControl,
    TransferProgress,
    TransferStopped,
    fetch,
)
from slmdesk.core.library.store import DuplicateModelError, LibraryEntry, ModelLibrary
from slmdesk.paths import AppPaths

PAUSE, CANCEL = "pause", "cancel"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SPLIT = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)


class ChecksumMismatch(HubError):
    """The bytes received do not hash to the SHA-256 the Hub gives for the file."""


class DownloadPaused(HubError):
    """Paused on request; the partial file is kept for a resume."""


class DownloadCancelled(HubError):
    """Cancelled on request; the partial file is deleted."""


@dataclass(frozen=True)
class RemoteFile:
    """What the Hub says about one file at one commit."""

    url: str
    revision: str
    size: int
    sha256: str


def describe_remote_file(endpoint: str, repo_id: str, filename: str,
                         revision: str | None = None) -> RemoteFile:
    """The file's commit, size and SHA-256, with the access check the download will face."""
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url

    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision,
                                                   files_metadata=True)
        sibling = next((s for s in info.siblings or [] if s.rfilename == filename), None)
        if sibling is None:
            raise NotFoundError(f"{repo_id} has no file named {filename}. List its files "
                                f"with: slmdesk models files {repo_id}")
        commit = info.sha or revision or "main"
        url = hf_hub_url(repo_id, filename, revision=commit, endpoint=endpoint)
        metadata = get_hf_file_metadata(url, endpoint=endpoint)
    except HubError:
        raise
    except Exception as exc:  # the Hub's and the network's errors, in plain words
        raise explain(exc, endpoint, repo_id, filename) from exc
    sha256 = sibling.lfs.sha256 if sibling.lfs else None
    if not sha256 and metadata.etag and _SHA256.match(metadata.etag):
        sha256 = metadata.etag
    size = sibling.lfs.size if sibling.lfs else (sibling.size or metadata.size)
    if not sha256 or size is None:
        raise HubError(f"The Hub gives no SHA-256 for {filename}, so SLM Desk cannot check "
                       "the download; it was not started.")
    return RemoteFile(url, metadata.commit_hash or commit, int(size), sha256.lower())


def disk_margin(needed: int) -> int:
    """Room kept free beyond the file (2%, at least 1 MiB, at most 64 MiB), so a download
    never fills the disk to the brim."""
    return min(64 * 1024**2, max(1024**2, needed // 50))


def check_free_space(folder: Path, needed: int) -> None:
    """DiskFull before the start when ``needed`` bytes (and a margin) do not fit in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed + disk_margin(needed):
        raise DiskFull(f"Not enough disk space: this download needs about "
                       f"{format_bytes(needed + disk_margin(needed))} more, and "
                       f"{format_bytes(free)} is free in {folder}. Free some space and try "
                       "again.")


def start_download(store: DownloadStore, paths: AppPaths, repo_id: str,
                   filename: str) -> Download:
    """The row for this file: the unfinished one (to resume it) or a new one."""
    if _SPLIT.search(filename):
        raise HubError(f"{filename} is one part of a model split into several files; SLM "
                       "Desk downloads single-file models. Pick a file without -of- in its "
                       "name.")
    if not filename.lower().endswith(".gguf"):
        raise HubError(f"{filename} is not a GGUF file; SLM Desk runs GGUF models.")
    done = store.find_in_library(repo_id, filename)
    if done is not None:
        return done  # run_download answers with its library entry at once
    existing = store.find_unfinished(repo_id, filename)
    if existing is not None:
        if existing.is_running_elsewhere:
            raise HubError(f"{filename} is already being downloaded by another SLM Desk "
                           f"(process {existing.pid}).")
        return existing
    return store.create(repo_id, filename, paths.downloads_dir)


def cancel_download(store: DownloadStore, download_id: int) -> None:
    """Forget a download that is not running and delete its partial file."""
    download = store.get(download_id)
    shutil.rmtree(download.partial_path.parent, ignore_errors=True)
    store.update(download_id, status=str(DownloadStatus.CANCELLED), pid=None, bytes_done=0)


def run_download(paths: AppPaths, download_id: int, control: TransferControl | None = None,
                 progress: ProgressReport | None = None,
                 policy: RetryPolicy | None = None) -> LibraryEntry:
    """Run (or resume) one download to its library entry, on this thread.

    Opens its own database connection, so call it from the thread that does the work.
    Raises DownloadPaused or DownloadCancelled when ``control`` stops it, and a HubError
    subclass with a plain message on any failure; the row says the same.
    """
    from huggingface_hub.utils._headers import build_hf_headers

    control = control or TransferControl()
    conn = db.connect(paths.database)
    store = DownloadStore(conn)
    try:
        download = store.get(download_id)
        if download.status == DownloadStatus.DONE and download.model_id is not None:
            return ModelLibrary(conn, paths).get(download.model_id)
        if download.is_running_elsewhere:
            raise HubError(f"{download.filename} is already being downloaded by another SLM "
                           f"Desk (process {download.pid}).")
        endpoint = ensure_online(conn)
        store.update(download_id, status=str(DownloadStatus.RUNNING), pid=os.getpid(),
                     error=None)
        partial = download.partial_path
        try:
            remote = describe_remote_file(endpoint, download.repo_id, download.filename,
                                          download.revision)
            if download.sha256 and download.sha256 != remote.sha256:
                partial.unlink(missing_ok=True)  # another file now: its old part is useless
            store.update(download_id, revision=remote.revision, size=remote.size,
                         sha256=remote.sha256)
            on_disk = partial.stat().st_size if partial.exists() else 0
            check_free_space(partial.parent, max(0, remote.size - on_disk))
            sha256 = fetch(remote.url, partial, headers=build_hf_headers(),
                           expected_size=remote.size, control=control,
                           progress=_saving_progress(store, download_id, progress),
                           policy=policy)
            if sha256 != remote.sha256:
                partial.unlink(missing_ok=True)
                raise ChecksumMismatch(
                    f"{download.filename} arrived damaged: its SHA-256 does not match the one "
                    "the Hub gives, so it was deleted and not added to the library. Try the "
                    "download again.", f"expected {remote.sha256}, received {sha256}")
            entry = _import_verified(conn, paths, download, remote, partial)
        except TransferStopped:
            if control.reason == CANCEL:
                cancel_download(store, download_id)
                raise DownloadCancelled(f"The download of {download.filename} was cancelled."
                                        ) from None
            _pause(store, download_id, None)
            raise DownloadPaused(f"The download of {download.filename} is paused.") from None
        except KeyboardInterrupt:
            _pause(store, download_id, None)
            raise
        except HubError as exc:
            _fail(store, download_id, exc)
            raise
        except OSError as exc:
            error = explain(exc, endpoint, download.repo_id, download.filename)
            _fail(store, download_id, error)
            raise error from exc
        store.update(download_id, status=str(DownloadStatus.DONE), model_id=entry.id, pid=None,
                     bytes_done=remote.size, error=None)
        return entry
    finally:
        conn.close()


def _import_verified(conn: sqlite3.Connection, paths: AppPaths, download: Download, remote: RemoteFile,
                     partial: Path) -> LibraryEntry:
    """Rename the verified file to its own name and move it into the library."""
    verified = partial.with_name(Path(download.filename).name)
    os.replace(partial, verified)
    library = ModelLibrary(conn, paths)
    provenance = {"source": "huggingface", "repo_id": download.repo_id,
                  "filename": download.filename, "revision": remote.revision,
                  "sha256": remote.sha256}
    try:
        entry = library.import_file(verified, move=True, provenance=provenance)
    except DuplicateModelError as exc:
        entry = exc.existing
    except GGUFError as exc:
        raise HubError(f"{download.filename} matches the Hub's checksum but is not a GGUF "
                       f"model SLM Desk can read: {exc}", exc.detail) from exc
    finally:
        shutil.rmtree(partial.parent, ignore_errors=True)
    return entry


def _pause(store: DownloadStore, download_id: int, error: str | None) -> None:
    _record_end(store, download_id, DownloadStatus.PAUSED, error)


def _fail(store: DownloadStore, download_id: int, error: HubError) -> None:
    _record_end(store, download_id, DownloadStatus.FAILED, error.message)


def _record_end(store: DownloadStore, download_id: int, status: DownloadStatus,
                error: str | None) -> None:
    """Write how the download ended; on a full disk the database may refuse even that, and
    then the row stays *running* with this (soon dead) pid, which the next start reads as
    interrupted: the person still gets the real error."""
    try:
        download = store.get(download_id)
        store.update(download_id, status=str(status), pid=None, error=error,
                     bytes_done=download.bytes_on_disk)
    except sqlite3.Error:
        pass


def _saving_progress(store: DownloadStore, download_id: int,
                     progress: ProgressReport | None) -> ProgressReport:
    """Pass each report on, and write the byte count to the row at most once a second."""
    last = [0.0]

    def report(state: TransferProgress) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            store.update(download_id, bytes_done=state.done)
        if progress is not None:
            progress(state)

    return report
