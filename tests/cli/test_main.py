"""The command line, run as a real process against a real library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gguf_factory import write_tiny_adapter, write_tiny_model


def slmdesk(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmdesk", *args], capture_output=True,
                          text=True, input=stdin, env=os.environ.copy(), timeout=300)


@pytest.fixture
def no_starter(slmdesk_home):
    """Mark the starter as removed so these fast tests do not assemble 250 MB each."""
    from slmdesk.core.library.starters import STARTERS
    from slmdesk.core.library.store import ModelLibrary
    from slmdesk.core.settings import set_setting
    from slmdesk.paths import app_paths

    library = ModelLibrary.open(app_paths())
    for starter in STARTERS:
        set_setting(library.conn, starter.declined_setting, True)
    library.close()


def test_import_list_info_remove(no_starter, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.gguf", architecture="qwen2", name="Tiny Qwen")
    adapter = write_tiny_adapter(tmp_path / "tiny-lora.gguf", architecture="qwen2")
    added = slmdesk("models", "import", str(model))
    assert added.returncode == 0, added.stderr
    assert "Added #1 Tiny Qwen (copied into the library)" in added.stdout
    assert slmdesk("models", "import", str(adapter), "--link").returncode == 0

    listing = json.loads(slmdesk("models", "list", "--json").stdout)
    assert [(e["kind"], e["architecture"]) for e in listing] == [("model", "qwen2"),
                                                                ("adapter", "qwen2")]
    assert listing[1]["base_model_id"] == listing[0]["id"]
    assert listing[0]["memory"]["verdict"] == "fits"

    table = slmdesk("models", "list").stdout
    assert "Tiny Qwen" in table and "\u2514" in table  # the adapter sits under its base

    info = slmdesk("models", "info", "1")
    assert info.returncode == 0 and "qwen2" in info.stdout and "Memory" in info.stdout
    info_json = json.loads(slmdesk("models", "info", str(model), "--json").stdout)
    assert info_json["info"]["architecture"] == "qwen2"

    removed = slmdesk("models", "remove", "1", "--delete-file")
    assert removed.returncode == 0 and "deleted its file" in removed.stdout
    assert [e["kind"] for e in json.loads(slmdesk("models", "list", "--json").stdout)] == [
        "adapter"]


def test_info_on_a_file_outside_the_library(no_starter, tmp_path):
    model = write_tiny_model(tmp_path / "outside.gguf", name="Outside")
    result = slmdesk("models", "info", str(model))
    assert result.returncode == 0 and "Outside" in result.stdout


def test_scan_reports_added_and_skipped(no_starter, tmp_path):
    write_tiny_model(tmp_path / "a.gguf", name="A")
    (tmp_path / "bad.gguf").write_bytes(b"PK\x03\x04 zip, not gguf")
    result = slmdesk("models", "scan", str(tmp_path))
    assert result.returncode == 0
    assert "1 added" in result.stdout
    assert "bad.gguf" in result.stderr and "not a GGUF" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("models", "import", "/nonexistent/model.gguf"), "model.gguf"),
    (("models", "info", "42"), "no model with id 42"),
    (("models", "remove", "42"), "no model with id 42"),
    (("models", "scan", "/nonexistent-folder"), "not a folder"),
])
def test_errors_go_to_stderr_with_nonzero_exit(no_starter, args, message):
    result = slmdesk(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_file_is_refused_and_library_unchanged(no_starter, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(write_tiny_model(tmp_path / "good.gguf").read_bytes()[:200])
    result = slmdesk("models", "import", str(broken))
    assert result.returncode == 1
    assert "broken.gguf" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(slmdesk("models", "list", "--json").stdout) == []


@pytest.mark.slow
def test_first_start_sets_up_both_starter_models():
    listing = json.loads(slmdesk("models", "list", "--json").stdout)
    assert len(listing) == 2
    starter, instruct = listing
    assert starter["is_starter"] and starter["architecture"] == "gemma3"
    assert starter["info"]["quantization"] == "Q4_K_M" and starter["type"] == "base"
    assert Path(starter["path"]).is_file()
    assert instruct["is_starter"] and instruct["type"] == "chat"
    assert instruct["display_name"] == "SmolLM2 135M Instruct" and Path(instruct["path"]).is_file()
    table = slmdesk("models", "list").stdout  # readable names and the chat/base mark
    assert "SmolLM2 135M Instruct" in table and " chat " in table and " base " in table


def test_a_model_without_an_architecture_is_refused_and_info_says_why(no_starter, tmp_path):
    """A valid container whose header names no architecture: llama.cpp cannot load it."""
    nameless = write_tiny_model(tmp_path / "no-arch.gguf", architecture=None, name="No Arch")
    refused = slmdesk("models", "import", str(nameless))
    assert refused.returncode == 1
    assert ('slmdesk: "no-arch.gguf" is not a loadable model: its header does not say which model '
            "architecture it is (general.architecture is missing)") in refused.stderr
    assert slmdesk("models", "import", str(nameless), "--link").returncode == 1
    assert json.loads(slmdesk("models", "list", "--json").stdout) == []

    info = slmdesk("models", "info", str(nameless))
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith('"no-arch.gguf" is not a loadable model')
    assert "Status" in info.stdout and "not a loadable model" in info.stdout
    assert "Memory" not in info.stdout and "base model" not in info.stdout  # nothing suggests it runs
    info_json = json.loads(slmdesk("models", "info", str(nameless), "--json").stdout)
    assert info_json["loadable"] is False and "general.architecture" in info_json["not_loadable_reason"]


def test_only_architectures_llama_cpp_lists_enter_the_library(no_starter, tmp_path):
    """An unknown architecture, and an adapter that names no base architecture, are refused too;
    a folder scan reports them and adds only the loadable model."""
    folder = tmp_path / "models"
    folder.mkdir()
    write_tiny_model(folder / "martian.gguf", architecture="martian-lm")
    write_tiny_adapter(folder / "orphan-lora.gguf", architecture=None)
    write_tiny_model(folder / "fine.gguf", architecture="llama")
    scan = slmdesk("models", "scan", str(folder))
    assert scan.returncode == 0, scan.stderr
    assert ('"martian.gguf" is not a loadable model: it is a "martian-lm" model, an architecture '
            "the llama.cpp in this SLM Desk") in scan.stderr
    assert ('"orphan-lora.gguf" is not a loadable adapter: its header does not say the architecture '
            "of the model it adapts") in scan.stderr
    assert "1 added, 2 could not be read" in scan.stdout
    assert [e["architecture"] for e in json.loads(slmdesk("models", "list", "--json").stdout)] == ["llama"]


def test_a_reader_that_leaves_early_ends_the_command_quietly(no_starter, tmp_path):
    """``slmdesk models list | head -1``: the reader closes the pipe before we write."""
    for index in range(3):
        assert slmdesk("models", "import", str(write_tiny_model(
            tmp_path / f"m{index}.gguf", name=f"Model {index}", license=f"l{index}")),
            "--link").returncode == 0
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read
    try:
        result = subprocess.run([sys.executable, "-m", "slmdesk", "models", "list"],
                                stdout=write_end, stderr=subprocess.PIPE, text=True,
                                env=os.environ.copy(), timeout=300)
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
