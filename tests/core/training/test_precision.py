"""The training dtype: the probe measures and decides, a forced setting is obeyed, the choice
is described in one line and kept for the estimate."""

from __future__ import annotations

import pytest

from slmdesk.core.training import precision
from slmdesk.core.training.layer_step import LayerShapes, layer_step, model_layer_shapes
from slmdesk.core.training.precision import PrecisionChoice, decide, probe_precision


def _probe_as_the_worker_runs_it() -> PrecisionChoice:
    """The probe in a fresh process with the worker's OpenMP setting (sleeping waits, set before
    torch starts its threads): in this test process torch's threads spin when they wait, which
    on a busy machine makes the same probe take several times longer."""
    import json
    import os
    import subprocess
    import sys

    code = ("import json; from slmdesk.core.training.precision import probe_precision; "
            "from slmdesk.core.training.layer_step import LayerShapes; "
            "print(json.dumps(probe_precision(640, 2048, 256, "
            "shapes=LayerShapes.of(640, 2048, 4, 1, 256)).to_dict()))")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    choice = PrecisionChoice.from_dict(json.loads(done.stdout.strip().splitlines()[-1]))
    assert choice is not None
    return choice


def test_a_real_probe_on_a_small_models_shapes_decides_with_its_figures():
    choice = _probe_as_the_worker_runs_it()  # the starter's layer shapes, one 256-token batch
    assert choice.requested == "auto" and choice.dtype in ("fp32", "bf16")
    assert choice.fp32_gflops > 0 and choice.probe_seconds < 5  # under a second when idle
    assert (choice.tokens, choice.hidden, choice.intermediate) == (256, 640, 2048)
    if choice.reason == "unsupported":
        assert choice.dtype == "fp32" and choice.speedup is None
    else:
        assert choice.reason in ("measured", "quality") and choice.speedup > 0
        assert choice.bf16_gflops > 0 and choice.speedup_bf16_weights > 0
        # the layer step decides, not the bare products: with the weights held as the run
        # would hold them
        assert choice.layer_speedup > 0 and choice.layer_speedup_bf16_weights > 0
        held = choice.weights == "bf16"
        assert choice.step_speedup == (choice.layer_speedup_bf16_weights if held
                                       else choice.layer_speedup)
        best = choice.layer_speedup
        if precision.BF16_WEIGHTS_QUALITY_PASSED:
            best = max(best, choice.layer_speedup_bf16_weights)
        faster = best >= precision.MIN_BF16_LAYER_SPEEDUP and precision.BF16_QUALITY_PASSED
        assert choice.dtype == ("bf16" if faster else "fp32")
        assert held == (faster and precision.BF16_WEIGHTS_QUALITY_PASSED
                        and choice.layer_speedup_bf16_weights >= choice.layer_speedup)


@pytest.mark.parametrize("forced", ["fp32", "bf16"])
def test_a_forced_dtype_is_obeyed_and_still_measured(forced):
    choice = probe_precision(64, 128, 32, requested=forced, repeats=1)
    if choice.reason == "unsupported":  # bf16 asked of a torch that cannot run it here
        assert forced == "bf16" and choice.dtype == "fp32"
    else:
        assert (choice.dtype, choice.reason) == (forced, "forced")
        assert choice.speedup is not None and choice.layer_speedup_bf16_weights is not None
        # forced bf16 holds the base weights in bf16; forced fp32 leaves them fp32
        assert choice.weights == forced


