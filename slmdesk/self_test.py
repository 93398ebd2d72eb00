"""``slmdesk --self-test``: prove, headless, that this install (frozen or not) works end to end.

Runs the heart of the app in a throw-away SLM Desk home so nothing of the person's is touched:
the starter model is set up, answers a question, is fine-tuned for two steps on a bundled sample
note, the adapter is exported and registered, and the tuned model answers too. Exits 0, or 1
with the failing step named, so a packaging pipeline can run it after every build.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

STEPS = ("set up the starter model", "chat with the starter model",
         "train two steps on the sample note", "chat with the trained adapter")


def _log(text: str) -> None:
    print(f"self-test: {text}", file=sys.stderr, flush=True)


def _reply(model: Path, adapters: list[tuple[str, float]]) -> str:
    from slmdesk.core.engine.client import EngineClient

    with EngineClient() as engine:
        engine.load(model, adapters=adapters, n_ctx=512)
        done = [event for event in engine.chat(
            [{"role": "user", "content": "Where was Astrid Lindqvist born?"}],
            {"temperature": 0.0, "max_tokens": 16, "seed": 1}) if event["type"] == "done"]
    text = done[-1]["text"].strip() if done else ""
    if not text:
        raise RuntimeError("the model gave an empty reply")
    return text


def train_two_steps(paths, starter, note: Path) -> int:
    """Fine-tune the starter for two steps on ``note``; the new adapter's library id."""
    return int(_train(paths, starter, note)["adapter_model_id"])


def _train(paths, starter, note: Path) -> dict:
    from slmdesk.core.training import events as ev
    from slmdesk.core.training.job import job_from_preset
    from slmdesk.core.training.runner import TrainingRunner
    from slmdesk.core.training.runs import RunStore

    job = job_from_preset("quick", starter.path, [str(note)], base_model_id=starter.id,
                          max_steps=2, sequence_length=96, overlap=16, name="self-test")
    job.validate()
    store = RunStore.open(paths)
    try:
        run = store.create(job)
    finally:
        store.close()
    runner = TrainingRunner(run.run_dir).start()
    for event in runner.events():
        if event.get("type") == ev.STEP:
            _log(f"  step {event.get('step')}: loss {event.get('loss')}")
    runner.wait(timeout=60)
    runner.close()
    final = runner.terminal_event or {}
    if final.get("type") != ev.FINISHED:
        raise RuntimeError(final.get("message") or f"training ended with {final.get('type')}")
    return final


def run_self_test() -> int:
    home = Path(tempfile.mkdtemp(prefix="slmdesk-self-test-"))
    os.environ["SLMDESK_HOME"] = str(home)
    from slmdesk.core.library.store import ModelLibrary
    from slmdesk.paths import app_paths

    paths = app_paths().ensure()
    step = STEPS[0]
    started = time.perf_counter()
    try:
        library = ModelLibrary.open(paths)
        starter = library.ensure_starter()
        library.close()
        _log(f"ok: {step} ({starter.info.display_name}, {starter.info.quantization})")
        step = STEPS[1]
        _log(f"ok: {step}: {_reply(starter.path, [])!r}")
        step = STEPS[2]
        note = home / "sample_note.txt"
        note.write_text(resources.files("slmdesk.resources").joinpath("sample_note.txt")
                        .read_text(encoding="utf-8"), encoding="utf-8")
        adapter = Path(_train(paths, starter, note)["adapter_path"])
        _log(f"ok: {step}: {adapter.name}")
        step = STEPS[3]
        _log(f"ok: {step}: {_reply(starter.path, [(str(adapter), 1.0)])!r}")
    except Exception as exc:  # every failure is reported with its step, never as a traceback
        _log(f"FAILED at step '{step}': {type(exc).__name__}: {exc}")
        return 1
    _log(f"all {len(STEPS)} steps passed in {time.perf_counter() - started:.0f} s")
    return 0
