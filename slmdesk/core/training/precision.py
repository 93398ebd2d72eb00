"""The training dtype, chosen by measurement on the processor the run is on.

bf16 pays on some CPUs and costs on others: an AMX Xeon runs a bf16 matrix product ~9x faster
than fp32 (oneDNN uses the tile units), an AVX-512 BF16 CPU without AMX gains less, and an
AVX2-only CPU has no bf16 units at all and emulates them (slower than fp32). So the worker does
not guess: at start it times fp32 against ``torch.autocast("cpu", dtype=torch.bfloat16)`` on the
model's own shapes, a few repetitions each, interleaved so that a busy machine slows both alike.

What it times and decides on is one LoRA-trained decoder layer's forward and backward
(:mod:`slmdesk.core.training.layer_step`), and it trains in bf16 where that layer gains at
least :data:`MIN_BF16_LAYER_SPEEDUP`. It used to decide on the bare matrix products with a 3x
cut-off (:data:`MIN_BF16_SPEEDUP`, still used for a probe kept from then): the products
over-promise, because a step also casts every weight and activation, runs norms, attention
and small LoRA products, and backpropagates. On a 2-core AVX-512 BF16 EPYC without AMX the
products measured 0.8-4.5x between runs while interleaved whole steps measured 1.1-1.3x; the
layer step measured within that range (bench/train_bench.py's ``bf16_rounds``, README
"Measured"). The products (and bf16 with the weights stored in bf16, no cast per call) are
still timed and recorded, for the fraction of the matmul peak and for comparison.

Quality is part of the policy (:data:`BF16_QUALITY_PASSED`): bf16 is picked only because the
knowledge bench found it keeping the answers and the forgetting of fp32 on the bench notes; a
failure there would make "auto" never pick it, however fast (a job could still force it).

Under bf16 autocast runs the body's matrix products in bf16. Where the base weights stay
fp32 in memory (``weights`` "fp32"), autocast casts each frozen weight to bf16 on every call
(it caches casts only for weights that require a gradient); so a bf16 run keeps the frozen body's
linear weights *stored* in bf16 (``weights`` "bf16", :mod:`slmdesk.core.training.base_weights`),
which gives the same bf16 products without the casts and halves the body's memory. Either way the
candidate output layer (and the embedding tied to it), the norms, the LoRA weights, their
gradients and the optimizer state are fp32, the losses are reduced in fp32, and every figure
shown to the user (validation and general perplexity, the base model's predictions the anchor
keeps to) is computed in fp32 outside autocast, from the original fp32 weights: before the cast,
and after training once they are read back.

A job may force either dtype (``TrainingJob.dtype``); a resumed run keeps the dtype it started
with (it is saved in every checkpoint). The last probe's figures are kept in the app's cache so
that the time estimate before a run uses them instead of a constant.

Plain Python at import time: torch is imported only inside :func:`probe_precision` and
:func:`training_autocast`, so the window and the command line can read and describe a choice.
"""

from __future__ import annotations

import json
import os
import platform
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, ContextManager

from slmdesk.core.training.layer_step import LayerShapes

