"""``slmdesk chat`` as a real process on the real starter model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.gguf_factory import write_tiny_adapter

pytestmark = pytest.mark.slow


def slmdesk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmdesk", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=600)


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


def test_reply_streams_to_stdout_with_format_and_timings(starter_model_path):
    result = slmdesk("chat", str(starter_model_path), "The capital of France is",
                     "--temperature", "0", "--max-tokens", "16", "--presence-penalty", "0",
                     "--frequency-penalty", "0.1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "is a base model" in result.stderr and "slmdesk complete" in result.stderr
    assert "Gemma turn format" in result.stderr
    assert "tokens/s" in result.stderr


def test_json_output_and_library_id(starter_model_path):
    added = slmdesk("models", "import", str(starter_model_path), "--link")
    assert added.returncode == 0, added.stderr
    result = slmdesk("chat", "1", "Name three colours.", "--json", "--temperature", "0",
                     "--max-tokens", "12", "--system", "Answer briefly.")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["reply"].strip() and data["chat_format"] == "gemma"
    assert data["completion_tokens"] > 0 and data["finish_reason"] in {"stop", "length"}
    assert data["time_to_first_token"] > 0


def test_an_adapter_is_not_a_model(tmp_path):
    adapter = write_tiny_adapter(tmp_path / "lora.gguf", architecture="gemma3")
    result = slmdesk("chat", str(adapter), "hi")
    assert result.returncode == 1
    assert "LoRA adapter, not a model" in result.stderr


def test_corrupt_model_gives_a_message_not_a_traceback(tmp_path, starter_model_path):
    broken = tmp_path / "broken.gguf"
    with starter_model_path.open("rb") as source:
        broken.write_bytes(source.read(4_000_000))
    result = slmdesk("chat", str(broken), "hi")
    assert result.returncode == 1
    assert "incomplete" in result.stderr and "Traceback" not in result.stderr


def test_missing_model_is_an_error():
    result = slmdesk("chat", "/nonexistent/model.gguf", "hi")
    assert result.returncode == 1 and "no such file" in result.stderr


def test_an_engine_killed_by_sigill_is_explained_in_plain_words(starter_model_path,
                                                                 foreign_cpu_backend):
    env = dict(os.environ, SLMDESK_CPU_BACKEND=str(foreign_cpu_backend))
    result = subprocess.run([sys.executable, "-m", "slmdesk", "chat", str(starter_model_path),
                             "Hello"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode != 0
    assert "llama.cpp" in result.stderr and "processor does not have" in result.stderr
    assert "SIGILL" in result.stderr and "Reinstall SLM Desk" in result.stderr
    assert "Traceback" not in result.stderr
