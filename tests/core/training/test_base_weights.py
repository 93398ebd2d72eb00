"""The base body held in bf16 for a bf16 run: the LoRA weights, their optimizer state, the
output layer and the norms stay fp32, the steps match autocast's, and the figures after training
come from the original fp32 weights, read back from the converted model's cache."""

from __future__ import annotations

import copy

import pytest
import torch

from slmdesk.core.training import loop
from slmdesk.core.training.base_weights import (
    body_dtype,
    body_linears,
    restore_fp32,
    store_body_in_bf16,
)
from slmdesk.core.training.job import TrainingJob
from slmdesk.core.training.precision import probe_precision
from slmdesk.core.training.vocabulary import CandidateVocabulary
from tests.core.training.test_loop import _tiny_llama

CHUNKS = [[1, 5, 9, 13, 17, 21, 25], [2, 6, 10, 14, 18]]


@pytest.fixture(scope="module", autouse=True)
def _bf16_runs_here():
    if probe_precision(8, 16, 16, repeats=1).reason == "unsupported":
        pytest.skip("torch cannot run bf16 on this processor")


def _cached_model(tmp_path):
    """A tiny model saved as the training cache is, and loaded back from it (as the worker
    loads the converted starter), wrapped in LoRA."""
    from transformers import AutoModelForCausalLM

    _tiny_llama().save_pretrained(tmp_path, safe_serialization=True)
    model = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32)
    model.get_output_embeddings().weight.requires_grad_(False)
    job = TrainingJob(base_model_path="", documents=["x"], lora_rank=4, lora_alpha=8,
                      lora_dropout=0.0, learning_rate=1e-2, lr_schedule="constant")
    peft_model = loop.add_lora(model, job)
    peft_model.train()
    return peft_model, job


def _step(model, job, dtype):
    optimizer, scheduler = loop.make_optimizer(model, job, 4)
    vocabulary = CandidateVocabulary(64, range(64))
    batches = loop.micro_batches(CHUNKS, 2, 64)
    loss, _ = loop.train_step(model, optimizer, scheduler, batches, 1.0, vocabulary=vocabulary,
                              dtype=dtype)
    return loss, optimizer


def test_the_body_is_held_in_bf16_and_the_lora_weights_optimizer_head_and_norms_stay_fp32(
        tmp_path):
    model, job = _cached_model(tmp_path)
    autocast_only = copy.deepcopy(model)
    held = store_body_in_bf16(model, tmp_path)
    # 2 layers x 7 projections, every one backed by the cache file (nothing kept in memory)
    assert len(held.modules) == 14 and not held.kept and len(held.sources) == 14
    assert held.saved_bytes == 2 * held.cast_parameters > 0
    assert body_dtype(model) == torch.bfloat16 and body_dtype(autocast_only) == torch.float32
    base = model.get_base_model()
    assert base.get_output_embeddings().weight.dtype == torch.float32  # tied to the embedding
    assert base.get_input_embeddings().weight.dtype == torch.float32
    assert all(p.dtype == torch.float32 for n, p in model.named_parameters() if "norm" in n)
    lora = loop.trainable_parameters(model)
    assert lora and all(p.dtype == torch.float32 for _, p in lora)

    loss, optimizer = _step(model, job, "bf16")
    assert all(p.dtype == torch.float32 for _, p in loop.trainable_parameters(model))
    assert all(v.dtype == torch.float32 for state in optimizer.state.values()
               for v in state.values() if v.is_floating_point())
    assert body_dtype(model) == torch.bfloat16  # the step did not cast it back
    # the same bf16 products autocast computes from fp32 weights, without the casts
    reference, _ = _step(autocast_only, job, "bf16")
    assert loss == pytest.approx(reference, rel=1e-3)


def test_the_figures_after_training_come_from_the_original_fp32_weights(tmp_path):
    model, job = _cached_model(tmp_path)
    originals = {key: m.weight.detach().clone() for key, m in body_linears(model).items()}
    before, _ = loop.evaluate(model, CHUNKS)  # fp32, before the cast (as the worker does)
    held = store_body_in_bf16(model, tmp_path)
    with loop.training_autocast("bf16"):  # an evaluation during training: autocast
        during, _ = loop.evaluate(model, CHUNKS)
    assert during == pytest.approx(before, rel=0.02)
    restore_fp32(held)
    assert body_dtype(model) == torch.float32
    for key, module in body_linears(model).items():
        assert torch.equal(module.weight, originals[key]), key  # exact, not bf16-rounded
    after, _ = loop.evaluate(model, CHUNKS)  # outside autocast: the fp32 figure
    assert after == before
    restore_fp32(held)  # twice is harmless


def test_without_a_cache_the_originals_are_kept_in_memory(tmp_path):
    model, _ = _cached_model(tmp_path)
    originals = {key: m.weight.detach().clone() for key, m in body_linears(model).items()}
    held = store_body_in_bf16(model, None)
    assert len(held.kept) == 14 and not held.sources and held.saved_bytes == 0
    assert body_dtype(model) == torch.bfloat16
    restore_fp32(held)
    for key, module in body_linears(model).items():
        assert torch.equal(module.weight, originals[key])


def test_a_cache_holding_other_weights_is_not_trusted(tmp_path):
    model, _ = _cached_model(tmp_path / "loaded")
    originals = {key: m.weight.detach().clone() for key, m in body_linears(model).items()}
    other = _tiny_llama()
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(1.0)
    other.save_pretrained(tmp_path / "other", safe_serialization=True)
    held = store_body_in_bf16(model, tmp_path / "other")
    assert not held.sources and len(held.kept) == 14
    restore_fp32(held)
    for key, module in body_linears(model).items():
        assert torch.equal(module.weight, originals[key])