DTYPES = ("auto", "fp32", "bf16")
#: The products must run at least this much faster in bf16 for the steps to gain. Measured on
#: a 2-core AVX-512 BF16 EPYC without AMX (knowledge bench, README "Measured"): the products
#: ran 1.5-2.4x faster in bf16, yet a whole Balanced run's steps took 5.25 s each in bf16
#: against 4.22 s in fp32 (0.8x): the casts, norms, attention and the fp32 output layer around
#: the products eat the gain (interleaved 256-token text steps did gain 1.1-1.3x there: the
#: knowledge run's short batches gain least). The AMX Xeon's products run ~9x faster and its
#: steps 2.3x. So only AMX-class gains pick bf16.
MIN_BF16_SPEEDUP = 3.0
#: The quality guard, part of the policy: "auto" may pick bf16 only because the knowledge bench
#: (bench/knowledge_bench.py --dtype bf16, README "Measured") found bf16 training within one
#: chat answer of fp32 on every bench note and its forgetting (the general perplexity ratio)
#: within 0.1x of fp32's: on the training starter SmolLM2 135M Instruct, notes 1-3, 7/8/7/7/
#: 10/9 answers and 1.28/1.27, 1.21/1.24, 1.23/1.18x (bench/results/
#: knowledge_bench_smollm2_bf16.json), and on Gemma 3 270M note 1, 8/8 and 1.52/1.50x. Faster
#: arithmetic that loses answers is no gain, so were any note to fail, this is False and the
#: probe never picks bf16, however fast (a job could still force it).
BF16_QUALITY_PASSED = True
#: The quality guard of the base weights stored in bf16 (``weights`` "bf16"): "auto" keeps them
#: in bf16 only because the knowledge bench found it keeping fp32's answers and forgetting (see
#: :data:`BF16_QUALITY_PASSED` for the rule); were a note to fail, this is False and a bf16 run
#: casts fp32 weights per call. Measured on SmolLM2 135M Instruct, Balanced, fp32 then bf16
#: weights in one run per note (bench/results/knowledge_bench_smollm2_bf16_weights.json for
#: note 1, ..._notes23.json for notes 2 and 3): chat answers 9/8, 5/5, 5/6 and forgetting
#: 1.28/1.31, 1.30/1.25, 1.21/1.19x, so within one answer and 0.03-0.05x on every note.
BF16_WEIGHTS_QUALITY_PASSED = True
#: The layer step's bf16 speed-up from which the probe picks bf16. The layer leaves out what
#: bf16 does not speed up (the fp32 candidate output layer, the optimizer, the Python around a
#: step), and a run's short question-and-answer batches gained less than text chunks, so it
#: must gain clearly: measured interleaved on the 2-core EPYC (bench/train_bench.py,
#: bench/results/train_bench_layer_probe*.json), Gemma's steps 2.26x and 1.61x where the
#: layer step said 2.45x and 1.14x and the products 1.83x and 0.74x; SmolLM2's steps 1.29x and
#: 1.40x, layer 1.65x and 1.07x, products 2.67x and 1.84x. The layer was the closer in all four
#: rounds, but wanders by ~0.4 on a busy machine; fp32 is the safe side (what runs used
#: before), hence a cut-off above the text steps' 1.3-1.4x. An AVX2-only CPU's layer step
#: runs slower in bf16 (< 1x), so it stays in fp32.
MIN_BF16_LAYER_SPEEDUP = 1.5
#: Tokens of the timed layer step (the run's batch when shorter): enough for the products to
#: run as a batch's do, few enough for the probe to stay well under a second.
LAYER_TOKENS = 128
#: Repetitions of the timed layer step (after its warm-up): it costs ten product sets.
LAYER_REPEATS = 2
#: Repetitions of each timed product set (after one warm-up each), alternating fp32 and bf16.
PROBE_REPEATS = 3
PROBE_FILE = "precision-probe.json"


