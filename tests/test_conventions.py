"""The conventions the tools check, as part of the suite (so the README's test command runs them):
ruff (ruff.toml), mypy --strict on the core (pyproject's [tool.mypy]) and the architecture
contracts of import-linter (.importlinter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess:
    tool = BIN / argv[0]
    if not tool.exists():
        pytest.fail(f"{argv[0]} is missing: ./setup.sh --test installs it")
    return subprocess.run([str(tool), *argv[1:]], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_ruff_finds_nothing():
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_the_core():
    result = _run("mypy")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_the_architecture_contracts_are_kept():
    result = _run("lint-imports")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
