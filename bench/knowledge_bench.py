"""Knowledge benchmark: does a tuned model answer questions about the notes it was tuned on?

For each of three invented one-page notes (bench/knowledge_notes/) and each recipe, a real
training run (the worker, as the app runs it) on the quantized starter model, then, through
llama.cpp with the exported adapter:

* chat answers to 10 hand-written natural questions per note (questions.json: written by hand,
  not by the augmentation rules), asked as the chat panel asks them (the engine, greedy);
* sentence completion: 10 starts of the note's own sentences, greedy, the fact must follow;
* forgetting: perplexity on a general page unrelated to the notes (the worker measures it before
  and after on the whole vocabulary), and its ratio to the base model's;
* the app's own quiz (made by rule, in forms the training does not use), before and after;
* the training time (worker start to finish, including the quizzes) and its estimate.

Recipes: ``raw`` (the note's text only, as before knowledge augmentation), ``augmented`` (the
default: questions and answers in the chat format plus the anchor term), for each preset asked.

General chat after tuning: ten plain questions unrelated to the notes
(``bench/general_questions.json``), asked of the base model and of each tuned one, the same way.

Material: the three bench notes (default; the knowledge rules were tuned on them), or with
``--material dev`` the dev half of bench/natural/ (documents and questions written by others),
or ``--material heldout`` its sealed half: unpacked into a temporary folder, and only scores are
written and printed, never a document, question or reply (bench/natural/README.md).

Usage: python bench/knowledge_bench.py [--runs balanced/raw,quick/augmented,balanced/augmented]
                                       [--material notes|dev|heldout|DIR]
                                       [--notes note_1.txt,...] [--model gemma|smollm2]
                                       [--set model_questions=3 ...]
                                       [--dtype auto|fp32|bf16|fp32,bf16] [--fresh-quiz]
                                       [--out bench/results/knowledge_bench.json]

``--dtype fp32,bf16`` trains each note and recipe in both, one after the other (the end-to-end
ratio in one run on a shared machine); ``--fresh-quiz`` empties the kept answers of the base
model's quiz before every run, so each asks it as a first run does. The starter is converted for
training before the first run, so no run's setup holds the one-off conversion.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOTES = ROOT / "bench" / "knowledge_notes"
GENERAL = ROOT / "bench" / "general_questions.json"
NATURAL = ROOT / "bench" / "natural"
#: The bench's own SLM Desk home; SLMDESK_BENCH_HOME gives another, so that two benches at once
#: (e.g. on two branches) share no run database.
HOME = Path(os.environ.get("SLMDESK_BENCH_HOME")
            or Path(tempfile.gettempdir()) / "slmdesk-bench" / "knowledge-home")
#: Reply length for the natural questions: room for an answer of two or three sentences (the
#: quiz's 48 tokens cut some before their fact; the chat panel allows 512).
NATURAL_REPLY_TOKENS = 128


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def accepted(reply: str, accept: list[str]) -> bool:
    said = f" {normalise(reply)} "
    return any(f" {normalise(option)} " in said for option in accept)


def first_sentence(reply: str) -> str:
    """The reply's first sentence: strict marking counts an answer only there, so that a reply
    naming a wrong fact first and the right one later ("Samuel. ... cooked by Felix Marr") is
    wrong."""
    from slmdesk.core.knowledge.sentences import split_sentences

    sentences = split_sentences(reply.strip())
    return sentences[0] if sentences else reply


def starter_path(name: str = "gemma") -> Path:
    """The starter's file, written once under the bench's temporary folder as the app writes it."""
    from slmdesk.core.library.starters import GEMMA, SMOLLM2

    starter = {"gemma": GEMMA, "smollm2": SMOLLM2}[name]
    target = Path(tempfile.gettempdir()) / "slmdesk-bench" / starter.file_name
    if not target.is_file() or target.stat().st_size != starter.size():
        target.parent.mkdir(parents=True, exist_ok=True)
        starter.write(target)
    return target


def material_folder(name: str, scratch: Path) -> tuple[Path, bool]:
    """The folder holding the documents and their questions.json, and whether it is sealed."""
    if name == "notes":
        return NOTES, False
    if name == "dev":
        return NATURAL / "dev", False
    if name == "heldout":
        import tarfile

        with tarfile.open(NATURAL / "heldout.tar.gz") as sealed:
            sealed.extractall(scratch, filter="data")
        return scratch, True
    return Path(name), False


def sealed_copy(items: list[dict]) -> list[dict]:
    """Marks without texts, for the sealed half."""
    return [{"correct": item["correct"], "strict": item.get("strict", False)} for item in items]


def job_setting(text: str) -> tuple[str, object]:
    """``name=value`` from the command line, the value read as JSON where it parses."""
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def ask_questions(model: Path, adapter: Path | None, questions: list[dict]) -> list[dict]:
    """The hand-written questions, asked exactly as the app's quiz asks its own."""
    from slmdesk.core.training.quiz_run import ask_in_chat, quiz_engine

    out = []
    with quiz_engine(model, adapter) as (engine, _):
        for item in questions:
            reply = ask_in_chat(engine, item["question"], max_tokens=NATURAL_REPLY_TOKENS)
            out.append({"question": item["question"], "reply": reply,
                        "correct": accepted(reply, item["accept"]),
                        "strict": accepted(first_sentence(reply), item["accept"])})
    return out


