"""The memory verdict that decides when a model is refused: its arithmetic against llama.cpp's
own allocation, the thresholds, and what changes it."""

from __future__ import annotations

import re

import pytest

from slmdesk.core.gguf.info import read_model_info
from slmdesk.core.library.memory import (
    COMFORTABLE_SHARE,
    DEFAULT_CONTEXT_LENGTH,
    Verdict,
    estimate_memory,
    kv_cache_bytes,
)
from tests.gguf_factory import write_tiny_adapter, write_tiny_model

MB = 1024**2


@pytest.fixture
def tiny(tmp_path):
    return read_model_info(write_tiny_model(tmp_path / "tiny.gguf"))


def test_the_verdict_follows_the_share_of_free_memory(tiny):
    needed = estimate_memory(tiny, 256, available_bytes=10**12).total_bytes
    fits = estimate_memory(tiny, 256, available_bytes=int(needed / COMFORTABLE_SHARE) + 1)
    tight = estimate_memory(tiny, 256, available_bytes=needed)
    refused = estimate_memory(tiny, 256, available_bytes=needed - 1)
    assert (fits.verdict, tight.verdict, refused.verdict) == (
        Verdict.FITS, Verdict.TIGHT, Verdict.WILL_NOT_FIT)
    assert "will not fit" in refused.explain() and "tokens" in refused.summary()


def test_the_context_is_capped_by_the_models_own_and_grows_the_kv_cache(tiny):
    assert tiny.context_length  # the tiny model declares one
    huge = estimate_memory(tiny, 10**9, available_bytes=10**12)
    assert huge.context_length == tiny.context_length
    small = estimate_memory(tiny, 16, available_bytes=10**12)
    assert 0 < small.kv_cache_bytes < huge.kv_cache_bytes
    assert small.weights_bytes == huge.weights_bytes == tiny.tensor_bytes
    assert estimate_memory(tiny, None, available_bytes=10**12).context_length == min(
        DEFAULT_CONTEXT_LENGTH, tiny.context_length)


def test_an_adapter_costs_only_its_weights(tmp_path):
    adapter = read_model_info(write_tiny_adapter(tmp_path / "adapter.gguf"))
    estimate = estimate_memory(adapter, 4096, available_bytes=10**12)
    assert estimate.kv_cache_bytes == 0 and estimate.compute_bytes == 0
    assert estimate.total_bytes == adapter.tensor_bytes


@pytest.mark.slow
def test_the_kv_cache_estimate_matches_what_llama_cpp_allocates(starter_model_path, capfd):
    """The one number llama.cpp reports about it: "llama_kv_cache: size = X MiB"."""
    from slmdesk.core.engine.cpu_backend import import_llama_cpp

    llama_cpp, _ = import_llama_cpp()
    info = read_model_info(starter_model_path)
    llm = llama_cpp.Llama(model_path=str(starter_model_path), n_ctx=2048, verbose=True)
    llm.close()
    log = capfd.readouterr().err
    sizes = [float(size) for size in re.findall(r"llama_kv_cache: size =\s*([\d.]+) MiB", log)]
    assert sizes, log[-2000:]
    assert kv_cache_bytes(info, 2048) / MB == pytest.approx(sum(sizes), rel=0.05)
