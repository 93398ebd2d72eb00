"""Do the loop-cutting penalties cost a tuned model its answers? One run, no training.

Reads a knowledge bench result (``bench/knowledge_bench.py --out FILE``) whose adapters are
still on disk, and asks each tuned model its note's natural questions twice, greedily, as the
bench asks them: without penalties, and with the presence and frequency penalties that cut
looping replies (``bench/loop_bench.py``). The penalties weigh on every word already in the
conversation, the question's too, and a tuned model answers by quoting its note: this measures
whether that costs answers. The general questions (``bench/general_questions.json``) are asked
the same two ways of the base model.

Usage: python bench/penalty_check.py RESULT.json [--presence 0.5] [--frequency 0.3]
                                     [--out bench/results/penalty_check.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from knowledge_bench import GENERAL, NATURAL_REPLY_TOKENS, NOTES, accepted, first_sentence  # noqa: E402


def ask(model: Path, adapter: Path | None, questions: list[dict], penalties: dict) -> list[dict]:
    from slmdesk.core.training.quiz_run import QUIZ_SAMPLING, quiz_engine

    sampling = {**QUIZ_SAMPLING, **penalties, "max_tokens": NATURAL_REPLY_TOKENS}
    out = []
    with quiz_engine(model, adapter) as (engine, _):
        for item in questions:
            reply = "".join(event.get("text", "") for event in engine.chat(
                [{"role": "user", "content": item["question"]}], sampling)
                if event["type"] == "token").strip()
            out.append({"question": item["question"], "reply": reply,
                        "correct": accepted(reply, item["accept"]),
                        "strict": accepted(first_sentence(reply), item["accept"])})
    return out


def score(items: list[dict]) -> str:
    return f"{sum(item['correct'] for item in items)}/{len(items)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("result", type=Path)
    parser.add_argument("--presence", type=float, default=0.5)
    parser.add_argument("--frequency", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "penalty_check.json")
    args = parser.parse_args()

    result = json.loads(args.result.read_text(encoding="utf-8"))
    questions = json.loads((NOTES / "questions.json").read_text(encoding="utf-8"))
    general = json.loads(GENERAL.read_text(encoding="utf-8"))
    model = Path("/tmp/slmdesk-bench") / result["model"]
    off = {"presence_penalty": 0.0, "frequency_penalty": 0.0}
    on = {"presence_penalty": args.presence, "frequency_penalty": args.frequency}
    rows: list[dict] = [{"what": "base model, general questions",
                         "without": score(ask(model, None, general, off)),
                         "with": score(ask(model, None, general, on))}]
    print(rows[-1], flush=True)
    for note, entry in result["notes"].items():
        for recipe, run in entry["recipes"].items():
            adapter = Path(run["adapter"])
            if not adapter.is_file():
                print(f"{note} {recipe}: adapter {adapter} is gone", flush=True)
                continue
            wanted = questions[note]["questions"]
            rows.append({"what": f"{note} {recipe}, natural questions",
                         "without": score(ask(model, adapter, wanted, off)),
                         "with": score(ask(model, adapter, wanted, on))})
            print(rows[-1], flush=True)
    report = {"what": __doc__.split("\n")[0], "model": result["model"], "penalties": on,
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
