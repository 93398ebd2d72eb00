"""The catalogue of recommended models and its memory verdicts."""

from __future__ import annotations

from slmdesk.core.hub.catalogue import CATALOGUE, catalogue_model
from slmdesk.core.hub.search import quantization_of
from slmdesk.core.library.memory import Verdict

GB = 1000**3


def test_every_model_has_files_a_license_and_a_shape():
    assert len(CATALOGUE) >= 8
    for model in CATALOGUE:
        assert model.files and model.license and model.block_count and model.head_dim
        for file in model.files:
            assert file.filename.endswith(".gguf") and "/" in file.repo_id
            assert file.quantization == quantization_of(file.filename)
            assert file.approx_size > 100_000_000


def test_the_recommended_file_is_q4_k_m_when_there_is_one():
    assert catalogue_model("qwen2.5-0.5b").recommended_file.quantization == "Q4_K_M"
    assert {m.recommended_file.quantization for m in CATALOGUE} == {"Q4_K_M"}


def test_the_verdict_follows_the_memory_of_this_computer():
    model = catalogue_model("llama-3.2-3b")
    file = model.recommended_file
    assert model.estimate(file, available_bytes=64 * GB).verdict == Verdict.FITS
    assert model.estimate(file, available_bytes=1 * GB).verdict == Verdict.WILL_NOT_FIT
    needed = model.estimate(file, available_bytes=GB).total_bytes
    assert model.estimate(file, available_bytes=int(needed * 1.2)).verdict == Verdict.TIGHT
    # The KV cache counts: Phi-3.5's 32 KV heads cost more than its file size alone.
    phi = catalogue_model("phi-3.5-mini")
    estimate = phi.estimate(phi.recommended_file, available_bytes=64 * GB)
    assert estimate.kv_cache_bytes > GB and estimate.total_bytes > phi.recommended_file.approx_size
