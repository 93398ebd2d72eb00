"""The base model for training: a GGUF file dequantized by transformers, cached as safetensors.

transformers can read a GGUF file and dequantize it to fp32 (with ``GgufConfig(dequantize=True)``;
without it training is refused), but parsing and dequantizing takes a minute or more, and the
tokenizer conversion another half. The result is saved once under the cache folder, keyed by the
model file's fingerprint, so every later run starts in seconds. The cache is written to a
temporary folder and renamed, so a run killed while saving leaves no half cache behind.

Imports torch and transformers: only the training worker (and the benchmark) use this module.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from slmdesk.core.library.store import file_fingerprint
from slmdesk.paths import app_paths

CACHE_FOLDER = "training-base"
_MARKER = "slmdesk-cache.json"
_CACHE_FORMAT = 1


def cache_root() -> Path:
    return app_paths().cache_dir / CACHE_FOLDER


def cache_dir_for(model_path: Path, root: Path | None = None) -> Path:
    """The cache folder of one model file (it may not exist yet)."""
    return (root or cache_root()) / file_fingerprint(Path(model_path))[:32]


def is_cached(model_path: Path, root: Path | None = None) -> bool:
    return (cache_dir_for(model_path, root) / _MARKER).is_file()


def load_base_model(model_path: Path, *, status: Callable[[str, str], None] | None = None,
                    root: Path | None = None) -> tuple[Any, Any, bool]:
    """Load (model, tokenizer, was_cached) in fp32 for training.

    Args:
        model_path: the GGUF base model.
        status: called with (stage, message) before each slow part, for progress events.
        root: the cache folder (default: the app's cache).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # transformers leaves it unannotated
    say = status or (lambda stage, message: None)
    model_path = Path(model_path).resolve()
    cache = cache_dir_for(model_path, root)
    if (cache / _MARKER).is_file():
        say("loading", "Loading the base model from the cache")
        try:
            tokenizer = AutoTokenizer.from_pretrained(cache)
            model = AutoModelForCausalLM.from_pretrained(cache, dtype=torch.float32,
                                                         attn_implementation="sdpa")
            return model, tokenizer, True
        except (OSError, ValueError) as exc:
            say("loading", f"The cached copy is unreadable ({exc}); converting the model again")
            shutil.rmtree(cache, ignore_errors=True)

    say("converting", "Converting the base model for training (the first time takes a minute "
        "or two; later runs start in seconds)")
    folder, name = str(model_path.parent), model_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, quantization_config=GgufConfig(dequantize=True),
        dtype=torch.float32, attn_implementation="sdpa")
    say("caching", "Saving the converted model so the next run starts faster")
    try:
        _save_cache(model, tokenizer, cache, model_path)
    except OSError as exc:  # a full disk must not stop the training itself
        say("caching", f"Could not save the converted model for next time: {exc}")
    return model, tokenizer, False


def _save_cache(model: Any, tokenizer: Any, cache: Path, model_path: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps({
            "format": _CACHE_FORMAT, "source": str(model_path),
            "fingerprint": file_fingerprint(model_path)}), encoding="utf-8")
        if cache.exists():  # another worker finished first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
            return
        os.replace(tmp, cache)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
