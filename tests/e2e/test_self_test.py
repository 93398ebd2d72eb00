"""``slmdesk --self-test``: the packaged app's own end-to-end check, run from this install."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_self_test_passes_every_step():
    result = subprocess.run([sys.executable, "-m", "slmdesk", "--self-test"], capture_output=True,
                            text=True, env=os.environ.copy(), timeout=1800)
    assert result.returncode == 0, result.stderr
    for step in ("set up the starter model", "chat with the starter model",
                 "train two steps on the sample note", "chat with the trained adapter"):
        assert f"ok: {step}" in result.stderr
    assert "all 4 steps passed" in result.stderr


@pytest.mark.slow
def test_self_test_explains_an_engine_built_for_another_processor(foreign_cpu_backend):
    env = dict(os.environ, SLMDESK_CPU_BACKEND=str(foreign_cpu_backend))
    result = subprocess.run([sys.executable, "-m", "slmdesk", "--self-test"], capture_output=True,
                            text=True, env=env, timeout=1800)
    assert result.returncode == 1
    assert "FAILED at step 'chat with the starter model'" in result.stderr
    assert "processor does not have" in result.stderr and "SIGILL" in result.stderr