@dataclass(frozen=True)
class PrecisionChoice:
    """What the run trains in, and why.

    ``reason``: "measured" (the probe decided), "forced" (the job said), "unsupported" (torch
    cannot run bf16 here), "quality" (bf16 was faster but failed the quality guard), "resumed"
    (kept from the checkpoint the run resumed from).
    """

    dtype: str
    requested: str = "auto"
    reason: str = "measured"
    speedup: float | None = None  # bf16 autocast over fp32 on the layer's products (>1: faster)
    speedup_bf16_weights: float | None = None  # the products with the weights stored in bf16
    layer_speedup: float | None = None  # bf16 over fp32 on a LoRA layer's forward and backward
    layer_speedup_bf16_weights: float | None = None  # the same layer, its frozen weights in bf16
    weights: str = "fp32"  # how the frozen base body is stored while training ("bf16" or "fp32")
    fp32_gflops: float | None = None
    bf16_gflops: float | None = None
    probe_seconds: float = 0.0
    tokens: int = 0
    hidden: int = 0
    intermediate: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "PrecisionChoice | None":
        """A choice from an event, a checkpoint or the cache; None when unreadable."""
        if not isinstance(data, dict) or data.get("dtype") not in ("fp32", "bf16"):
            return None
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{key: value for key, value in data.items() if key in known})
        except TypeError:
            return None

    @property
    def gflops(self) -> float | None:
        """The probe's throughput in the dtype in use."""
        return self.bf16_gflops if self.dtype == "bf16" else self.fp32_gflops

    @property
    def step_speedup(self) -> float | None:
        """The steps' expected bf16 speed-up: the layer step's as measured (with the weights
        stored as the run stores them), else (a probe from before the layer step was timed)
        derived from the products' (:func:`step_speedup`)."""
        if self.weights == "bf16" and self.layer_speedup_bf16_weights is not None:
            return self.layer_speedup_bf16_weights
        if self.layer_speedup is not None:
            return self.layer_speedup
        return None if self.speedup is None else step_speedup(self.speedup)

    @property
    def speed_factor(self) -> float:
        """Training speed relative to fp32: what the time estimate scales by."""
        return (self.step_speedup or 1.0) if self.dtype == "bf16" else 1.0

    def sentence(self) -> str:
        """One line for the window and the command line."""
        layer = self.step_speedup if self.layer_speedup is not None else None
        if self.dtype != "bf16" and self.layer_speedup_bf16_weights is not None:
            layer = max(self.layer_speedup or 0.0, self.layer_speedup_bf16_weights)
        if layer is not None:
            ratio = f"{layer:.1f}x on a training layer"
        else:
            ratio = (f"{self.speedup:.1f}x on the matrix products" if self.speedup
                     else "not measured")
        if self.dtype == "bf16":
            held = "; the base weights held in bf16" if self.weights == "bf16" else ""
            if self.reason == "forced":
                return f"training in bf16 (set by the job; bf16 is {ratio} here{held})"
            if self.reason == "resumed":
                return "training in bf16, as the run started" + (
                    " (the base weights held in bf16)" if held else "")
            if layer is not None:
                return (f"training in bf16: {layer:.1f}x faster on this processor "
                        f"(a training layer, measured{held})")
            return (f"training in bf16: about {self.step_speedup or 1.0:.1f}x faster on this "
                    f"processor (its matrix products {self.speedup or 1.0:.1f}x)")
        if self.reason == "unsupported":
            return "training in fp32: torch cannot run bf16 on this processor"
        if self.reason == "forced":
            return f"training in fp32 (set by the job; bf16 is {ratio} here)"
        if self.reason == "resumed":
            return "training in fp32, as the run started"
        if self.reason == "quality":
            return f"training in fp32: bf16 is {ratio} here but did not keep the answers"
        return f"training in fp32: bf16 is only {ratio} here, too little for the steps to gain"


def step_speedup(products: float) -> float:
    """The whole steps' bf16 speed-up expected from the products' one: the products are only
    part of a step. Anchored on the AMX Xeon's measurement (products 9.4x, LoRA steps 2.3x) and
    on no gain at no gain; below :data:`MIN_BF16_SPEEDUP` the steps measured slower."""
    return max(0.0, 1.0 + (products - 1.0) * (2.3 - 1.0) / (9.4 - 1.0))


def decide(requested: str, speedup: float | None, *, supported: bool = True,
           quality_passed: bool = BF16_QUALITY_PASSED,
           layer_speedup: float | None = None,
           layer_speedup_bf16_weights: float | None = None,
           weights_quality_passed: bool = BF16_WEIGHTS_QUALITY_PASSED) -> tuple[str, str]:
    """(dtype, reason) for a requested setting and the measured bf16 speed-ups: the layer
    step's where it was timed (:data:`MIN_BF16_LAYER_SPEEDUP`; with the weights stored in bf16
    where that passed its quality guard and was faster), else the products'
    (:data:`MIN_BF16_SPEEDUP`, a probe kept from before the layer step was timed)."""
    if requested in ("fp32", "bf16"):
        if requested == "bf16" and not supported:
            return "fp32", "unsupported"
        return requested, "forced"
    if not supported or (speedup is None and layer_speedup is None):
        return "fp32", "unsupported"
    if weights_quality_passed and layer_speedup_bf16_weights is not None:
        layer_speedup = max(layer_speedup or 0.0, layer_speedup_bf16_weights)
    if layer_speedup is not None:
        if layer_speedup < MIN_BF16_LAYER_SPEEDUP:
            return "fp32", "measured"
    elif speedup is None or speedup < MIN_BF16_SPEEDUP:
        return "fp32", "measured"
    return ("bf16", "measured") if quality_passed else ("fp32", "quality")


