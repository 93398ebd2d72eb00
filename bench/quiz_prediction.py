"""How well the app's quiz predicts chat answers to questions people wrote (#21).

Reads knowledge-bench results on ``bench/natural`` (``bench/knowledge_bench.py --material dev``,
or ``heldout``) and compares, per document, the natural-question score in chat with what the
quiz after training says: the questions about taught sentences, the ones about sentences held
back from training, the app's own estimate (:func:`slmdesk.core.training.quiz_run.expected_share`),
and the taught score scaled by ``TAUGHT_TO_NATURAL`` (the app's estimate when nothing is held
back), also with the scale fitted on the other documents only (``scaled_taught_left_out``: the
honest figure for a ratio measured on these very documents).
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
    from slmdesk.core.training.quiz_run import TAUGHT_TO_NATURAL, QuizAnswer, QuizResult, expected_share

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
            if row["taught_quiz"] is not None:
                row["scaled_taught"] = round(TAUGHT_TO_NATURAL * row["taught_quiz"])
            rows.append(row)
    for row in rows:  # the scale from the other documents alone
        others = [r for r in rows if r is not row and r["taught_quiz"]]
        if row["taught_quiz"] is not None and others:
            scale = sum(r["natural"] for r in others) / sum(r["taught_quiz"] for r in others)
            row["scaled_taught_left_out"] = round(scale * row["taught_quiz"])
    return rows


def mean_errors(rows: list[dict]) -> dict:
    """Mean absolute error of each predictor against the natural score, over the rows that
    have it, and how often the natural score fell inside the app's interval."""
    out: dict = {}
    for key in ("taught_quiz", "held_back_quiz", "app_estimate", "scaled_taught",
                "scaled_taught_left_out"):
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
