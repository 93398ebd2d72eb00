"""The OpenAI-compatible server against the engine directly: decode speed and time to first token.

The same question, greedy, to the instruct starter (SmolLM2 135M), once through a plain
EngineClient (what `slmdesk chat` uses) and once through the running server with the real
`openai` client, streamed. Both are timed the same way, from the caller's side: time to first
token from sending the request to the first piece of text, and tokens/s over the rest of the
reply (completion tokens - 1, from the first piece to the last). The two engines are separate
processes with the same model and context, used one at a time, in alternating rounds (so
background load hits both alike); medians are reported with the ratio server / direct
(target: at least 0.95).

Usage: python bench/api_bench.py [--rounds 5] [--max-tokens 64] [--out bench/results/api_bench.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slmdesk.core.engine.client import EngineClient  # noqa: E402
from slmdesk.core.library.store import ModelLibrary  # noqa: E402
from slmdesk.core.server.catalog import engine_target, find_model  # noqa: E402
from slmdesk.core.server.server import LocalServer, ServerConfig  # noqa: E402
from slmdesk.paths import AppPaths  # noqa: E402

MODEL = "smollm2-135m-instruct"
QUESTION = "Tell me a long story about a lighthouse keeper and the ships he saw."


def timed(first: float, last: float, started: float, tokens: int) -> dict:
    return {"ttft_s": first - started, "completion_tokens": tokens,
            "tokens_per_second": (tokens - 1) / (last - first) if tokens > 1 and last > first
            else None}


def direct(engine: EngineClient, max_tokens: int) -> dict:
    started = time.perf_counter()
    first = last = 0.0
    done: dict = {}
    for event in engine.chat([{"role": "user", "content": QUESTION}],
                             {"temperature": 0.0, "max_tokens": max_tokens}):
        if event["type"] == "token":
            last = time.perf_counter()
            first = first or last
        else:
            done = event
    return timed(first, last, started, done["completion_tokens"])


def served(client, max_tokens: int) -> dict:
    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}], temperature=0,
        max_tokens=max_tokens, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
    return timed(first, last, started, tokens)


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs if r[key] is not None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/api_bench.json")
    args = parser.parse_args()
    from openai import OpenAI

    root = Path(tempfile.mkdtemp(prefix="slmdesk-api-bench-"))
    paths = AppPaths(root / "data", root / "config", root / "cache", root / "logs").ensure()
    library = ModelLibrary.open(paths)
    library.ensure_starters()
    target = engine_target(library, find_model(library, MODEL))  # what the server loads
    library.close()
    runs: dict[str, list[dict]] = {"direct": [], "server": []}
    with LocalServer(paths, ServerConfig(port=0)) as server, EngineClient() as engine:
        engine.load(target.model_path, n_ctx=target.n_ctx)
        client = OpenAI(base_url=server.base_url, api_key=server.token.current(),
                        max_retries=0, timeout=600)
        direct(engine, 8), served(client, 8)  # warm-up: load, page the weights in
        for round_index in range(args.rounds):
            order = ("direct", "server") if round_index % 2 == 0 else ("server", "direct")
            for kind in order:
                result = direct(engine, args.max_tokens) if kind == "direct" \
                    else served(client, args.max_tokens)
                runs[kind].append(result)
                print(f"round {round_index + 1} {kind:6}: {result['completion_tokens']} tokens, "
                      f"first after {result['ttft_s']:.3f} s, "
                      f"{result['tokens_per_second']:.1f} tokens/s", flush=True)
    summary = {kind: {"tokens_per_second": round(median(r, "tokens_per_second"), 2),
                      "ttft_s": round(median(r, "ttft_s"), 4)} for kind, r in runs.items()}
    ratio = summary["server"]["tokens_per_second"] / summary["direct"]["tokens_per_second"]
    result = {"model": MODEL, "n_ctx": target.n_ctx, "max_tokens": args.max_tokens,
              "rounds": args.rounds, "machine": platform.processor() or platform.machine(),
              "summary": summary, "speed_ratio_server_to_direct": round(ratio, 3),
              "ttft_added_by_server_s": round(summary["server"]["ttft_s"]
                                              - summary["direct"]["ttft_s"], 4),
              "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("summary", "speed_ratio_server_to_direct",
                                               "ttft_added_by_server_s")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