def stored_weights(dtype: str, requested: str, *, layer_speedup: float | None = None,
                   layer_speedup_bf16_weights: float | None = None,
                   weights_quality_passed: bool = BF16_WEIGHTS_QUALITY_PASSED) -> str:
    """How the frozen base body is stored while training: "bf16" for a bf16 run when the job
    forced bf16 (the fastest bf16 there is) or, chosen by the probe, when that passed its
    quality guard and its layer step was not the slower; else "fp32" (autocast casts)."""
    if dtype != "bf16":
        return "fp32"
    if requested == "bf16":
        return "bf16"
    if not weights_quality_passed:
        return "fp32"
    if layer_speedup is not None and layer_speedup_bf16_weights is not None:
        return "bf16" if layer_speedup_bf16_weights >= layer_speedup else "fp32"
    return "bf16"


def model_shapes(model: Any) -> tuple[int, int]:
    """(hidden, intermediate) sizes of a transformers model, from its config."""
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config()
    hidden = int(getattr(config, "hidden_size", 0) or 0) or 512
    intermediate = int(getattr(config, "intermediate_size", 0) or 0) or 4 * hidden
    return hidden, intermediate


def probe_precision(hidden: int, intermediate: int, tokens: int, *, requested: str = "auto",
                    repeats: int = PROBE_REPEATS, shapes: LayerShapes | None = None,
                    quality_passed: bool = BF16_QUALITY_PASSED,
                    weights_quality_passed: bool = BF16_WEIGHTS_QUALITY_PASSED) -> PrecisionChoice:
    """Time fp32 against bf16 autocast on one layer's products and on one LoRA layer's forward
    and backward (:mod:`slmdesk.core.training.layer_step`), interleaved, and decide. A forced
    setting is still measured, so the user sees what the other dtype would do."""
    import torch

    from slmdesk.core.training.layer_step import layer_step

    tokens = max(16, min(int(tokens), 2048))
    shapes = shapes or LayerShapes.of(hidden, intermediate)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(tokens, hidden, generator=generator)
    up_x = torch.randn(tokens, intermediate, generator=generator)
    square = torch.randn(hidden, hidden, generator=generator)
    up = torch.randn(intermediate, hidden, generator=generator)
    down = torch.randn(hidden, intermediate, generator=generator)
    flops = 2.0 * tokens * (hidden * hidden + 2 * hidden * intermediate)
    layer_tokens = min(tokens, LAYER_TOKENS)
    layer = layer_step(shapes, layer_tokens)
    layer_stored = layer_step(shapes, layer_tokens, weights="bf16")

    def products(weights: tuple[Any, Any, Any]) -> None:
        a, b, c = weights
        torch.nn.functional.linear(x, a)
        torch.nn.functional.linear(x, b)
        torch.nn.functional.linear(up_x, c)

    def fp32() -> None:
        products((square, up, down))

    def bf16() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            products((square, up, down))

    started = time.perf_counter()
    times: dict[str, list[float]] = {name: [] for name in ("fp32", "bf16", "bf16w", "layer32",
                                                           "layer16", "layer16w")}
    supported = True
    try:
        stored = tuple(w.to(torch.bfloat16) for w in (square, up, down))

        def bf16_weights() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                products(stored)  # type: ignore[arg-type]  # three tensors

        runs: dict[str, Callable[[], None]] = {
            "fp32": fp32, "bf16": bf16, "bf16w": bf16_weights,
            "layer32": lambda: layer(False), "layer16": lambda: layer(True),
            "layer16w": lambda: layer_stored(True)}
        for run in runs.values():  # warm-up: oneDNN picks and caches its kernels
            run()
        for repeat in range(repeats):
            for name, run in runs.items():
                if name.startswith("layer") and repeat >= LAYER_REPEATS:
                    continue
                begin = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - begin)
    except (RuntimeError, TypeError):  # a torch without bf16 kernels for this CPU
        supported = False
        if not times["fp32"]:
            begin = time.perf_counter()
            fp32()
            times["fp32"].append(time.perf_counter() - begin)
    best = {name: min(values) for name, values in times.items() if values}

    def ratio(slow: str, fast: str) -> float | None:
        return round(best[slow] / best[fast], 2) if supported and best.get(fast) else None

    speedup, layer_speedup = ratio("fp32", "bf16"), ratio("layer32", "layer16")
    layer_weights = ratio("layer32", "layer16w")
    dtype, reason = decide(requested, speedup, supported=supported, layer_speedup=layer_speedup,
                           quality_passed=quality_passed, layer_speedup_bf16_weights=layer_weights,
                           weights_quality_passed=weights_quality_passed)
    weights = stored_weights(dtype, requested, layer_speedup=layer_speedup,
                             layer_speedup_bf16_weights=layer_weights,
                             weights_quality_passed=weights_quality_passed)
    return PrecisionChoice(
        dtype=dtype, requested=requested, reason=reason, speedup=speedup,
        speedup_bf16_weights=ratio("fp32", "bf16w"), layer_speedup=layer_speedup,
        layer_speedup_bf16_weights=layer_weights, weights=weights,
        fp32_gflops=round(flops / best["fp32"] / 1e9, 1),
        bf16_gflops=round(flops / best["bf16"] / 1e9, 1) if best.get("bf16") else None,
        probe_seconds=round(time.perf_counter() - started, 3),
        tokens=tokens, hidden=hidden, intermediate=intermediate)