#: Context of the chat with the document attached, as the chat panel opens a model (a one-page
#: document fits it whole, as Chat would give it).
DOCUMENTS_CONTEXT = 2048


def ask_with_document(model: Path, adapter: Path | None, note: Path,
                      questions: list[dict]) -> list[dict]:
    """The hand-written questions, asked as Chat asks them with the document attached: the
    document in the prompt whole when it fits the context (as a one-page one does), else its
    best passages, numbered, in the model's own template (core/documents/grounding.py)."""
    from slmdesk.core import db
    from slmdesk.core.documents.embedding import open_embedder
    from slmdesk.core.documents.grounding import ground_conversation
    from slmdesk.core.documents.index import CollectionError, DocumentIndex
    from slmdesk.core.engine.client import EngineClient
    from slmdesk.core.training.quiz_run import QUIZ_SAMPLING
    from slmdesk.paths import app_paths

    conn = db.connect(app_paths().database)
    index = DocumentIndex(conn)
    name = f"bench {note.name}"
    try:
        index.delete(name)
    except CollectionError:
        pass
    collection = index.create(name, [note])
    embedder = open_embedder(app_paths())
    out = []
    try:
        index.update(name, embedder=embedder)
        with EngineClient() as engine:
            engine.load(model, adapters=[(str(adapter), 1.0)] if adapter else [],
                        n_ctx=DOCUMENTS_CONTEXT)
            for item in questions:
                messages, grounding = ground_conversation(
                    conn, [collection.id], [{"role": "user", "content": item["question"]}],
                    context_length=DOCUMENTS_CONTEXT, reply_tokens=NATURAL_REPLY_TOKENS,
                    embedder=embedder)
                reply = "".join(event.get("text", "") for event in engine.chat(
                    messages, {**QUIZ_SAMPLING, "max_tokens": NATURAL_REPLY_TOKENS})
                    if event["type"] == "token").strip()
                out.append({"question": item["question"], "reply": reply, "mode": grounding.mode,
                            "correct": accepted(reply, item["accept"]),
                            "strict": accepted(first_sentence(reply), item["accept"])})
    finally:
        if embedder is not None:
            embedder.close()
        index.delete(name)
        conn.close()
    return out


def complete(model: Path, adapter: Path | None, completions: list[dict]) -> list[dict]:
    if not completions:
        return []
    from slmdesk.core.engine.cpu_backend import import_llama_cpp

    Llama = import_llama_cpp()[0].Llama

    kwargs = dict(model_path=str(model), n_ctx=512, n_threads=2, seed=0, verbose=False)
    if adapter is not None:
        kwargs["lora_path"] = str(adapter)
    llm = Llama(**kwargs)
    try:
        out = []
        for item in completions:
            text = llm.create_completion(item["prefix"], max_tokens=16, temperature=0.0,
                                         top_k=1)["choices"][0]["text"]
            out.append({"prefix": item["prefix"], "completion": text,
                        "correct": accepted(text, item["accept"])})
        return out
    finally:
        llm.close()


