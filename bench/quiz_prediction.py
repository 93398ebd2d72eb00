"""How well the app's quiz predicts chat answers to questions people wrote (#21).

Reads knowledge-bench results on ``bench/natural`` (``bench/knowledge_bench.py --material dev``,
or ``heldout``) and compares, per document, the natural-question score in chat with what the
quiz after training says: the questions about taught sentences, the ones about sentences held
back from training, and the app's own estimate (:func:`slmdesk.core.training.quiz_run.expected_share`).
Writes the per-document table and the mean absolute error of each, in points (0-100).

    python bench/quiz_prediction.py bench/results/knowledge_bench_natural_dev_held_back.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _share(score: str | None) -> float | None:
    if not score:
        return None
    right, total = score.split("/")
    return int(right) / int(total) if int(total) else None


def rows_of(results: dict) -> list[dict]:
    """One row per document and recipe: the natural score and each predictor, in points."""
    from slmdesk.core.training.quiz_run import QuizAnswer, QuizResult, expected_share

    rows = []
    for document, entry in results["notes"].items():
        for recipe, run in entry["recipes"].items():
            chat = run["chat"]
            natural = sum(item["correct"] for item in chat) / len(chat)
            row = {"document": document, "recipe": recipe, "natural": round(100 * natural),
                   "taught_quiz": _share(run.get("quiz_after")),
                   "held_back_quiz": _share(run.get("quiz_held_back_after"))}
            answers = run.get("quiz_after_answers")
            if answers:  # the sealed half keeps no answers: the estimate is left out there
                result = QuizResult("after", [QuizAnswer(**answer) for answer in answers])
                found = expected_share(result)
                row["app_estimate"] = found[0] if found else None
                row["app_interval"] = [round(100 * found[1]), round(100 * found[2])] if found else None
            for key in ("taught_quiz", "held_back_quiz", "app_estimate"):
                if row.get(key) is not None:
                    row[key] = round(100 * row[key])
            rows.append(row)
    return rows


def mean_errors(rows: list[dict]) -> dict:
    """Mean absolute error of each predictor against the natural score, over the rows that
    have it, and how often the natural score fell inside the app's interval."""
    out: dict = {}
    for key in ("taught_quiz", "held_back_quiz", "app_estimate"):
        pairs = [(row[key], row["natural"]) for row in rows if row.get(key) is not None]
        if pairs:
            out[key] = {"mean_absolute_error_points": round(
                sum(abs(a - b) for a, b in pairs) / len(pairs), 1), "documents": len(pairs)}
    inside = [row["app_interval"][0] <= row["natural"] <= row["app_interval"][1]
              for row in rows if row.get("app_interval")]
    if inside:
        out["natural_inside_app_interval"] = f"{sum(inside)}/{len(inside)}"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="knowledge_bench JSON files")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "quiz_prediction.json")
    args = parser.parse_args()
    report = {"what": __doc__.split("\n")[0], "files": {}}
    for path in args.results:
        results = json.loads(path.read_text(encoding="utf-8"))
        rows = rows_of(results)
        report["files"][path.name] = {"material": results.get("material"), "rows": rows,
                                      "errors": mean_errors(rows)}
        print(f"{path.name} ({results.get('material')})")
        for row in rows:
            print(f"  {row['document']:12} natural {row['natural']:>3}  taught quiz "
                  f"{row['taught_quiz']}  held-back quiz {row['held_back_quiz']}  app "
                  f"{row.get('app_estimate')} {row.get('app_interval')}")
        print("  " + json.dumps(report["files"][path.name]["errors"]))
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
