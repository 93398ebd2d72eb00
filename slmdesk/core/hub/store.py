"""The ``downloads`` table: one row per download from the first byte to the library entry.

The row, not the running thread, is the truth: a download whose process died (closed window,
kill, crash) is found at the next start with status *running* and a dead pid, shown as paused,
and resumed from its partial file.
"""

from __future__ import annotations

import enum
import os
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from slmdesk.core.errors import SlmdeskError


class DownloadStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DONE = "done"


FINISHED = (DownloadStatus.DONE, DownloadStatus.CANCELLED)


@dataclass(frozen=True)
class Download:
    """One row of the ``downloads`` table."""

    id: int
    repo_id: str
    filename: str
    revision: str | None
    size: int | None
    sha256: str | None
    partial_path: Path
    status: DownloadStatus
    bytes_done: int
    error: str | None
    pid: int | None
    model_id: int | None
    created_at: str
    updated_at: str

    @property
    def is_running_elsewhere(self) -> bool:
        """Running in another live process (a second window or a CLI download)."""
        return (self.status == DownloadStatus.RUNNING and self.pid is not None
                and self.pid != os.getpid() and psutil.pid_exists(self.pid))

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def bytes_on_disk(self) -> int:
        """What the partial file holds now (the row's count may lag by a second)."""
        try:
            return self.partial_path.stat().st_size
        except OSError:
            return 0 if self.status != DownloadStatus.DONE else (self.size or 0)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["partial_path"] = str(self.partial_path)
        data["status"] = str(self.status)
        return data


class DownloadStore:
    """The downloads table over one connection (one store per thread)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def create(self, repo_id: str, filename: str, downloads_dir: Path) -> Download:
        cursor = self.conn.execute(
            "INSERT INTO downloads (repo_id, filename, partial_path) VALUES (?, ?, '')",
            (repo_id, filename))
        download_id = cursor.lastrowid
        assert download_id is not None
        partial = downloads_dir / str(download_id) / (Path(filename).name + ".partial")
        self.update(download_id, partial_path=str(partial))
        return self.get(download_id)

    def get(self, download_id: int) -> Download:
        row = self.conn.execute("SELECT * FROM downloads WHERE id = ?",
                                (download_id,)).fetchone()
        if row is None:
            raise SlmdeskError(f"There is no download with id {download_id}.")
        return self._download(row)

    def all(self) -> list[Download]:
        """Every download, newest first."""
        rows = self.conn.execute("SELECT * FROM downloads ORDER BY id DESC").fetchall()
        return [self._download(row) for row in rows]

    def unfinished(self) -> list[Download]:
        """Downloads that can still be resumed (or are running), newest first."""
        return [d for d in self.all() if not d.is_finished]

    def find_unfinished(self, repo_id: str, filename: str) -> Download | None:
        return next((d for d in self.unfinished()
                     if d.repo_id == repo_id and d.filename == filename), None)

    def find_in_library(self, repo_id: str, filename: str) -> Download | None:
        """The finished download of this file whose model is still in the library, on disk."""
        row = self.conn.execute(
            "SELECT d.* FROM downloads d JOIN models m ON m.id = d.model_id WHERE d.repo_id = ?"
            " AND d.filename = ? AND d.status = 'done' ORDER BY d.id DESC LIMIT 1",
            (repo_id, filename)).fetchone()
        if row is None:
            return None
        download = self._download(row)
        path = self.conn.execute("SELECT path FROM models WHERE id = ?",
                                 (download.model_id,)).fetchone()[0]
        return download if Path(path).is_file() else None

    def update(self, download_id: int, **values: Any) -> None:
        if not values:
            return
        columns = ", ".join(f"{name} = ?" for name in values)
        self.conn.execute(
            f"UPDATE downloads SET {columns}, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
            " WHERE id = ?", (*[str(v) if isinstance(v, Path) else v for v in values.values()],
                              download_id))

    def recover_interrupted(self) -> list[Download]:
        """Mark downloads whose process is gone as paused (they resume from their partial
        file); return them."""
        recovered = []
        for download in self.all():
            if download.status == DownloadStatus.RUNNING and not download.is_running_elsewhere \
                    and download.pid != os.getpid():
                self.update(download.id, status=str(DownloadStatus.PAUSED), pid=None,
                            bytes_done=download.bytes_on_disk,
                            error="Interrupted when SLM Desk was closed; resume to continue.")
                recovered.append(self.get(download.id))
        return recovered

    @staticmethod
    def _download(row: sqlite3.Row) -> Download:
        return Download(
            id=row["id"], repo_id=row["repo_id"], filename=row["filename"],
            revision=row["revision"], size=row["size"], sha256=row["sha256"],
            partial_path=Path(row["partial_path"]), status=DownloadStatus(row["status"]),
            bytes_done=row["bytes_done"], error=row["error"], pid=row["pid"],
            model_id=row["model_id"], created_at=row["created_at"], updated_at=row["updated_at"])
