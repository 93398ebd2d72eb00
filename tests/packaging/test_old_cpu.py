"""The installed engine chats on emulated older processors (packaging/check-old-cpu.py)."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).resolve().parents[2] / "packaging" / "check-old-cpu.py"


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 processors only")
@pytest.mark.skipif(shutil.which("qemu-x86_64") is None,
                    reason="qemu-user is not installed (.ci/run installs it)")
def test_the_engine_picks_a_backend_each_older_processor_can_run_and_chats():
    done = subprocess.run([sys.executable, str(CHECK), "--cpus", "Haswell,Nehalem"],
                          capture_output=True, text=True, timeout=1200)
    results = {row["cpu"]: row for row in map(json.loads, done.stdout.splitlines()[:-1])}
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert results["Haswell"]["cpu_backend"] == "haswell"  # AVX2, no AVX-512
    assert results["Nehalem"]["cpu_backend"] in ("sse42", "x64")  # not even AVX
    assert all(row["tokens"] > 0 for row in results.values())