def training_autocast(choice: PrecisionChoice | str) -> ContextManager[Any]:
    """The context a training step's forward pass runs in (backward follows its dtypes)."""
    dtype = choice.dtype if isinstance(choice, PrecisionChoice) else choice
    if dtype != "bf16":
        return nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


# -- the last probe, kept for estimates --------------------------------------------------------

def _machine_key() -> str:
    """The processor, so that a home folder carried to another computer is probed afresh."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{platform.machine()}|{model}|{os.cpu_count()}"


def save_probe(choice: PrecisionChoice, cache_dir: Path) -> None:
    """Keep the probe's figures for the next estimate (a failure to write is harmless)."""
    path = Path(cache_dir) / PROBE_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(PROBE_FILE + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"machine": _machine_key(), **choice.to_dict()}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def load_probe(cache_dir: Path) -> PrecisionChoice | None:
    """The last probe on this machine, or None (never probed, another machine, unreadable)."""
    try:
        data = json.loads((Path(cache_dir) / PROBE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("machine") != _machine_key():
        return None
    return PrecisionChoice.from_dict(data)


def expected_choice(requested: str, cache_dir: Path) -> PrecisionChoice | None:
    """What a new run would train in, from the last probe: for the estimate and the window's
    line before the run starts (None when this machine was never probed)."""
    probe = load_probe(cache_dir)
    if probe is None:
        if requested in ("fp32", "bf16"):
            return PrecisionChoice(dtype=requested, requested=requested, reason="forced",
                                   weights=stored_weights(requested, requested))
        return None
    dtype, reason = decide(requested, probe.speedup, supported=probe.speedup is not None,
                           layer_speedup=probe.layer_speedup,
                           layer_speedup_bf16_weights=probe.layer_speedup_bf16_weights)
    weights = stored_weights(dtype, requested, layer_speedup=probe.layer_speedup,
                             layer_speedup_bf16_weights=probe.layer_speedup_bf16_weights)
    return PrecisionChoice(**{**probe.to_dict(), "dtype": dtype, "reason": reason,
                              "requested": requested, "weights": weights})