def train(model: Path, base_id: int, note: Path, preset: str, recipe: str,
          settings: dict[str, object] | None = None, dtype: str = "auto") -> dict:
    from slmdesk.core.gguf.info import read_model_info
    from slmdesk.core.training import events as ev
    from slmdesk.core.training.job import estimate_training, job_from_preset
    from slmdesk.core.training.runner import TrainingRunner
    from slmdesk.core.training.runs import RunStore
    from slmdesk.paths import app_paths

    overrides: dict[str, object] = {"base_model_id": base_id, "dtype": dtype, **(settings or {})}
    if recipe == "raw":
        overrides.update(knowledge_augmentation=False, anchor_weight=0.0)
    job = job_from_preset(preset, model, [str(note)], **overrides)
    store = RunStore.open(app_paths())
    run = store.create(job)
    store.close()
    started = time.perf_counter()
    runner = TrainingRunner(run.run_dir).start()
    events = list(runner.events())
    runner.wait(timeout=120)
    runner.close()
    seconds = time.perf_counter() - started
    last = events[-1]
    if last["type"] != ev.FINISHED:
        raise RuntimeError(f"training failed: {last}")
    steps = [e for e in events if e["type"] == ev.STEP]
    dataset = next(e for e in events if e["type"] == ev.DATASET)
    plan = next(e for e in events if e["type"] == ev.PLAN)
    metrics = last["metrics"]
    precision = next((e for e in events if e["type"] == ev.PRECISION), {})
    info = read_model_info(model)
    lengths = [dataset["train_tokens"] // max(dataset["train_chunks"], 1)] * dataset["train_chunks"]
    estimate = estimate_training(job, info, train_chunk_lengths=lengths, cached=True)
    return {"adapter": last["adapter_path"], "seconds": round(seconds, 1),
            "estimate_seconds": round(estimate.total_seconds, 1),
            "dtype": precision.get("dtype"), "precision": precision.get("message"),
            "base_weights": precision.get("weights", "fp32"),
            "probe": {k: precision.get(k) for k in ("speedup", "speedup_bf16_weights",
                                                     "layer_speedup",
                                                     "layer_speedup_bf16_weights",
                                                     "fp32_gflops", "bf16_gflops",
                                                     "probe_seconds")},
            "peak_memory_bytes": metrics.get("peak_memory_bytes"),
            "training_memory": metrics.get("base_weights"),
            "seconds_per_step": round(time_split(events).get("steps", 0.0) / max(len(steps), 1), 2),
            "split_seconds": time_split(events),
            "steps": len(steps), "epochs": plan["epochs"], "train_tokens": plan["train_tokens"],
            "tokens_per_second": round(steps[-1]["tokens_per_second"], 1) if steps else None,
            "final_loss": steps[-1]["loss"] if steps else None,
            "examples": dataset.get("example_counts", {}),
            "general_perplexity_before": metrics.get("general_perplexity_before"),
            "general_perplexity_after": metrics.get("general_perplexity_after"),
            "quiz_before": _quiz_score(metrics.get("quiz_before")),
            "quiz_after": _quiz_score(metrics.get("quiz_after")),
            "quiz_held_back_before": _quiz_score(metrics.get("quiz_before"), taught=False),
            "quiz_held_back_after": _quiz_score(metrics.get("quiz_after"), taught=False),
            "quiz_after_answers": (metrics.get("quiz_after") or {}).get("answers", [])}


def time_split(events: list[dict]) -> dict:
    """The run's seconds in setup (reading, loading, the base pass, evaluations before), the
    quizzes, the training steps, and finishing (evaluations after, saving, exporting)."""
    from slmdesk.core.training import events as ev

    steps = [e for e in events if e["type"] == ev.STEP]
    quizzes = sum(e.get("seconds", 0.0) for e in events if e["type"] == ev.QUIZ
                  and not e.get("cached"))
    start, end = events[0]["time"], events[-1]["time"]
    if not steps:
        return {"quizzes": round(quizzes, 1), "total": round(end - start, 1)}
    before_first = max(e["time"] for e in events if e["time"] < steps[0]["time"]
                       and e["type"] != ev.STEP)
    quiz_before = sum(e.get("seconds", 0.0) for e in events if e["type"] == ev.QUIZ
                      and e.get("stage") == "before" and not e.get("cached"))
    quiz_after = quizzes - quiz_before
    # a quiz asked beside the loading (quiz_overlap) took no time of its own: in the setup
    alone = 0.0 if any(e.get("overlapped") for e in events if e["type"] == ev.QUIZ) else quiz_before
    return {"setup": round(before_first - start - alone, 1),
            "quizzes": round(alone + quiz_after, 1),
            "steps": round(steps[-1]["time"] - before_first, 1),
            "finishing": round(end - steps[-1]["time"] - quiz_after, 1),
            "total": round(end - start, 1)}


def _quiz_score(quiz: dict | None, taught: bool = True) -> str | None:
    """'9/12' for the questions about taught sentences (or, ``taught`` false, about the ones
    held back from training: None when none were)."""
    answers = [a for a in (quiz or {}).get("answers", []) if a.get("taught", True) == taught]
    if not answers:
        return None
    return f"{sum(a['correct'] for a in answers)}/{len(answers)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="balanced/raw,quick/augmented,balanced/augmented",
                        help="preset/recipe pairs, recipe raw or augmented")
    parser.add_argument("--material", default="notes",
                        help="notes (the three bench notes), dev, heldout, or a folder")
    parser.add_argument("--notes", default="", help="which documents (default: all of them)")
    parser.add_argument("--model", choices=("gemma", "smollm2"), default="gemma",
                        help="which starter is tuned")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a job setting for every run (e.g. model_questions=3)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "knowledge_bench.json")
    parser.add_argument("--with-document", action="store_true",
                        help="also ask the natural questions with the document attached, as Chat does")
    parser.add_argument("--dtype", default="auto",
                        help="force the training dtype (the quality guard of bf16): auto, fp32, "
                             "bf16, or several, comma-separated, trained one after the other")
    parser.add_argument("--fresh-quiz", action="store_true",
                        help="forget the base model's kept quiz answers before every run")
    parser.add_argument("--no-base", action="store_true",
                        help="skip asking the base model (its marks are in earlier results)")
    args = parser.parse_args()
    settings = dict(job_setting(text) for text in args.set)
    dtypes = args.dtype.split(",")
    if not set(dtypes) <= {"auto", "fp32", "bf16"}:
        parser.error("--dtype takes auto, fp32 and bf16")

    HOME.mkdir(parents=True, exist_ok=True)
    os.environ["SLMDESK_HOME"] = str(HOME)
    from slmdesk.core.library.store import DuplicateModelError, ModelLibrary
    from slmdesk.paths import app_paths

    scratch = Path(tempfile.mkdtemp(prefix="slmdesk-material-"))
    folder, sealed = material_folder(args.material, scratch)
    questions = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    general = json.loads(GENERAL.read_text(encoding="utf-8"))
    model = starter_path(args.model)
    library = ModelLibrary.open(app_paths())
    try:
        base = library.import_file(model, link=True)
    except DuplicateModelError as exc:
        base = exc.existing
    library.close()
    from slmdesk.core.training.base_model import is_cached, load_base_model

    if not is_cached(model):  # the one-off conversion, outside every timed run
        print("converting the starter for training (once)", flush=True)
        load_base_model(model)

    results: dict = {"what": __doc__.split("\n")[0], "model": model.name, "settings": settings,
                     "dtype": args.dtype,
                     "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
                     "material": args.material, "notes": {}}
    results["general_base"] = ask_questions(model, None, general)
    print(f"general questions, base model: {_score(results['general_base'])}", flush=True)
    for note_name in args.notes.split(",") if args.notes else list(questions):
        note = folder / note_name
        wanted = questions[note_name]
        entry = results["notes"][note_name] = {"recipes": {}}
        if not args.no_base:
            entry["base"] = {"chat": ask_questions(model, None, wanted["questions"]),
                             "completion": complete(model, None, wanted.get("completions", []))}
            if args.with_document:
                entry["base"]["chat_with_document"] = ask_with_document(model, None, note,
                                                                        wanted["questions"])
            if sealed:
                entry["base"] = {key: sealed_copy(value) for key, value in entry["base"].items()}
            _print_row(note_name, "base", "-", entry["base"], None)
        for pair, dtype in [(p, d) for p in args.runs.split(",") if p for d in dtypes]:
            preset, recipe = pair.split("/")
            if args.fresh_quiz:
                import shutil

                from slmdesk.core.training.quiz_cache import CACHE_FOLDER

                shutil.rmtree(app_paths().cache_dir / CACHE_FOLDER, ignore_errors=True)
            trained = train(model, base.id, note, preset, recipe, settings, dtype)
            adapter = Path(trained["adapter"])
            trained["chat"] = ask_questions(model, adapter, wanted["questions"])
            trained["general"] = ask_questions(model, adapter, general)
            trained["completion"] = complete(model, adapter, wanted.get("completions", []))
            if args.with_document:
                trained["chat_with_document"] = ask_with_document(model, adapter, note,
                                                                  wanted["questions"])
            if sealed:
                for key in ("chat", "completion", "general", "chat_with_document"):
                    trained[key] = sealed_copy(trained[key])
                trained.pop("quiz_after_answers", None)
            entry["recipes"][pair if len(dtypes) == 1 else f"{pair}@{dtype}"] = trained
            _print_row(note_name, preset, recipe, trained, trained)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    results["summary"] = summarise(results["notes"])
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown_table(results["summary"]))
    print(f"wrote {args.out}")
    return 0


