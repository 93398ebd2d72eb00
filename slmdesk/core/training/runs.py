"""Fine-tuning runs in the database, each with its folder ``runs/<id>``.

The folder holds the job, the chunks, the events, checkpoints and the adapter; the row is what the
window lists, and the status a killed worker leaves behind: a run that says *running* but whose
process is gone is turned into *interrupted* (resumable) by
:meth:`RunStore.mark_stale_running_as_interrupted`.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import Any

import psutil

from slmdesk.core import db
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.processes import TRAINING_MODULE
from slmdesk.core.training.job import JOB_FILE, TrainingJob
from slmdesk.paths import AppPaths

STATUSES = ("running", "finished", "cancelled", "interrupted", "failed")
#: A run in one of these states can continue with ``--resume``.
RESUMABLE = frozenset({"cancelled", "interrupted", "failed"})


class RunError(SlmdeskError):
    """A run operation could not be done; the message says why."""


@dataclass(frozen=True)
class TrainingRun:
    id: int
    status: str
    base_model_id: int | None
    adapter_model_id: int | None
    run_dir: Path
    job: dict[str, Any]
    metrics: dict[str, Any]
    error: str | None
    pid: int | None
    created_at: str
    updated_at: str

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE

    def training_job(self) -> TrainingJob:
        return TrainingJob.from_dict(self.job)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "base_model_id": self.base_model_id,
                "adapter_model_id": self.adapter_model_id, "run_dir": str(self.run_dir),
                "job": self.job, "metrics": self.metrics, "error": self.error, "pid": self.pid,
                "created_at": self.created_at, "updated_at": self.updated_at}


_NOW = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"


class RunStore:
    """Training runs over one SQLite connection (one instance per thread or process)."""

    def __init__(self, conn: sqlite3.Connection, paths: AppPaths) -> None:
        self.conn = conn
        self.paths = paths

    @classmethod
    def open(cls, paths: AppPaths) -> "RunStore":
        paths.ensure()
        return cls(db.connect(paths.database), paths)

    def close(self) -> None:
        self.conn.close()

    def create(self, job: TrainingJob, *, run_dir: Path | None = None,
               status: str = "interrupted") -> TrainingRun:
        """Add a run and its folder with ``job.json``.

        A new run is *interrupted* (not started, resumable from nothing) until a worker claims it.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = self.conn.execute(
                "INSERT INTO training_runs (status, base_model_id, run_dir, job_json)"
                " VALUES (?, ?, ?, ?)",
                (status, job.base_model_id, str(run_dir or ""), json.dumps(job.to_dict())))
            run_id = cursor.lastrowid
            assert run_id is not None  # set by every INSERT
            folder = Path(run_dir) if run_dir else self.paths.runs_dir / f"{run_id:04d}"
            self.conn.execute("UPDATE training_runs SET run_dir = ? WHERE id = ?",
                              (str(folder.resolve()), run_id))
            folder.mkdir(parents=True, exist_ok=True)
            job.save(folder / JOB_FILE)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return self.get(run_id)

    def get(self, run_id: int) -> TrainingRun:
        row = self.conn.execute("SELECT * FROM training_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunError(f"There is no training run with id {run_id}.")
        return self._run(row)

    def find_by_dir(self, run_dir: Path) -> TrainingRun | None:
        row = self.conn.execute("SELECT * FROM training_runs WHERE run_dir = ?",
                                (str(Path(run_dir).resolve()),)).fetchone()
        return None if row is None else self._run(row)

    def find_by_adapter(self, adapter_model_id: int) -> TrainingRun | None:
        """The run that made this adapter (the newest, should a resumed run have written it twice)."""
        row = self.conn.execute("SELECT * FROM training_runs WHERE adapter_model_id = ? ORDER BY id DESC",
                                (adapter_model_id,)).fetchone()
        return None if row is None else self._run(row)

    def list(self) -> list[TrainingRun]:
        """Newest first."""
        rows = self.conn.execute("SELECT * FROM training_runs ORDER BY id DESC").fetchall()
        return [self._run(row) for row in rows]

    def update(self, run_id: int, *, status: str | None = None, metrics: dict[str, Any] | None = None,
               error: str | None | EllipsisType = ..., pid: int | None | EllipsisType = ...,
               adapter_model_id: int | None = None, merge_metrics: bool = True) -> TrainingRun:
        """Change some fields; ``metrics`` are merged into the stored ones unless told not to."""
        sets: builtins.list[str] = []
        values: builtins.list[Any] = []
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"unknown run status {status!r}")
            sets.append("status = ?")
            values.append(status)
        if metrics is not None:
            if merge_metrics:
                metrics = {**self.get(run_id).metrics, **metrics}
            sets.append("metrics_json = ?")
            values.append(json.dumps(metrics))
        if error is not ...:
            sets.append("error = ?")
            values.append(error)
        if pid is not ...:
            sets.append("pid = ?")
            values.append(pid)
        if adapter_model_id is not None:
            sets.append("adapter_model_id = ?")
            values.append(adapter_model_id)
        sets.append(f"updated_at = {_NOW}")
        self.conn.execute(f"UPDATE training_runs SET {', '.join(sets)} WHERE id = ?",
                          (*values, run_id))
        return self.get(run_id)

    def claim(self, run_id: int, pid: int) -> TrainingRun:
        """Mark the run running in process ``pid``; refuse when another live process has it."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            run = self.get(run_id)
            if run.status == "running" and run.pid not in (None, pid) and _alive(run.pid):
                raise RunError(f"Training run {run_id} is already running (process {run.pid}).")
            if run.status == "finished":
                raise RunError(f"Training run {run_id} has already finished.")
            self.conn.execute(
                f"UPDATE training_runs SET status = 'running', pid = ?, error = NULL,"
                f" updated_at = {_NOW} WHERE id = ?", (pid, run_id))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return self.get(run_id)

    def mark_stale_running_as_interrupted(self) -> builtins.list[int]:
        """Runs marked running whose process is gone (killed, crashed, power cut) become
        *interrupted*; returns their ids."""
        stale = [run for run in self.list() if run.status == "running" and not _alive(run.pid)]
        for run in stale:
            self.update(run.id, status="interrupted", pid=None,
                        error=run.error or "The training process stopped unexpectedly; "
                        "the run can be resumed from its last checkpoint.")
        return [run.id for run in stale]

    def delete(self, run_id: int) -> None:
        """Forget a run and delete its folder (an adapter already in the library stays there)."""
        run = self.get(run_id)
        if run.status == "running" and _alive(run.pid):
            raise RunError(f"Training run {run_id} is still running; cancel it first.")
        if run.run_dir.is_dir() and run.run_dir.resolve() != self.paths.runs_dir.resolve():
            shutil.rmtree(run.run_dir, ignore_errors=True)
        self.conn.execute("DELETE FROM training_runs WHERE id = ?", (run_id,))

    @staticmethod
    def _run(row: sqlite3.Row) -> TrainingRun:
        return TrainingRun(
            id=row["id"], status=row["status"], base_model_id=row["base_model_id"],
            adapter_model_id=row["adapter_model_id"], run_dir=Path(row["run_dir"]),
            job=json.loads(row["job_json"]), metrics=json.loads(row["metrics_json"] or "{}"),
            error=row["error"], pid=row["pid"], created_at=row["created_at"],
            updated_at=row["updated_at"])


def _alive(pid: int | None) -> bool:
    """True when ``pid`` is a live training worker (zombies, and another program that was given
    the same number after the worker died, count as gone)."""
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return TRAINING_MODULE in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True