def test_the_decision_rule():
    # the layer step's ratio decides where it was timed, whatever the products say
    assert decide("auto", 2.4, layer_speedup=1.2) == ("fp32", "measured")  # this EPYC
    assert decide("auto", 9.4, layer_speedup=2.3) == ("bf16", "measured")
    assert decide("auto", 9.4, layer_speedup=2.3, quality_passed=False) == ("fp32", "quality")
    assert decide("auto", None, layer_speedup=2.0, supported=False) == ("fp32", "unsupported")
    # a probe kept from before the layer step was timed: the products and their cut-off
    assert decide("auto", 9.4) == ("bf16", "measured")  # an AMX Xeon's products
    assert decide("auto", 2.1) == ("fp32", "measured")  # AVX-512 BF16 without AMX: steps 0.8x
    assert decide("auto", 0.8) == ("fp32", "measured")  # no bf16 units
    assert decide("auto", None, supported=False) == ("fp32", "unsupported")
    assert decide("auto", 3.0, quality_passed=False) == ("fp32", "quality")
    assert decide("bf16", 0.5) == ("bf16", "forced")
    assert decide("fp32", 9.0) == ("fp32", "forced")
    assert decide("bf16", None, supported=False) == ("fp32", "unsupported")


def test_the_base_weights_are_held_in_bf16_where_that_passed_its_guard_and_is_faster():
    # this EPYC: autocast's layer short of the cut-off, the layer with bf16 weights past it
    assert decide("auto", 2.4, layer_speedup=1.2, layer_speedup_bf16_weights=1.8,
                  weights_quality_passed=True) == ("bf16", "measured")
    assert decide("auto", 2.4, layer_speedup=1.2, layer_speedup_bf16_weights=1.8,
                  weights_quality_passed=False) == ("fp32", "measured")
    assert decide("auto", 2.4, layer_speedup=1.2, layer_speedup_bf16_weights=1.8,
                  quality_passed=False, weights_quality_passed=True) == ("fp32", "quality")
    stored = precision.stored_weights
    assert stored("fp32", "fp32") == stored("fp32", "auto", layer_speedup_bf16_weights=9) == "fp32"
    assert stored("bf16", "bf16", weights_quality_passed=False) == "bf16"  # forced: the fastest
    assert stored("bf16", "auto", layer_speedup=1.6, layer_speedup_bf16_weights=1.9,
                  weights_quality_passed=True) == "bf16"
    assert stored("bf16", "auto", layer_speedup=1.9, layer_speedup_bf16_weights=1.6,
                  weights_quality_passed=True) == "fp32"  # measured the slower here
    assert stored("bf16", "auto", layer_speedup=1.6, layer_speedup_bf16_weights=1.9,
                  weights_quality_passed=False) == "fp32"
    held = PrecisionChoice("bf16", layer_speedup=1.2, layer_speedup_bf16_weights=1.8,
                           weights="bf16")
    assert held.step_speedup == held.speed_factor == 1.8
    assert held.sentence() == ("training in bf16: 1.8x faster on this processor (a training "
                               "layer, measured; the base weights held in bf16)")
    assert PrecisionChoice("fp32", layer_speedup=1.2, layer_speedup_bf16_weights=1.4).sentence() \
        == ("training in fp32: bf16 is only 1.4x on a training layer here, too little for the "
            "steps to gain")
    # a resumed run reads the mode back from its checkpoint; one from before it was kept
    # trained with the weights in fp32
    assert PrecisionChoice.from_dict(held.to_dict()) == held
    assert PrecisionChoice.from_dict({"dtype": "bf16", "layer_speedup": 1.6}).weights == "fp32"


def test_the_line_the_window_and_the_command_line_show():
    assert (PrecisionChoice("bf16", speedup=9.4, layer_speedup=2.1).sentence()
            == "training in bf16: 2.1x faster on this processor (a training layer, measured)")
    assert (PrecisionChoice("fp32", speedup=2.4, layer_speedup=1.2).sentence()
            == "training in fp32: bf16 is only 1.2x on a training layer here, too little for "
            "the steps to gain")
    assert (PrecisionChoice("bf16", speedup=9.4).sentence()
            == "training in bf16: about 2.3x faster on this processor (its matrix products 9.4x)")
    assert (PrecisionChoice("fp32", speedup=0.8).sentence() == "training in fp32: bf16 is only "
            "0.8x on the matrix products here, too little for the steps to gain")
    assert "no" not in PrecisionChoice("fp32", reason="forced", speedup=2.0).sentence()
    assert "cannot run bf16" in PrecisionChoice("fp32", reason="unsupported").sentence()


