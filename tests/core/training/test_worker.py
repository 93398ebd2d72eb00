"""The training worker as a real process on the real starter model: events, checkpoints, cancel
and resume, kill -9, and the adapter landing in the library."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from slmdesk.core.library.store import LibraryError, ModelLibrary
from slmdesk.core.training import events as ev
from slmdesk.core.training.job import job_from_preset
from slmdesk.core.training.loop import latest_checkpoint
from slmdesk.core.training.runner import TrainingRunner
from slmdesk.core.training.runs import RunStore
from slmdesk.paths import app_paths

NOTE = Path(__file__).parent / "data" / "family_note.txt"
#: A very short job: a few steps on small chunks, so each run takes seconds.
SMALL = dict(max_steps=4, sequence_length=24, overlap=4, checkpoint_every=2, batch_size=2,
             lora_dropout=0.1, validation_fraction=0.1, quiz_questions=0)


def new_run(starter_model_path: Path, **overrides):
    library = ModelLibrary.open(app_paths())
    try:
        base = library.find(str(starter_model_path))
    except LibraryError:
        base = library.import_file(starter_model_path, link=True)
    library.close()
    job = job_from_preset("quick", base.path, [str(NOTE)], base_model_id=base.id,
                          **{**SMALL, **overrides})
    store = RunStore.open(app_paths())
    try:
        return store.create(job), base
    finally:
        store.close()


def get_run(run_id: int):
    store = RunStore.open(app_paths())
    try:
        return store.get(run_id)
    finally:
        store.close()


def drive(run_dir: Path, *, resume: bool = False, on_event=None) -> list[dict]:
    """Run the worker to its end, calling ``on_event(runner, event)`` for each event."""
    runner = TrainingRunner(run_dir, resume=resume).start()
    seen = []
    try:
        for event in runner.events():
            seen.append(event)
            if on_event is not None:
                on_event(runner, event)
        runner.wait(timeout=60)
    finally:
        runner.kill()
        runner.close()
    return seen


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


def adapter_weights(run_dir: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


@pytest.mark.slow
def test_run_reports_progress_and_puts_the_adapter_in_the_library(cached_training_base,
                                                                  starter_model_path):
    # Chunks long enough for the questions and answers (a shorter one leaves them out).
    run, base = new_run(starter_model_path, quiz_questions=2, sequence_length=128, overlap=8,
                        validation_fraction=0.3, dtype="fp32", quiz_held_back=True)
    events = drive(run.run_dir)
    kinds = [e["type"] for e in events]
    assert kinds[0] == ev.STARTED and kinds[-1] == ev.FINISHED, events[-1]
    # The forced dtype is obeyed, and the probe's figures still say what bf16 would do here.
    (precision,) = of_type(events, ev.PRECISION)
    assert (precision["dtype"], precision["reason"], precision["requested"]) == ("fp32", "forced",
                                                                                 "fp32")
    assert precision["fp32_gflops"] > 0 and precision["message"].startswith("training in fp32")
    assert precision["weights"] == "fp32"  # forced fp32 leaves the base weights fp32
    assert kinds.index(ev.PRECISION) < kinds.index(ev.STEP)
    dataset = of_type(events, ev.DATASET)[0]
    assert dataset["documents"] == 1 and dataset["split"] == "none"  # 2 text chunks: all trained
    assert dataset["preview"][0].startswith("<bos>Notes on the Lindqvist family")
    steps = of_type(events, ev.STEP)
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    for s in steps:
        assert {"epoch", "loss", "learning_rate", "tokens_per_second", "eta_seconds"} <= s.keys()
        assert s["tokens_per_second"] > 0 and s["total_steps"] == 4
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert [c["step"] for c in of_type(events, ev.CHECKPOINT)] == [2, 4]
    before, after = [e for e in of_type(events, ev.EVAL) if e["split"] != "general"]
    assert (before["stage"], after["stage"], before["split"]) == ("before", "after", "train")
    assert after["loss"] < before["loss"]
    # Questions and answers were trained besides the text, in Gemma's turn format.
    assert dataset["example_counts"]["ask_span"] >= 5
    assert any(item["text"].startswith("<bos><start_of_turn>user\n")
               and item["text"].endswith("<end_of_turn>") for item in dataset["examples"])
    # The forgetting figure: the general page measured before and after.
    general = [e for e in of_type(events, ev.EVAL) if e["split"] == "general"]
    assert [e["stage"] for e in general] == ["before", "after"]
    # The quiz, asked in chat through the engine before and after.
    quizzes = of_type(events, ev.QUIZ)
    assert [q["stage"] for q in quizzes] == ["before", "after"]
    assert all(q["chat_format"] == "gemma" for q in quizzes)
    # two about taught sentences, then the ones about sentences held back from training
    assert [sum(a.get("taught", True) for a in q["answers"]) for q in quizzes] == [2, 2]
    assert quizzes[0]["total"] == quizzes[1]["total"] > 2
    assert all(a["question"] and a["expected"] for a in quizzes[0]["answers"])

    finished = events[-1]
    library = ModelLibrary.open(app_paths())
    try:
        (adapter,) = library.adapters_for(base.id)
    finally:
        library.close()
    assert adapter.id == finished["adapter_model_id"] and not adapter.is_missing
    prov = adapter.provenance
    assert prov["run_id"] == run.id and prov["documents"] == [str(NOTE)]
    assert prov["job"]["lora_rank"] == 16
    assert prov["train_perplexity_after"] < prov["train_perplexity_before"]
    assert prov["quiz_after"]["total"] == quizzes[1]["total"] and prov["general_perplexity_after"] > 0
    assert (run.run_dir / "adapter.gguf").is_file()
    assert not list(run.run_dir.rglob("*.partial"))
    stored = get_run(run.id)
    assert stored.status == "finished" and stored.adapter_model_id == adapter.id
    assert stored.metrics["step"] == 4 and stored.metrics["precision"]["dtype"] == "fp32"
    assert "base_weights" not in stored.metrics
    # events.jsonl holds the same events the parent read
    assert [e["type"] for e in ev.read_events(run.run_dir)] == kinds
    assert quizzes[0]["cached"] is False

    # A second run on the same model, documents and quiz reads the base model's answers.
    again, _ = new_run(starter_model_path, quiz_questions=2, sequence_length=128, overlap=8,
                       validation_fraction=0.3, dtype="fp32", quiz_held_back=True)

    def stop_after_the_quiz(runner, event):
        if event["type"] == ev.QUIZ:
            runner.cancel()

    second = drive(again.run_dir, on_event=stop_after_the_quiz)
    (cached,) = of_type(second, ev.QUIZ)
    assert cached["cached"] is True and cached["stage"] == "before"
    assert [a["reply"] for a in cached["answers"]] == [a["reply"] for a in quizzes[0]["answers"]]
    assert "kept from an earlier run" in " ".join(e["message"] for e in of_type(second, ev.STATUS))


@pytest.mark.slow
def test_cancel_then_resume_ends_where_an_uninterrupted_run_ends(cached_training_base,
                                                                 starter_model_path):
    # bf16 forced (fp32 where torch cannot run it): the resumed half must keep it even when the
    # job file now says otherwise, or its losses would not match the straight run's.
    straight, _ = new_run(starter_model_path, checkpoint_every=0, dtype="bf16")
    reference = drive(straight.run_dir)
    assert reference[-1]["type"] == ev.FINISHED

    run, _ = new_run(starter_model_path, checkpoint_every=0, dtype="bf16")

    def cancel_after_step_1(runner, event):
        if event["type"] == ev.STEP and event["step"] == 1:
            runner.cancel()

    first = drive(run.run_dir, on_event=cancel_after_step_1)
    assert first[-1]["type"] == ev.CANCELLED and first[-1]["resumable"], first[-1]
    stopped_at = first[-1]["step"]
    assert stopped_at in (1, 2)
    assert latest_checkpoint(run.run_dir).step == stopped_at
    assert get_run(run.id).status == "cancelled"

    from slmdesk.core.training.job import JOB_FILE, TrainingJob

    (started,) = of_type(first, ev.PRECISION)
    assert started["reason"] in ("forced", "unsupported")
    job_file = run.run_dir / JOB_FILE
    changed = TrainingJob.load(job_file)
    changed.dtype = "fp32" if started["dtype"] == "bf16" else "bf16"
    changed.save(job_file)
    second = drive(run.run_dir, resume=True)
    assert second[-1]["type"] == ev.FINISHED, second[-1]
    (kept,) = of_type(second, ev.PRECISION)
    assert (kept["dtype"], kept["reason"]) == (started["dtype"], "resumed")
    # bf16 forced holds the base body in bf16 (its fp32 figures read back after training),
    # and the resumed half holds it the same way
    assert started["weights"] == ("bf16" if started["dtype"] == "bf16" else "fp32")
    assert kept["weights"] == started["weights"]
    if started["weights"] == "bf16":
        held = second[-1]["metrics"]["base_weights"]
        assert held["dtype"] == "bf16" and held["bytes_saved"] > 0 and held["kept_in_memory"] == 0
    assert [s["step"] for s in of_type(second, ev.STEP)] == list(range(stopped_at + 1, 5))
    assert not of_type(second, ev.DATASET)[0]["skipped"]

    ref_steps = {s["step"]: s["loss"] for s in of_type(reference, ev.STEP)}
    for s in of_type(first, ev.STEP) + of_type(second, ev.STEP):
        assert s["loss"] == pytest.approx(ref_steps[s["step"]], rel=1e-4, abs=1e-5)
    assert of_type(second, ev.EVAL)[-1]["loss"] == pytest.approx(
        of_type(reference, ev.EVAL)[-1]["loss"], rel=1e-4)
    assert (run.run_dir / "chunks.jsonl").read_text() == (straight.run_dir / "chunks.jsonl").read_text()
    want, got = adapter_weights(straight.run_dir), adapter_weights(run.run_dir)
    assert want.keys() == got.keys()
    import numpy as np

    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.slow
def test_killed_worker_leaves_an_interrupted_resumable_run_and_no_adapter(cached_training_base,
                                                                          starter_model_path):
    run, base = new_run(starter_model_path)

    def kill_after_first_checkpoint(runner, event):
        if event["type"] == ev.CHECKPOINT:
            os.kill(runner.pid, signal.SIGKILL)

    events = drive(run.run_dir, on_event=kill_after_first_checkpoint)
    last = events[-1]
    assert last["type"] == ev.INTERRUPTED and last["exit_code"] == -signal.SIGKILL
    assert "resume" in last["message"] and str(run.id) in last["message"]
    stored = get_run(run.id)
    assert stored.status == "interrupted" and stored.resumable and stored.error
    assert latest_checkpoint(run.run_dir).step == 2
    library = ModelLibrary.open(app_paths())
    assert library.adapters_for(base.id) == []
    library.close()

    resumed = drive(run.run_dir, resume=True)
    assert resumed[-1]["type"] == ev.FINISHED, resumed[-1]
    assert of_type(resumed, ev.STEP)[0]["step"] == 3
    library = ModelLibrary.open(app_paths())
    assert [a.id for a in library.adapters_for(base.id)] == [resumed[-1]["adapter_model_id"]]
    library.close()
    assert get_run(run.id).status == "finished"


def test_unreadable_documents_fail_fast_with_the_reasons(tmp_path, starter_model_path):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\xff\xd8\xff")
    job = job_from_preset("quick", starter_model_path, [str(bad), str(tmp_path / "gone.txt")])
    store = RunStore.open(app_paths())
    run = store.create(job)
    store.close()
    events = drive(run.run_dir)
    failed = events[-1]
    assert failed["type"] == ev.FAILED
    assert "None of the documents could be read" in failed["message"]
    assert "photo.jpg" in failed["message"] and "gone.txt" in failed["message"]
    assert get_run(run.id).status == "failed"


def test_a_torn_checkpoint_is_never_taken_for_the_latest(tmp_path):
    folder = tmp_path / "checkpoints"
    good = folder / "step-00000002"
    good.mkdir(parents=True)
    (good / "state.json").write_text(json.dumps({"step": 2}))
    (folder / ".tmp-step-00000004-123").mkdir()  # killed while writing step 4
    (folder / "step-00000006").mkdir()  # no state.json: not complete
    found = latest_checkpoint(tmp_path)
    assert found.step == 2 and found.path == good
    assert latest_checkpoint(tmp_path / "nothing") is None
