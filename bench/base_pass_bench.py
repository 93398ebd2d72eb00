"""The base model's pass before training: two separate passes against the combined one.

On the starter (Gemma 3 270M, dequantized) and a one-page knowledge note cut as the Balanced
preset cuts it: the candidate harvest over the note's text chunks, then the anchor targets over
the general anchor windows (``loop.harvest_candidates`` + ``loop.anchor_targets``), against
``base_pass.base_predictions`` doing both in shared forward passes. Rounds alternate the two;
the best of each is reported, with a check that both give the same candidates.

Usage: python bench/base_pass_bench.py [--rounds 3] [--out bench/results/base_pass_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOTE = ROOT / "bench" / "knowledge_notes" / "note_1.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", type=Path, help="the converted starter's cache folder "
                        "(default: train_bench's)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "base_pass_bench.json")
    args = parser.parse_args()

    import torch

    from bench.train_bench import cache_root, starter_path
    from slmdesk.core.training import loop
    from slmdesk.core.training.base_model import load_base_model
    from slmdesk.core.training.base_pass import base_predictions
    from slmdesk.core.training.dataset import HFTokenizer, build_dataset
    from slmdesk.core.training.general_text import (
        ANCHOR_WINDOW_TOKENS,
        GENERAL_ANCHOR,
        general_text_chunks,
    )
    from slmdesk.core.training.job import PRESETS, physical_cores
    from slmdesk.core.training.vocabulary import CandidateVocabulary

    torch.set_num_threads(physical_cores())
    model, tokenizer, _ = load_base_model(starter_path(), root=args.cache or cache_root())
    model.requires_grad_(False)  # frozen, as under the adapter (the sliced loss needs it)
    preset = PRESETS["balanced"]
    data = build_dataset([NOTE.read_text(encoding="utf-8")], HFTokenizer(tokenizer),
                         sequence_length=preset["sequence_length"], overlap=preset["overlap"],
                         validation_fraction=preset["validation_fraction"], seed=0)
    texts = [c.tokens for c in data.train]
    windows = general_text_chunks(tokenizer, ANCHOR_WINDOW_TOKENS, GENERAL_ANCHOR)
    rows = loop.output_layer_rows(model)
    separate_s, combined_s = [], []
    same = True
    for _ in range(args.rounds):
        start = time.perf_counter()
        two = CandidateVocabulary(rows)
        loop.harvest_candidates(model, texts, two)
        anchor = loop.anchor_targets(model, windows)
        for ids in anchor.top_ids:
            two.add(ids)
        separate_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        one = CandidateVocabulary(rows)
        base_predictions(model, texts, windows, one)
        combined_s.append(time.perf_counter() - start)
        same = same and one.state() == two.state()
    report = {"what": __doc__.split("\n")[0], "machine": {"cpu_count": os.cpu_count(),
              "platform": platform.platform(), "load_average": os.getloadavg()},
              "text_chunks": len(texts), "text_tokens": sum(len(t) for t in texts),
              "anchor_windows": len(windows), "separate_seconds": [round(t, 2) for t in separate_s],
              "combined_seconds": [round(t, 2) for t in combined_s],
              "speedup": round(min(separate_s) / min(combined_s), 2), "same_candidates": same}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
