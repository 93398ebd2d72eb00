"""Training jobs: the JSON file, validation, presets, the step plan and the estimates."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest

from slmdesk.core.gguf.info import read_model_info
from slmdesk.core.training.job import (
    PRESETS,
    JobError,
    TrainingJob,
    approximate_chunk_lengths,
    chunk_order,
    estimate_training,
    example_chunk_lengths,
    job_from_preset,
    lora_parameter_count,
    plan_training,
    step_chunks,
)


def make_job(tmp_path, **overrides) -> TrainingJob:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    doc = tmp_path / "note.txt"
    doc.write_text("hello")
    return TrainingJob(base_model_path=str(model), documents=[str(doc)], **overrides)


def test_every_setting_is_documented():
    for f in fields(TrainingJob):
        assert f.metadata.get("help"), f.name


def test_save_and_load_round_trip(tmp_path):
    job = make_job(tmp_path, lora_rank=8, target_modules=["q_proj", "v_proj"], max_steps=5)
    path = job.save(tmp_path / "job.json")
    assert TrainingJob.load(path) == job
    assert json.loads(path.read_text())["lora_rank"] == 8
    assert not list(tmp_path.glob("*.tmp"))


def test_unreadable_or_unknown_job_files_are_refused_clearly(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(JobError, match="cannot be read"):
        TrainingJob.load(tmp_path / "bad.json")
    with pytest.raises(JobError, match="does not exist"):
        TrainingJob.load(tmp_path / "missing.json")
    (tmp_path / "odd.json").write_text(json.dumps({"base_model_path": "m", "lora_rnak": 4}))
    with pytest.raises(JobError) as err:
        TrainingJob.load(tmp_path / "odd.json")
    assert err.value.problems == ["Unknown setting \u201clora_rnak\u201d."]
    with pytest.raises(JobError, match="base_model_path"):
        TrainingJob.from_dict({"documents": ["x"]})


def test_validation_lists_every_problem(tmp_path):
    job = make_job(tmp_path, lora_rank=0, learning_rate=-1.0, epochs=2.5, sequence_length=64,
                   overlap=40, lr_schedule="wavy", target_modules=[], batch_size="4")
    problems = job.problems()
    assert len(problems) == 7, problems
    text = "\n".join(problems)
    for words in ("lora_rank must be at least 1", "learning_rate must be more than 0",
                  "epochs must be a whole number", "overlap (40) must be less than half",
                  "lr_schedule must be one of", "target_modules", "batch_size must be a whole"):
        assert words in text
    with pytest.raises(JobError) as err:
        job.validate()
    assert err.value.problems == problems
    assert make_job(tmp_path).problems() == []


def test_missing_base_model_and_no_documents(tmp_path):
    job = TrainingJob(base_model_path=str(tmp_path / "gone.gguf"), documents=[])
    problems = job.problems()
    assert any("does not exist" in p for p in problems)
    assert any("No documents" in p for p in problems)
    assert job.problems(check_files=False) == ["No documents: give at least one file or folder "
                                               "to learn from."]


def test_presets(tmp_path):
    quick = job_from_preset("Quick", "m.gguf", [tmp_path / "a.txt"])
    assert quick.preset == "quick"
    assert (quick.lora_rank, quick.learning_rate, quick.target_modules) == (16, 1e-3, "all-linear")
    balanced = job_from_preset("balanced", "m.gguf", ["a"])
    assert balanced.epochs > quick.epochs  # the default works longer than Quick
    for job in (quick, balanced):  # both teach answers, keep general writing and run the quiz
        assert job.knowledge_augmentation and job.candidate_vocabulary
        assert job.anchor_weight > 0 and job.quiz_questions == 12
    assert quick.documents == [str(tmp_path / "a.txt")]
    assert job_from_preset("quick", "m.gguf", ["a"], epochs=3).epochs == 3
    for name in PRESETS:
        assert job_from_preset(name, "m.gguf", ["a"]).problems(check_files=False) == []
    with pytest.raises(JobError, match="Unknown preset"):
        job_from_preset("instant", "m.gguf", ["a"])


def test_plan_counts_steps_from_epochs_max_steps_and_token_budget():
    job = TrainingJob(base_model_path="m", documents=["a"], epochs=3, batch_size=2,
                      gradient_accumulation=2)
    plan = plan_training(job, [100] * 10)  # 10 chunks, 4 per step -> 3 steps an epoch
    assert (plan.steps_per_epoch, plan.total_steps, plan.epochs) == (3, 9, 3.0)
    assert plan.train_tokens == 3000
    job.max_steps = 4
    assert plan_training(job, [100] * 10).total_steps == 4
    job.max_steps, job.max_train_tokens = None, 1000
    assert plan_training(job, [100] * 10).total_steps == 3  # 1000 tokens / ~333 per step
    assert plan_training(job, []).total_steps == 0
    # A short text gets more passes, up to the floor on tokens (a few sentences need steps too).
    job.max_train_tokens, job.min_train_tokens = None, 3000
    assert plan_training(job, [50] * 4).total_steps == 15  # 200 tokens a step, 3 epochs -> 3
    assert plan_training(job, [100] * 10).total_steps == 9  # already above the floor
    job.max_steps = 2
    assert plan_training(job, [50] * 4).total_steps == 2  # max_steps has the last word


def test_data_order_is_a_fixed_function_of_seed_and_epoch():
    job = TrainingJob(base_model_path="m", documents=["a"], epochs=2, batch_size=3, seed=7)
    plan = plan_training(job, [10] * 7)
    epoch0 = [i for step in range(plan.steps_per_epoch) for i in step_chunks(plan, job, step)]
    epoch1 = [i for step in range(plan.steps_per_epoch, 2 * plan.steps_per_epoch)
              for i in step_chunks(plan, job, step)]
    assert sorted(epoch0) == sorted(epoch1) == list(range(7))
    assert epoch0 != epoch1  # reshuffled each epoch
    assert chunk_order(7, 7, 1) == epoch1 == chunk_order(7, 7, 1)


def test_estimates_for_the_default_preset_on_a_one_page_note(starter_model_path):
    """The default preset on a one-page note with its ~50 questions and answers: measured at
    about 5 to 6 minutes in all on 2 cores (bench/knowledge_bench.py); the token budget, not
    the passes, bounds it."""
    info = read_model_info(starter_model_path)
    job = job_from_preset("balanced", starter_model_path, ["note.txt"])
    lengths = approximate_chunk_lengths(job, characters=1000)
    assert len(lengths) == 1 and 200 < lengths[0] <= 256
    examples = example_chunk_lengths(job, [220] * 50)
    assert len(examples) == 50 and all(60 < n < 80 for n in examples)
    estimate = estimate_training(job, info, train_chunk_lengths=lengths + examples, cached=True)
    assert 80 < estimate.plan.total_steps < job.epochs * 13  # 51 chunks, 4 a step; the cap
    assert estimate.plan.train_tokens <= job.max_train_tokens + 4 * 256
    assert 240 < estimate.total_seconds <= 360
    # The candidate vocabulary makes a training token cheaper (2.4 times on full chunks, less
    # on short padded ones).
    full = estimate_training(replace(job, candidate_vocabulary=False), info,
                             train_chunk_lengths=lengths + examples, cached=True)
    assert 1.3 < estimate.tokens_per_second / full.tokens_per_second < 2.0
    assert 1.5e9 < estimate.peak_memory_bytes < 4e9
    first = estimate_training(job, info, train_chunk_lengths=lengths, cached=False)
    assert first.total_seconds > estimate_training(job, info, train_chunk_lengths=lengths,
                                                   cached=True).total_seconds
    assert first.peak_memory_bytes >= estimate.peak_memory_bytes
    assert lora_parameter_count(info, job) == 3_796_992  # what PEFT reports for r=16 all-linear
    assert f"{estimate.plan.total_steps} steps" in estimate.summary()
    assert example_chunk_lengths(replace(job, knowledge_augmentation=False), [220]) == []