def test_training_autocast_runs_bf16_products_only_for_bf16():
    import torch

    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with precision.training_autocast("fp32"):
        assert (a @ b).dtype == torch.float32
    if probe_precision(8, 16, 16, repeats=1).reason != "unsupported":
        with precision.training_autocast(PrecisionChoice("bf16")):
            assert (a @ b).dtype == torch.bfloat16


def test_the_last_probe_is_kept_for_estimates(tmp_path):
    assert precision.load_probe(tmp_path) is None
    assert precision.expected_choice("auto", tmp_path) is None
    assert precision.expected_choice("bf16", tmp_path).dtype == "bf16"
    assert precision.expected_choice("bf16", tmp_path).weights == "bf16"
    assert precision.expected_choice("fp32", tmp_path).weights == "fp32"
    precision.save_probe(PrecisionChoice("bf16", speedup=9.4, fp32_gflops=50.0), tmp_path)
    assert precision.load_probe(tmp_path).speedup == 9.4
    assert precision.expected_choice("auto", tmp_path).speed_factor == pytest.approx(2.3)
    assert precision.expected_choice("fp32", tmp_path).speed_factor == 1.0
    precision.save_probe(PrecisionChoice("fp32", speedup=9.4, layer_speedup=1.1), tmp_path)
    assert precision.expected_choice("auto", tmp_path).dtype == "fp32"  # the layer decides
    assert precision.expected_choice("bf16", tmp_path).speed_factor == pytest.approx(1.1)
    (tmp_path / precision.PROBE_FILE).write_text("{not json", encoding="utf-8")
    assert precision.load_probe(tmp_path) is None


@pytest.mark.parametrize("candidates", [True, False])
def test_a_bf16_step_keeps_the_adapter_and_optimizer_fp32_and_tracks_the_fp32_step(candidates):
    import copy

    import torch

    from slmdesk.core.training import loop
    from slmdesk.core.training.vocabulary import CandidateVocabulary
    from tests.core.training.test_loop import _tiny_llama

    if probe_precision(8, 16, 16, repeats=1).reason == "unsupported":
        pytest.skip("torch cannot run bf16 on this processor")
    base = _tiny_llama()
    results = {}
    for dtype in ("fp32", "bf16"):
        model = copy.deepcopy(base)
        trained = [p for p in model.model.layers.parameters()]
        optimizer = torch.optim.AdamW(trained, lr=1e-3)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        vocabulary = CandidateVocabulary(64, range(64)) if candidates else None
        loss, _ = loop.train_step(model, optimizer, scheduler, [torch.tensor([[1, 5, 9, 13, 17]])],
                                  1.0, vocabulary=vocabulary, dtype=dtype)
        assert all(p.dtype == torch.float32 for p in trained)
        assert all(v.dtype == torch.float32 for state in optimizer.state.values()
                   for v in state.values() if v.is_floating_point())
        results[dtype] = loss
    assert results["bf16"] == pytest.approx(results["fp32"], rel=0.02)


def test_the_layer_step_trains_the_lora_weights_in_both_dtypes_and_takes_the_models_shapes():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=64, hidden_size=48, intermediate_size=96, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=12)
    shapes = model_layer_shapes(LlamaForCausalLM(config))
    assert shapes == LayerShapes(48, 96, 4, 2, 12)
    assert LayerShapes.of(640, 2048) == LayerShapes(640, 2048, 10, 10, 64)
    step = layer_step(shapes, 20)
    step(False)  # runs, backward included
    if probe_precision(8, 16, 16, repeats=1).reason != "unsupported":
        step(True)
