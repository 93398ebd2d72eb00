"""Done means (#8): after tuning on a short note, the model answers in chat, through the engine,
a question about the note that it could not answer before; the run's own quiz says the same.

The question is written by hand (not by the augmentation rules) and the note is invented, so
the base model cannot know the answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slmdesk.core.library.store import ModelLibrary
from slmdesk.core.training import events as ev
from slmdesk.core.training.job import job_from_preset
from slmdesk.core.training.quiz_run import ask_in_chat, quiz_engine
from slmdesk.core.training.runner import TrainingRunner
from slmdesk.core.training.runs import RunStore
from slmdesk.paths import app_paths

NOTE = ("Notes on the garden club.\n"
        "Our garden club meets in the greenhouse of Mrs Odile Brandt.\n"
        "The club was founded by Henrik Salo in 1994.\n"
        "Every spring we sell seedlings at the market in Ravensworth.\n")
QUESTION, ANSWER = "Who founded the garden club?", "henrik salo"


def ask(model: Path, adapter: Path | None) -> str:
    with quiz_engine(model, adapter) as (engine, _):
        return ask_in_chat(engine, QUESTION)


@pytest.mark.slow
def test_tuned_model_answers_a_question_about_the_note_in_chat(cached_training_base,
                                                               starter_model_path, tmp_path):
    note = tmp_path / "garden_club.txt"
    note.write_text(NOTE, encoding="utf-8")
    library = ModelLibrary.open(app_paths())
    base = library.import_file(starter_model_path, link=True)
    library.close()
    job = job_from_preset("quick", base.path, [str(note)], base_model_id=base.id, quiz_questions=4)
    store = RunStore.open(app_paths())
    run = store.create(job)
    store.close()
    runner = TrainingRunner(run.run_dir).start()
    events = list(runner.events())
    runner.wait(timeout=60)
    runner.close()
    assert events[-1]["type"] == ev.FINISHED, events[-1]
    dataset = next(e for e in events if e["type"] == ev.DATASET)
    assert dataset["example_counts"].get("ask_span", 0) >= 3  # questions were made and trained
    metrics = events[-1]["metrics"]

    before = ask(starter_model_path, None)
    after = ask(starter_model_path, Path(events[-1]["adapter_path"]))
    print(f"\nbefore: {before!r}\nafter: {after!r}\nquiz: {metrics.get('quiz_before', {}).get('correct')}"
          f" -> {metrics.get('quiz_after', {}).get('correct')} of {metrics.get('quiz_after', {}).get('total')}")
    assert ANSWER not in before.lower()
    assert ANSWER in after.lower()
    assert metrics["quiz_after"]["correct"] > metrics["quiz_before"]["correct"]
    assert metrics["general_perplexity_after"] < 2 * metrics["general_perplexity_before"]