def summarise(notes: dict) -> list[dict]:
    """One row per recipe (and the base model), per note: the README's table."""
    rows = []
    for note, entry in notes.items():
        base = entry.get("base")
        if base:
            rows.append({"note": note, "recipe": "base model", "chat": _score(base["chat"]),
                         "chat_strict": _score(base["chat"], "strict"),
                         "completion": _score(base["completion"]),
                         "chat_with_document": _score(base.get("chat_with_document", []))})
        for name, run in entry["recipes"].items():
            before, after = run["general_perplexity_before"], run["general_perplexity_after"]
            rows.append({"note": note, "recipe": f"{name} ({run.get('dtype')})",
                         "chat": _score(run["chat"]),
                         "chat_strict": _score(run["chat"], "strict"),
                         "completion": _score(run["completion"]),
                         "chat_with_document": _score(run.get("chat_with_document", [])),
                         "general": _score(run.get("general", [])),
                         "quiz": f"{run['quiz_before']} -> {run['quiz_after']}",
                         "quiz_held_back": (f"{run.get('quiz_held_back_before')} -> "
                                            f"{run.get('quiz_held_back_after')}"),
                         "general_perplexity": f"{before:.1f} -> {after:.1f}",
                         "general_perplexity_ratio": round(after / before, 2),
                         "seconds": run["seconds"], "estimate_seconds": run["estimate_seconds"],
                         "base_weights": run.get("base_weights"),
                         "seconds_per_step": run.get("seconds_per_step"),
                         "split_seconds": run.get("split_seconds")})
    return rows


