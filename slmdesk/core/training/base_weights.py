"""The frozen base body's weights held in bf16 while a bf16 run trains, fp32 for every figure.

Under ``torch.autocast`` with the base weights in fp32, every matrix product of the body casts
its weight to bf16 on every call (autocast caches the casts only of weights that require a
gradient, and the base is frozen): a read of the fp32 weights and a write of their bf16 copy
for each forward pass, and the products ran 1.8x fp32 where they run 3.4x with the weights
already in bf16 (the probe, :mod:`slmdesk.core.training.precision`, on a 2-core AVX-512 BF16
EPYC). The cast is round-to-nearest either way, so holding the weights in bf16 gives the very
products autocast computes, without the casts, and halves the body's memory.

What is cast: the frozen ``nn.Linear`` weights of the decoder body (the attention and MLP
projections, LoRA's base layers). What stays fp32: the LoRA weights (PEFT made them before the
cast), their gradients and the optimizer state; the embedding and the output layer (tied in most
small models, and the candidate loss runs the output layer in fp32); the norms (small, and their
scale matters).

The figures: what the run computes in fp32 from the base model (the candidate harvest and the
anchor targets, the perplexities before training) is computed before the cast, from the original
weights. :func:`restore_fp32` puts the original fp32 weights back before the evaluations after
training: read from the converted model's cache (:mod:`slmdesk.core.training.base_model`, the
file the model was loaded from), so the figures after are those of the fp32 weights exactly, not
of rounded ones, for the cost of reading the file (~0.5 s for the starter). A weight the cache
does not hold as it is in memory (no cache: a full disk when it was saved) is kept in memory in
fp32 instead: no memory saved on it, the figures still exact. An evaluation *during* training
(``eval_every``) runs the bf16 body under autocast: a progress figure for the chart.

Imports torch: only the training worker and the benchmarks use this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

_LORA_BASE = ".base_layer"


@dataclass
class BodyInBf16:
    """The body's linear layers whose weights were cast, and where their fp32 originals are."""

    modules: dict[str, nn.Linear] = field(default_factory=dict)  # checkpoint key -> layer
    sources: dict[str, Path] = field(default_factory=dict)  # key -> cache file holding it
    kept: dict[str, torch.Tensor] = field(default_factory=dict)  # key -> original, in memory
    restored: bool = False

    @property
    def cast_parameters(self) -> int:
        return sum(m.weight.numel() for m in self.modules.values())

    @property
    def saved_bytes(self) -> int:
        """Memory the cast freed: two bytes per weight, those kept in fp32 aside."""
        return sum(2 * m.weight.numel() for key, m in self.modules.items() if key not in self.kept)


def _base_model(model: nn.Module) -> Any:
    wrapped: Any = model
    return wrapped.get_base_model() if hasattr(wrapped, "get_base_model") else wrapped


def body_linears(model: nn.Module, dtype: torch.dtype | None = torch.float32
                 ) -> dict[str, nn.Linear]:
    """The frozen linear layers of the decoder body (whose weights are in ``dtype``, None: any),
    by the key of their weight in the model's saved file (LoRA's ``.base_layer`` taken out)."""
    base = _base_model(model)
    body = getattr(base, getattr(base, "base_model_prefix", "model"), None)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    embed = base.get_input_embeddings() if hasattr(base, "get_input_embeddings") else None
    shared = {id(m.weight) for m in (head, embed) if m is not None and hasattr(m, "weight")}
    if body is None:
        return {}
    inside = {id(m) for m in body.modules()}
    found: dict[str, nn.Linear] = {}
    for name, module in base.named_modules():
        if (type(module) is nn.Linear and id(module) in inside and id(module.weight) not in shared
                and not module.weight.requires_grad
                and (dtype is None or module.weight.dtype == dtype)):
            found[name.replace(_LORA_BASE, "") + ".weight"] = module
    return found


def _cache_files(cache: Path | None) -> dict[str, Path]:
    """Which of the cache's safetensors files holds each key."""
    if cache is None:
        return {}
    from safetensors import safe_open

    where: dict[str, Path] = {}
    for path in sorted(Path(cache).glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():
                    where.setdefault(key, path)
        except (OSError, ValueError, RuntimeError):  # unreadable: those weights stay in memory
            continue
    return where


def _same_in_file(path: Path, key: str, weight: torch.Tensor) -> bool:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            stored = handle.get_tensor(key)
    except (OSError, ValueError, RuntimeError):
        return False
    return stored.shape == weight.shape and bool(torch.equal(stored.float(), weight))


def store_body_in_bf16(model: nn.Module, cache: Path | None = None) -> BodyInBf16:
    """Cast the body's frozen linear weights to bf16, noting where their fp32 originals can be
    read back (``cache``: the converted model's folder); call after the fp32 figures of the base
    model are computed, and run every forward pass under bf16 autocast from then on."""
    where = _cache_files(cache)
    linears = body_linears(model)
    # One weight per file compared in full: a cache written by another conversion (a renamed
    # key, another dtype) must not stand in for the weights the model was loaded with.
    trusted: dict[Path, bool] = {}
    held = BodyInBf16()
    for key, module in linears.items():
        weight = module.weight.detach()
        path = where.get(key)
        if path is not None and path not in trusted:
            trusted[path] = _same_in_file(path, key, weight)
        if path is not None and trusted[path]:
            held.sources[key] = path
        else:
            held.kept[key] = weight
        held.modules[key] = module
        module.weight.data = weight.to(torch.bfloat16)
    _leave_the_file_mapping(model, held)
    return held


def _leave_the_file_mapping(model: nn.Module, held: BodyInBf16) -> None:
    """Copy the weights that stay fp32 (embedding, norms) out of the cache file's mapping.

    A model loaded from the cache is one private memory mapping of its safetensors file, every
    tensor a view into it, and the mapping lives while any view does: casting the body alone
    would add the bf16 copies and free nothing (measured on SmolLM2: resident 975 MB -> 1187 MB).
    With the few fp32 tensors left copied into memory of their own (the embedding: 28M of its
    135M weights), nothing holds the mapping and it goes."""
    cast = {id(m.weight) for m in held.modules.values()}
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            if id(tensor) in cast or tensor.requires_grad or not tensor.is_floating_point():
                continue
            tensor.data = tensor.data.clone()


def restore_fp32(held: BodyInBf16) -> None:
    """Put the original fp32 weights back (before the evaluations after training)."""
    from safetensors import safe_open

    if held.restored:
        return
    by_file: dict[Path, list[str]] = {}
    for key, path in held.sources.items():
        by_file.setdefault(path, []).append(key)
    with torch.no_grad():
        for path, keys in by_file.items():
            with safe_open(str(path), framework="pt") as handle:
                for key in keys:
                    held.modules[key].weight.data = handle.get_tensor(key).to(torch.float32)
        for key, weight in held.kept.items():
            held.modules[key].weight.data = weight
    held.kept = {}
    held.restored = True


def body_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the body's frozen linear weights (None: it has none)."""
    for module in body_linears(model, dtype=None).values():
        return module.weight.dtype
    return None
