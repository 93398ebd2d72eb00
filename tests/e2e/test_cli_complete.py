"""``slmdesk complete`` as a real process on the real starter model (a base model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.gguf_factory import write_tiny_adapter

pytestmark = pytest.mark.slow

COUNTING = "1, 2, 3, 4, 5, 6,"


def slmdesk(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmdesk", *args], capture_output=True,
                          text=True, input=stdin, env=os.environ.copy(), timeout=600)


@pytest.fixture(autouse=True)
def no_starter_assembly(slmdesk_home):
    """The tests pass the starter's path directly; skip assembling a second copy."""
    from slmdesk.core.library.starters import STARTERS
    from slmdesk.core.library.store import ModelLibrary
    from slmdesk.core.settings import set_setting
    from slmdesk.paths import app_paths

    library = ModelLibrary.open(app_paths())
    for starter in STARTERS:
        set_setting(library.conn, starter.declined_setting, True)
    library.close()


def test_the_continuation_streams_to_stdout_and_the_timings_to_stderr(starter_model_path):
    result = slmdesk("complete", str(starter_model_path), COUNTING, "--temperature", "0",
                     "--max-tokens", "8", "--ctx", "512")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(" 7, 8"), result.stdout  # the text itself is not repeated
    assert "raw text, no chat format" in result.stderr
    assert "+ 8 tokens" in result.stderr and "tokens/s" in result.stderr


def test_json_output_stop_text_and_library_id(starter_model_path):
    added = slmdesk("models", "import", str(starter_model_path), "--link")
    assert added.returncode == 0, added.stderr
    result = slmdesk("complete", "1", "Monday, Tuesday, Wednesday,", "--json",
                     "--temperature", "0", "--max-tokens", "12", "--stop", ",", "--ctx", "512")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == " Thursday" and data["finish_reason"] == "stop"
    assert data["prompt_tokens"] > 5 and data["completion_tokens"] > 0
    assert data["truncated_tokens"] == 0 and data["time_to_first_token"] > 0


def test_text_from_stdin_and_a_long_text_is_cut_from_the_front(starter_model_path):
    long = "".join(f"{i}, " for i in range(1, 400)).rstrip()
    result = slmdesk("complete", str(starter_model_path), "-", "--temperature", "0",
                     "--max-tokens", "4", "--ctx", "256", stdin=long)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("400")
    assert "its first" in result.stderr and "tokens were left out" in result.stderr
    assert "[252 + 4 tokens" in result.stderr


def test_an_adapter_is_not_a_model(tmp_path):
    adapter = write_tiny_adapter(tmp_path / "lora.gguf", architecture="gemma3")
    result = slmdesk("complete", str(adapter), "hi")
    assert result.returncode == 1
    assert "LoRA adapter, not a model" in result.stderr and "Traceback" not in result.stderr


def test_missing_model_is_an_error():
    result = slmdesk("complete", "/nonexistent/model.gguf", "hi")
    assert result.returncode == 1 and "no such file" in result.stderr
