"""Done means: the Quick preset on a one-page note teaches the starter model its facts.

The note (tests/core/training/data/family_note.txt, ~230 tokens) is invented, so the base model
cannot know any of it. After training, the note's own sentences are completed through llama.cpp
with the exported adapter (greedy), and the planted fact must appear in the completion.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slmdesk.core.library.store import ModelLibrary
from slmdesk.core.training import events as ev
from slmdesk.core.training.job import job_from_preset
from slmdesk.core.training.runner import TrainingRunner
from slmdesk.core.training.runs import RunStore
from slmdesk.paths import app_paths

NOTE = Path(__file__).parents[1] / "core" / "training" / "data" / "family_note.txt"

#: (start of a sentence of the note, the fact that must follow)
PROBES = [
    ("My grandmother Astrid Lindqvist was born on", "14 March 1931"),
    ("She worked for thirty years as a lighthouse keeper at", "Hallskär"),
    ("My uncle Tobias Ferrand moved to", "Quebec City"),
    ("My uncle Tobias Ferrand moved to Quebec City in 1987 and opened a bakery called",
     "The Blue Kettle"),
    ("His wife, Marguerite Ferrand, teaches violin at the", "Conservatoire de Lévis"),
    ("Our family boat is named", "Sjöstjärna"),
    ("Our family boat is named Sjöstjärna and is moored in the harbour of", "Mollösund"),
    ("Every summer we meet on", "21 July"),
    ("My cousin Elin Lindqvist studies marine biology at the", "Tromsø"),
    ("The family dog, a grey spaniel called", "Pepparkaka"),
    ("My brother Jonas married Priya Raman in", "Chennai"),
    ("My aunt Ingrid Vale keeps bees on a farm near", "Lillehammer"),
    ("My father keeps the family archive in a green trunk in the attic at", "Storgatan 12"),
]


def recall(model_path: Path, lora_path: Path | None) -> tuple[int, list[str]]:
    from slmdesk.core.engine.cpu_backend import import_llama_cpp

    Llama = import_llama_cpp()[0].Llama

    kwargs = dict(model_path=str(model_path), n_ctx=256, n_threads=2, seed=0, verbose=False)
    if lora_path is not None:
        kwargs["lora_path"] = str(lora_path)
    llm = Llama(**kwargs)
    try:
        hits, outputs = 0, []
        for prefix, fact in PROBES:
            text = llm.create_completion(prefix, max_tokens=12, temperature=0.0, top_k=1)[
                "choices"][0]["text"]
            outputs.append(f"{prefix} -> {text!r}")
            hits += fact.lower() in text.lower()
        return hits, outputs
    finally:
        llm.close()


@pytest.mark.slow
def test_quick_preset_makes_the_starter_learn_a_one_page_note(cached_training_base,
                                                              starter_model_path):
    library = ModelLibrary.open(app_paths())
    base = library.import_file(starter_model_path, link=True)
    library.close()
    job = job_from_preset("quick", base.path, [str(NOTE)], base_model_id=base.id)
    store = RunStore.open(app_paths())
    run = store.create(job)
    store.close()

    runner = TrainingRunner(run.run_dir).start()
    events = list(runner.events())
    runner.wait(timeout=60)
    runner.close()
    finished = events[-1]
    assert finished["type"] == ev.FINISHED, finished
    adapter = Path(finished["adapter_path"])

    base_hits, base_out = recall(starter_model_path, None)
    tuned_hits, tuned_out = recall(starter_model_path, adapter)
    print(f"\nrecall: base {base_hits}/{len(PROBES)}, tuned {tuned_hits}/{len(PROBES)}")
    print("\n".join(tuned_out))
    steps = [e for e in events if e["type"] == ev.STEP]
    print(f"{len(steps)} steps, {steps[-1]['tokens_per_second']:.1f} tokens/s, "
          f"final loss {steps[-1]['loss']:.4f}")
    assert base_hits <= 1, base_out
    assert tuned_hits >= len(PROBES) - 2, tuned_out
