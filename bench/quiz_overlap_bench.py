"""Does asking the quiz before training while the training loads shorten the run?

The real worker on the Balanced preset, the training starter (SmolLM2 135M Instruct) and the
first bench note, with ``quiz_overlap`` off and on, alternated (off, on, on, off, ...) so that
background load hits both alike; the quiz cache is emptied before each run so that every run
asks. Each run is cancelled at its first training step: what the overlap can change all happens
before it. Reported per mode: seconds from the worker's start to its first step, to the
precision probe, the quiz's own seconds, and whether every run gave the same answers.

Then, for the other way to overlap (the quiz beside the first training steps, the cores split
between them), how each side scales with threads: the quiz alone on 1 and on all cores (the
engine, greedy, the same questions). Splitting 2 cores pays only where a side gains less than
2x from its second core.

Usage: python bench/quiz_overlap_bench.py [--rounds 2] [--out bench/results/quiz_overlap_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
NOTE = ROOT / "bench" / "knowledge_notes" / "note_1.txt"
HOME = Path(os.environ.get("SLMDESK_BENCH_HOME")
            or Path(tempfile.gettempdir()) / "slmdesk-bench" / "overlap-home")


def run_to_first_step(model: Path, base_id: int, mode: str) -> dict:
    from slmdesk.core.training import events as ev
    from slmdesk.core.training.job import job_from_preset
    from slmdesk.core.training.quiz_cache import CACHE_FOLDER
    from slmdesk.core.training.runner import TrainingRunner
    from slmdesk.core.training.runs import RunStore
    from slmdesk.paths import app_paths

    shutil.rmtree(app_paths().cache_dir / CACHE_FOLDER, ignore_errors=True)
    job = job_from_preset("balanced", model, [str(NOTE)], base_model_id=base_id,
                          quiz_overlap=mode, dtype="fp32")
    store = RunStore.open(app_paths())
    run = store.create(job)
    store.close()
    runner = TrainingRunner(run.run_dir).start()
    events = []
    try:
        for event in runner.events():
            events.append(event)
            if event["type"] == ev.STEP:
                runner.cancel()
        runner.wait(timeout=120)
    finally:
        runner.kill()
        runner.close()
    start = events[0]["time"]
    first = lambda kind: next(e for e in events if e["type"] == kind)  # noqa: E731
    quiz = first(ev.QUIZ)
    return {"mode": mode, "to_first_step": round(first(ev.STEP)["time"] - start, 2),
            "to_probe": round(first(ev.PRECISION)["time"] - start, 2),
            "quiz_seconds": quiz["seconds"], "overlapped": quiz.get("overlapped"),
            "answers": [a["reply"] for a in quiz["answers"]], "ended": events[-1]["type"]}


def quiz_alone(model: Path, threads: int) -> float:
    from slmdesk.core.knowledge import make_quiz
    from slmdesk.core.training.quiz_run import ask_quiz

    items = make_quiz([NOTE.read_text(encoding="utf-8")], 12, seed=0)
    return round(ask_quiz(model, items, "before", threads=threads).seconds, 2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "quiz_overlap_bench.json")
    args = parser.parse_args()
    HOME.mkdir(parents=True, exist_ok=True)
    os.environ["SLMDESK_HOME"] = str(HOME)
    # The quiz's engine as the worker starts it: it inherits the worker's sleeping OpenMP waits
    # (llama.cpp's CPU backend runs on OpenMP; spinning waits make it 5x slower on a busy machine).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from knowledge_bench import starter_path

    from slmdesk.core.library.store import DuplicateModelError, ModelLibrary
    from slmdesk.core.training.job import physical_cores
    from slmdesk.paths import app_paths

    model = starter_path("smollm2")
    library = ModelLibrary.open(app_paths())
    try:
        base = library.import_file(model, link=True)
    except DuplicateModelError as exc:
        base = exc.existing
    library.close()
    print("warm-up run (converts the model the first time)", file=sys.stderr, flush=True)
    run_to_first_step(model, base.id, "off")
    runs: list[dict] = []
    for round_ in range(args.rounds):
        for mode in (("off", "on") if round_ % 2 == 0 else ("on", "off")):
            runs.append(run_to_first_step(model, base.id, mode))
            print(f"  {mode:<3} first step at {runs[-1]['to_first_step']:6.1f} s, quiz "
                  f"{runs[-1]['quiz_seconds']:5.1f} s", file=sys.stderr, flush=True)
    cores = physical_cores()
    scaling = {}
    for threads in sorted({1, cores}):
        scaling[f"quiz_seconds_{threads}_threads"] = quiz_alone(model, threads)
    summary = {mode: {key: statistics.median(r[key] for r in runs if r["mode"] == mode)
                      for key in ("to_first_step", "to_probe", "quiz_seconds")}
               for mode in ("off", "on")}
    report = {
        "what": "The quiz before training asked while the training loads (quiz_overlap on) or "
                "before it (off): the real worker, Balanced, SmolLM2 135M Instruct, bench note 1, "
                "fp32, cancelled at the first step; alternated rounds, medians",
        "machine": {"cpu_count": os.cpu_count(), "physical_cores": cores,
                    "platform": platform.platform(), "load_average": os.getloadavg()},
        "summary": summary,
        "saved_seconds": round(summary["off"]["to_first_step"] - summary["on"]["to_first_step"], 2),
        "same_answers": len({json.dumps(r["answers"]) for r in runs}) == 1,
        "quiz_thread_scaling": scaling,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("summary", "saved_seconds", "same_answers",
                                             "quiz_thread_scaling")}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
