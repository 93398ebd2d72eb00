"""Training runs in SQLite, and the event lines both sides of a run share."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from slmdesk.core import db
from slmdesk.core.training import events as ev
from slmdesk.core.training.job import JOB_FILE, TrainingJob
from slmdesk.core.training.runs import RunError, RunStore
from slmdesk.paths import app_paths


@pytest.fixture
def store():
    runs = RunStore.open(app_paths())
    yield runs
    runs.close()


def job() -> TrainingJob:
    return TrainingJob(base_model_path="/models/base.gguf", documents=["/notes/a.txt"],
                       base_model_id=None)


def test_migration_3_adds_the_runs_table(tmp_path):
    conn = db.connect(tmp_path / "x.db")
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(training_runs)")}
    assert {"id", "status", "base_model_id", "adapter_model_id", "run_dir", "job_json",
            "metrics_json", "error", "pid", "created_at", "updated_at"} <= columns
    assert db.schema_version(conn) >= 3


def test_create_get_list_update(store):
    first = store.create(job())
    second = store.create(job())
    assert first.run_dir == app_paths().runs_dir.resolve() / "0001"
    assert (first.run_dir / JOB_FILE).is_file()
    assert TrainingJob.load(first.run_dir / JOB_FILE) == job()
    assert first.status == "interrupted" and first.resumable  # created, not started yet
    assert [run.id for run in store.list()] == [second.id, first.id]
    updated = store.update(first.id, status="running", metrics={"step": 3}, pid=os.getpid())
    updated = store.update(first.id, metrics={"loss": 1.5})
    assert updated.metrics == {"step": 3, "loss": 1.5} and updated.pid == os.getpid()
    assert store.find_by_dir(first.run_dir).id == first.id
    with pytest.raises(RunError, match="no training run with id 99"):
        store.get(99)
    with pytest.raises(ValueError):
        store.update(first.id, status="exploded")


def test_claim_refuses_a_finished_run_or_one_running_elsewhere(store):
    run = store.create(job())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)",
                                "slmdesk.core.training.worker"])
    try:
        store.update(run.id, status="running", pid=sleeper.pid)
        with pytest.raises(RunError, match="already running"):
            store.claim(run.id, os.getpid())
        assert store.mark_stale_running_as_interrupted() == []  # that process is alive
        with pytest.raises(RunError, match="still running"):
            store.delete(run.id)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert store.mark_stale_running_as_interrupted() == [run.id]
    interrupted = store.get(run.id)
    assert interrupted.status == "interrupted" and interrupted.pid is None
    assert "resumed" in interrupted.error
    assert store.claim(run.id, os.getpid()).status == "running"
    store.update(run.id, status="finished")
    with pytest.raises(RunError, match="already finished"):
        store.claim(run.id, os.getpid())


def test_a_reused_pid_of_another_program_does_not_keep_a_run_running(store):
    run = store.create(job())
    store.update(run.id, status="running", pid=os.getppid())  # alive, but not a worker
    assert store.mark_stale_running_as_interrupted() == [run.id]


def test_delete_removes_the_folder(store):
    run = store.create(job())
    (run.run_dir / "checkpoints").mkdir()
    store.delete(run.id)
    assert not run.run_dir.exists() and store.list() == []


def test_events_round_trip_and_progress_line(tmp_path):
    writer = ev.EventWriter(None, tmp_path / ev.EVENTS_FILE)
    writer.emit(ev.STEP, step=12, total_steps=40, loss=2.31, tokens_per_second=85.2,
                eta_seconds=80)
    writer.emit(ev.EVAL, stage="after", loss=float("nan"), perplexity=float("inf"))
    writer.close()
    (tmp_path / ev.EVENTS_FILE).open("a").write('{"type": "step", "ste')  # a torn last line
    step, evaluation = ev.read_events(tmp_path)
    assert ev.format_progress(step) == "step 12/40 [======>             ] loss 2.31 85 tok/s ETA 1:20"
    assert evaluation["loss"] is None and evaluation["perplexity"] is None  # JSON has no NaN
    assert ev.is_terminal({"type": ev.INTERRUPTED}) and not ev.is_terminal(step)
    with pytest.raises(ev.EventError):
        ev.parse_event("hello")
    assert ev.format_duration(3723) == "1:02:03" and ev.format_duration(None) == "?"
