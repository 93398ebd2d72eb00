"""Which headers llama.cpp can load: the architecture list and the reasons given for the rest."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from gguf.constants import MODEL_ARCH_NAMES

from slmdesk.core.gguf.architectures import LOADABLE_ARCHITECTURES
from slmdesk.core.gguf.info import read_model_info
from tests.gguf_factory import write_tiny_adapter, write_tiny_model


def _engine_library() -> Path | None:
    spec = importlib.util.find_spec("llama_cpp")  # found, not imported: no engine in this process
    if spec is None or spec.origin is None:
        return None
    return next(iter(sorted((Path(spec.origin).parent / "lib").glob("*llama.*"))), None)


def test_every_listed_architecture_is_named_in_the_engine_we_ship() -> None:
    """The list was generated from the llama.cpp sources; the built library must agree with it."""
    library = _engine_library()
    if library is None:
        pytest.skip("llama-cpp-python is not installed")
    binary = library.read_bytes()
    missing = sorted(name for name in LOADABLE_ARCHITECTURES if name.encode() + b"\0" not in binary)
    assert missing == []


def test_the_list_is_the_engines_not_the_gguf_packages() -> None:
    # The starters' and the tests' architectures are there; "clip" (a vision projector) and "gptj"
    # (named by llama.cpp and gguf, but no model is built for it) are not.
    assert {"gemma3", "llama", "qwen2", "phi3"} <= LOADABLE_ARCHITECTURES
    assert not {"clip", "gptj", ""} & LOADABLE_ARCHITECTURES
    # The gguf release on PyPI trails the engine: going by it would refuse models the engine runs.
    assert set(MODEL_ARCH_NAMES.values()) - {"clip", "gptj"} <= LOADABLE_ARCHITECTURES


@pytest.mark.parametrize(("write", "phrase"), [
    (lambda p: write_tiny_model(p, architecture=None),
     "is not a loadable model: its header does not say which model architecture it is"),
    (lambda p: write_tiny_model(p, architecture="martian-lm"),
     'is not a loadable model: it is a "martian-lm" model, an architecture the llama.cpp'),
    (lambda p: write_tiny_model(p, architecture="clip"), "is not a loadable model: it is the picture part"),
    (lambda p: write_tiny_model(p, architecture="bert"),
     "is an embedding model (bert): it turns text into numbers for search and cannot write replies"),
    (lambda p: write_tiny_adapter(p, architecture=None),
     "is not a loadable adapter: its header does not say the architecture of the model it adapts"),
    (lambda p: write_tiny_adapter(p, architecture="martian-lm"),
     'is not a loadable adapter: it is an adapter for "martian-lm" models'),
])
def test_reasons_for_headers_llama_cpp_would_refuse(tmp_path: Path, write, phrase: str) -> None:
    info = read_model_info(write(tmp_path / "file.gguf"))
    assert info.not_loadable_reason is not None
    assert info.not_loadable_reason.startswith('"file.gguf" ') and phrase in info.not_loadable_reason


def test_loadable_models_and_lora_adapters_have_no_reason(tmp_path: Path, starter_model_path: Path) -> None:
    assert read_model_info(starter_model_path).not_loadable_reason is None
    assert read_model_info(write_tiny_model(tmp_path / "m.gguf", architecture="qwen2")).not_loadable_reason is None
    assert read_model_info(write_tiny_adapter(tmp_path / "a.gguf")).not_loadable_reason is None
