"""The installed engine chats on emulated older processors (packaging/check-old-cpu.py)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).resolve().parents[2] / "packaging" / "check-old-cpu.py"


needs_qemu = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or shutil.which("qemu-x86_64") is None,
    reason="x86-64 with qemu-user only (.ci/run installs it)")


@pytest.mark.slow
@needs_qemu
def test_the_engine_picks_a_backend_each_older_processor_can_run_and_chats():
    done = subprocess.run([sys.executable, str(CHECK), "--cpus", "Haswell,Nehalem"],
                          capture_output=True, text=True, timeout=1200)
    results = {row["cpu"]: row for row in map(json.loads, done.stdout.splitlines()[:-1])}
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert results["Haswell"]["cpu_backend"] == "haswell"  # AVX2, no AVX-512
    assert results["Nehalem"]["cpu_backend"] in ("sse42", "x64")  # not even AVX
    assert all(row["tokens"] > 0 for row in results.values())


@needs_qemu
def test_a_build_the_processor_cannot_run_fails_the_check_on_both_attempts(foreign_cpu_backend):
    env = dict(os.environ, SLMDESK_CPU_BACKEND=str(foreign_cpu_backend))
    done = subprocess.run([sys.executable, str(CHECK), "--cpus", "Nehalem"], env=env,
                          capture_output=True, text=True, timeout=600)
    row = json.loads(done.stdout.splitlines()[0])
    assert done.returncode == 1
    assert row["ok"] is False and row["exit_code"] == -4  # SIGILL, as a wrong build dies
    assert row["first_attempt"]["exit_code"] == -4  # tried again, died again
    assert "Illegal instruction" in row["why"]
