"""Which wording of the documents in the prompt a small model answers best from.

The passages Chat gives (core/documents/grounding.py) are asked of the starter, greedy, in a few
wordings, on the natural dev-half documents and their questions (bench/natural/dev/; never the
sealed half). Each wording sees the same passages; only the words around them change.

Usage: python bench/grounding_prompt_bench.py [--model smollm2|gemma] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT / "bench" / "natural" / "dev"
CONTEXT = 2048
REPLY_TOKENS = 128


def wordings() -> dict:
    from slmdesk.core.documents.grounding import grounded_question

    def numbered_plain(question, grounding):
        text = "\n\n".join(f"[{n}] {p.text}" for n, p in enumerate(grounding.passages, start=1))
        return f"Here are passages from my documents:\n\n{text}\n\nAnswer my question from them.\nQuestion: {question}"

    def notes_first(question, grounding):
        text = "\n\n".join(p.text for p in grounding.passages)
        return f"My notes:\n\n{text}\n\nFrom my notes: {question}"

    def question_first(question, grounding):
        text = "\n\n".join(f"[{n}] {p.text}" for n, p in enumerate(grounding.passages, start=1))
        return f"{question}\n\nAnswer from these passages of my documents:\n\n{text}\n\nQuestion again: {question}"

    return {"cited (as shipped)": grounded_question, "numbered, no file names": numbered_plain,
            "plain notes": notes_first, "question first and last": question_first}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("smollm2", "gemma"), default="smollm2")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "grounding_prompt_bench.json")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="slmdesk-grounding-"))
    os.environ["SLMDESK_HOME"] = str(home)
    from bench.knowledge_bench import accepted, starter_path
    from slmdesk.core import db
    from slmdesk.core.documents.embedding import open_embedder
    from slmdesk.core.documents.grounding import ground_conversation
    from slmdesk.core.engine.client import EngineClient
    from slmdesk.core.training.quiz_run import QUIZ_SAMPLING
    from slmdesk.paths import app_paths

    questions = json.loads((DEV / "questions.json").read_text(encoding="utf-8"))
    conn = db.connect(app_paths().database)
    from slmdesk.core.documents.index import DocumentIndex

    index = DocumentIndex(conn)
    embedder = open_embedder(app_paths())
    ways = wordings()
    scores = {name: {} for name in ways}
    replies = []
    with EngineClient() as engine:
        engine.load(starter_path(args.model), n_ctx=CONTEXT)
        for doc, entry in questions.items():
            collection = index.create(doc, [DEV / doc])
            index.update(doc, embedder=embedder)
            for item in entry["questions"]:
                _, grounding = ground_conversation(
                    conn, [collection.id], [{"role": "user", "content": item["question"]}],
                    context_length=CONTEXT, reply_tokens=REPLY_TOKENS, embedder=embedder)
                for name, word in ways.items():
                    prompt = word(item["question"], grounding)
                    reply = "".join(e.get("text", "") for e in engine.chat(
                        [{"role": "user", "content": prompt}],
                        {**QUIZ_SAMPLING, "max_tokens": REPLY_TOKENS}) if e["type"] == "token")
                    right = accepted(reply, item["accept"])
                    scores[name][doc] = scores[name].get(doc, 0) + int(right)
                    replies.append({"doc": doc, "wording": name, "question": item["question"],
                                    "reply": reply, "correct": right})
            print(doc, {name: per[doc] for name, per in scores.items()}, flush=True)
    if embedder is not None:
        embedder.close()
    result = {"what": __doc__.split("\n")[0], "model": args.model,
              "totals": {name: f"{sum(per.values())}/70" for name, per in scores.items()},
              "per_document": scores, "replies": replies}
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result["totals"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
