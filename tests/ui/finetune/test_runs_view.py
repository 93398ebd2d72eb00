"""The Runs list: every run with its status, metrics and chart; Resume and Delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from slmdesk.core.library.store import ModelLibrary
from slmdesk.core.training import events as ev
from slmdesk.core.training.job import job_from_preset
from slmdesk.core.training.runs import RunStore
from slmdesk.paths import app_paths
from slmdesk.ui.finetune.runs_view import RunsView
from tests.gguf_factory import write_tiny_model

NOTE = Path(__file__).parents[2] / "core" / "training" / "data" / "family_note.txt"


@pytest.fixture
def library(tmp_path):
    library = ModelLibrary.open(app_paths())
    library.import_file(write_tiny_model(tmp_path / "tiny.gguf", architecture="llama",
                                         name="Tiny Llama"), link=True)
    yield library
    library.close()


def make_run(library: ModelLibrary, status: str, steps: int = 0, total: int = 10,
             **metrics):
    base = library.models()[0]
    store = RunStore(library.conn, app_paths())
    run = store.create(job_from_preset("quick", base.path, [str(NOTE)], base_model_id=base.id))
    writer = ev.EventWriter(None, run.run_dir / ev.EVENTS_FILE)
    writer.emit(ev.STARTED, pid=1, run_dir=str(run.run_dir), resume=False, job=run.job)
    writer.emit(ev.PLAN, total_steps=total, steps_per_epoch=1, epochs=total, train_tokens=100)
    writer.emit(ev.EVAL, stage="before", loss=3.0, perplexity=20.1, split="validation", tokens=9)
    for step in range(1, steps + 1):
        writer.emit(ev.STEP, step=step, total_steps=total, epoch=step, loss=3.0 - step / 10,
                    learning_rate=1e-3, tokens_per_second=50.0, eta_seconds=10.0)
    writer.close()
    return store.update(run.id, status=status, pid=None,
                        metrics={"step": steps, "total_steps": total, **metrics})


@pytest.fixture
def view(qtbot, library):
    view = RunsView(library, app_paths())
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    return view


def test_every_run_is_listed_with_its_status_and_progress(qtbot, library, view):
    make_run(library, "finished", 10, validation_perplexity_before=20.09,
             validation_perplexity_after=3.5, evaluation_split="validation")
    make_run(library, "cancelled", 4)
    crashed = make_run(library, "running", 6)
    RunStore(library.conn, app_paths()).update(crashed.id, pid=2**22 + 4321)  # long gone
    make_run(library, "failed", 0)
    view.refresh()
    rows = view.row_texts()
    assert [row[1] for row in rows] == ["failed", "interrupted", "cancelled", "finished"]
    assert rows[1][5] == "6 of 10 steps" and rows[2][5] == "4 of 10 steps"
    assert rows[3][6] == "20.1 \u2192 3.5" and rows[3][3] == "Tiny Llama"
    assert rows[3][4] == "family_note.txt"

    view.select_run(int(rows[3][0]))
    assert not view.resume_button.isEnabled() and view.delete_button.isEnabled()
    assert "20.1" in view.details.text() and "3.5" in view.details.text()
    assert len(view.chart.train_points) == 10 and len(view.chart.validation_points) == 1
    for row in rows[:3]:
        view.select_run(int(row[0]))
        assert view.resume_button.isEnabled(), row
    view.select_run(crashed.id)
    assert "stopped unexpectedly" in view.details.text()
    assert len(view.chart.train_points) == 6


def test_resume_asks_the_page_to_continue_the_run(qtbot, library, view):
    run = make_run(library, "interrupted", 3)
    view.refresh(select_id=run.id)
    with qtbot.waitSignal(view.resume_requested) as asked:
        view.resume_button.click()
    assert asked.args == [run.id]


def test_delete_asks_then_removes_the_run_and_its_folder(qtbot, library, view):
    run = make_run(library, "cancelled", 2)
    view.refresh(select_id=run.id)
    view.delete_button.click()
    box = view._delete_box
    assert box is not None and "Delete training run" in box.text()
    cancel = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.RejectRole)
    cancel.click()
    assert view.row_texts() and run.run_dir.is_dir()
    view.delete_button.click()
    box = view._delete_box
    delete = next(b for b in box.buttons()
                  if box.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole)
    delete.click()
    assert view.row_texts() == [] and not run.run_dir.exists()
    assert view.empty_label.isVisible() and "Deleted run" in view.notice.text


def test_live_events_draw_on_the_chart_of_the_running_run(qtbot, library, view):
    run = make_run(library, "running", 0)
    RunStore(library.conn, app_paths()).update(run.id, pid=None)
    view.live_event(ev.make_event(ev.STARTED, run_dir=str(run.run_dir)))
    view.select_run(run.id)
    view.live_event(ev.make_event(ev.STEP, step=1, total_steps=10, loss=2.0))
    view.live_event(ev.make_event(ev.STEP, step=2, total_steps=10, loss=1.5))
    assert view.chart.train_points == [(1, 2.0), (2, 1.5)]
    # The forgetting figure (an unrelated general text) is not a point of the validation curve.
    view.live_event(ev.make_event(ev.EVAL, stage="before", loss=3.0, split="validation"))
    view.live_event(ev.make_event(ev.EVAL, stage="before", loss=9.0, split="general"))
    assert view.chart.validation_points == [(0, 3.0)]