def _score(items: list[dict], mark: str = "correct") -> str:
    return f"{sum(item.get(mark, False) for item in items)}/{len(items)}"


def markdown_table(rows: list[dict]) -> str:
    lines = ["| note | recipe | chat answers (first sentence) | completion | app quiz | general "
             "perplexity (ratio) | time (estimate) |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        chat = f"{row['chat']} ({row.get('chat_strict', '-')})"
        if row["recipe"] == "base model":
            lines.append(f"| {row['note']} | base model | {chat} | {row['completion']} "
                         "| | | |")
            continue
        lines.append(f"| {row['note']} | {row['recipe']} | {chat} | {row['completion']} "
                     f"| {row['quiz']} | {row['general_perplexity']} "
                     f"({row['general_perplexity_ratio']}x) | {row['seconds']:.0f} s "
                     f"({row['estimate_seconds']:.0f} s) |")
    return "\n".join(lines)


def _print_row(note: str, preset: str, recipe: str, scores: dict, trained: dict | None) -> None:
    chat = sum(item["correct"] for item in scores["chat"])
    strict = sum(item.get("strict", False) for item in scores["chat"])
    done = sum(item["correct"] for item in scores["completion"])
    line = (f"{note:12} {preset:9} {recipe:10} chat {chat:2}/{len(scores['chat'])} "
            f"(first sentence {strict})  completion {done:2}/{len(scores['completion'])}")
    if trained:
        before, after = trained["general_perplexity_before"], trained["general_perplexity_after"]
        line += (f"  general ppl {before:.1f} -> {after:.1f}  quiz {trained['quiz_before']} -> "
                 f"{trained['quiz_after']}  {trained['seconds']:.0f} s (est {trained['estimate_seconds']:.0f})")
        if trained.get("quiz_held_back_after"):
            line += f"  held-back quiz {trained['quiz_held_back_after']}"
    if "chat_with_document" in scores:
        line += f"  with the document {_score(scores['chat_with_document'])}"
    if trained and "general" in trained:
        line += f"  general questions {_score(trained['general'])}"
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
