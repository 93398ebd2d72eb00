#!/usr/bin/env python3
"""Does the built engine run on older processors? A chat under an emulated CPU, per CPU model.

The engine host (installed, or the frozen bundle's with --app) is started under Debian's
qemu-user (``qemu-x86_64 -cpu MODEL``), which executes the program on an emulated processor of
that model: Haswell has AVX2 but no AVX-512, Nehalem not even AVX. The engine must pick a CPU
backend that processor can run, load a tiny model and generate a few tokens; a build that
carries instructions the processor lacks dies there with SIGILL. The CPU backend chosen is
printed for each model.

Usage: packaging/check-old-cpu.py [--app build/slmdesk-*/app/slmdesk] [--cpus Haswell,Nehalem]
Needs: qemu-user (apt-get install qemu-user). Exit 0 if every CPU model chatted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slmdesk.core.engine import protocol as p  # noqa: E402
from slmdesk.core.processes import ENGINE_MODULE, RUN_MODULE_FLAG, child_launch  # noqa: E402
from tests.loadable_models import write_loadable_model  # noqa: E402

#: The CPU backends each emulated model may pick: anything above them proves the program ran on
#: the real processor, not under the emulation (an exec that qemu-user did not follow).
FITTING_BACKENDS = {"Haswell": {"haswell", "sandybridge", "sse42", "x64"},
                    "Nehalem": {"sse42", "x64"}}


def chat_under(cpu: str, argv: list[str], env: dict[str, str], model: Path,
               timeout: float) -> dict:
    """Run the engine under ``qemu-x86_64 -cpu cpu``: load ``model``, ask for 4 tokens."""
    requests = [
        p.LoadRequest(id="load", model_path=str(model), n_ctx=128, n_threads=1),
        p.ChatRequest(id="chat", messages=[p.ChatMessage("user", "the cat")],
                      params=p.ChatParams(max_tokens=4, temperature=0.0, seed=1)),
    ]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        engine = subprocess.Popen(["qemu-x86_64", "-cpu", cpu, *argv], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=stderr, env=env)
        watchdog = threading.Timer(timeout, engine.kill)
        watchdog.start()
        assert engine.stdin is not None and engine.stdout is not None
        engine.stdin.write(b"".join(p.encode(request) for request in requests))
        engine.stdin.flush()
        events = []
        for line in engine.stdout:  # until the reply is done (the host would cancel it at EOF)
            try:
                events.append(p.decode(line))
            except p.ProtocolError:
                continue
            if events[-1]["type"] == "error" or (events[-1]["type"] == "done"):
                break
        try:
            engine.stdin.write(p.encode(p.ShutdownRequest(id="bye")))
            engine.stdin.close()
        except OSError:
            pass
        code = engine.wait()
        watchdog.cancel()
        stderr.seek(0)
        log = stderr.read().decode(errors="replace")
    ready = next((e for e in events if e["type"] == "ready"), {})
    reply = next((e for e in events if e["type"] == "done" and e["id"] == "chat"), None)
    errors = [e["message"] for e in events if e["type"] == "error"]
    result = {"cpu": cpu, "cpu_backend": ready.get("cpu_backend"), "exit_code": code,
              "seconds": round(time.perf_counter() - started, 1),
              "ok": reply is not None and reply["completion_tokens"] > 0}
    fitting = FITTING_BACKENDS.get(cpu)
    if ready and fitting is not None and ready.get("cpu_backend") not in fitting:
        result["ok"] = False
        errors.append(f"the {ready.get('cpu_backend')} backend cannot be the choice on {cpu}: "
                      "the engine did not run under the emulation")
    if reply is not None:
        result["tokens"], result["text"] = reply["completion_tokens"], reply["text"]
    if not result["ok"]:
        lines = [line for line in log.splitlines() if "TCG doesn't support" not in line]
        result["why"] = "; ".join([*errors, "\n".join(lines[-8:])]).strip("; ")
    return result


def died_before_ready(result: dict) -> bool:
    """The engine was killed by a signal before it named its CPU backend."""
    return result["cpu_backend"] is None and result["exit_code"] < 0


def chat_under_with_retry(cpu: str, argv: list[str], env: dict[str, str], model: Path,
                          timeout: float) -> dict:
    """:func:`chat_under`, once more when the engine died of a signal before it was ready.

    A build carrying instructions the processor lacks dies the same way every time; qemu-user
    itself, on a loaded 2-core machine, once killed an engine before it had chosen a backend
    (SIGILL at 1.2 s, a CI run of 2026-12-02) that chatted in each of about 40 tries since. The
    first attempt is kept in the result, so a second death is a failure and a rescue is seen.
    """
    first = chat_under(cpu, argv, env, model, timeout)
    if first["ok"] or not died_before_ready(first):
        return first
    second = chat_under(cpu, argv, env, model, timeout)
    return {**second, "first_attempt": first}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", help="the frozen app's executable (default: this install)")
    parser.add_argument("--cpus", default="Haswell,Nehalem")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if shutil.which("qemu-x86_64") is None:
        print("qemu-x86_64 is missing: apt-get install qemu-user", file=sys.stderr)
        return 2
    launch = child_launch(ENGINE_MODULE)
    argv, env = launch.argv, launch.env
    if args.app:
        app = Path(args.app).resolve()
        argv = [str(app), RUN_MODULE_FLAG, ENGINE_MODULE]
        # PyInstaller's Linux bootloader sets these, then executes itself again, and qemu-user
        # does not follow an exec: given them up front, it runs at once, under the emulation.
        env = {**env, "_PYI_ARCHIVE_FILE": str(app), "_PYI_PARENT_PROCESS_LEVEL": "-1",
               "_PYI_LINUX_PROCESS_NAME": app.name,
               "LD_LIBRARY_PATH": str(app.parent / "_internal")}
    with tempfile.TemporaryDirectory() as folder:
        model = write_loadable_model(Path(folder) / "tiny-llama.gguf", "llama", quantized=True)
        results = [chat_under_with_retry(cpu, argv, env, model, args.timeout)
                   for cpu in args.cpus.split(",")]
    for result in results:
        print(json.dumps(result))
    what = args.app or "installed engine"
    passed = all(result["ok"] for result in results)
    print(f"{what}: {'chats on every emulated CPU' if passed else 'FAILED on some CPU'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
