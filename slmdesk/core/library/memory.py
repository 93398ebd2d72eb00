"""Will this model fit? Memory a model needs at a context length against the RAM available.

llama.cpp memory-maps the weights and allocates a KV cache for the whole context up front, plus
compute buffers. We estimate the three from the GGUF header alone, so the verdict is shown in the
library before anything is loaded, and a model that cannot fit is refused with the numbers rather
than taking the machine into swap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import psutil

from slmdesk.core.gguf.info import ModelInfo, format_bytes

#: Context length used for the library's verdict when the user has not chosen one.
DEFAULT_CONTEXT_LENGTH = 4096
#: Bytes per KV-cache element: llama.cpp keeps the cache in f16 by default.
KV_BYTES_PER_ELEMENT = 2
#: Fixed cost of the runtime itself and its scratch buffers, measured loosely on the starter.
RUNTIME_OVERHEAD_BYTES = 150 * 1024**2
#: Below this share of available RAM a model fits comfortably; up to all of it is "tight".
COMFORTABLE_SHARE = 0.7


class Verdict(enum.Enum):
    FITS = "fits"
    TIGHT = "tight"
    WILL_NOT_FIT = "will not fit"

    @property
    def label(self) -> str:
        return {"fits": "Fits", "tight": "Tight", "will not fit": "Will not fit"}[self.value]


@dataclass(frozen=True)
class MemoryEstimate:
    """What a model needs at one context length, and how that compares with free RAM."""

    context_length: int
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    available_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes

    @property
    def verdict(self) -> Verdict:
        if self.total_bytes <= self.available_bytes * COMFORTABLE_SHARE:
            return Verdict.FITS
        if self.total_bytes <= self.available_bytes:
            return Verdict.TIGHT
        return Verdict.WILL_NOT_FIT

    def summary(self) -> str:
        """A short line for tables: "546 MB at 4,096 tokens: fits (24.7 GB free)"."""
        return (f"{format_bytes(self.total_bytes)} at {self.context_length:,} tokens: "
                f"{self.verdict.label.lower()} ({format_bytes(self.available_bytes)} free)")

    def explain(self) -> str:
        """One sentence with the numbers, for tooltips and refusal messages."""
        return (f"Needs about {format_bytes(self.total_bytes)} at a context of "
                f"{self.context_length} tokens (weights {format_bytes(self.weights_bytes)}, "
                f"KV cache {format_bytes(self.kv_cache_bytes)}, buffers "
                f"{format_bytes(self.compute_bytes)}); {format_bytes(self.available_bytes)} "
                f"of memory is available: {self.verdict.label.lower()}.")


def available_memory_bytes() -> int:
    """RAM that can be used without pushing other programs into swap."""
    return int(psutil.virtual_memory().available)


def kv_cache_bytes(info: ModelInfo, context_length: int) -> int:
    """Keys and values for every layer and KV head over the whole context (f16)."""
    head_dim_k = info.key_length or 0
    return _kv_bytes(info.block_count or 0, info.head_count_kv or info.head_count or 0,
                     head_dim_k, info.value_length or head_dim_k, context_length)


def _kv_bytes(layers: int, kv_heads: int, head_dim_k: int, head_dim_v: int,
              context_length: int) -> int:
    return layers * context_length * kv_heads * (head_dim_k + head_dim_v) * KV_BYTES_PER_ELEMENT


def compute_buffer_bytes(info: ModelInfo) -> int:
    """Logits for a 512-token batch plus the runtime's fixed overhead."""
    return _compute_bytes(info.vocab_size)


def _compute_bytes(vocab_size: int | None) -> int:
    return RUNTIME_OVERHEAD_BYTES + (vocab_size or 32000) * 512 * 4 // 8


def estimate_memory_for_shape(weights_bytes: int, *, block_count: int | None,
                              head_count_kv: int | None, head_dim: int | None,
                              vocab_size: int | None, max_context_length: int | None,
                              context_length: int | None = None,
                              available_bytes: int | None = None) -> MemoryEstimate:
    """The same estimate for a model not downloaded yet: the file size stands for the weights
    and the shape comes from a catalogue rather than the header. Unknown shape fields count as
    zero, so a file listed without them gets a lower bound (weights and buffers only)."""
    wanted = context_length or DEFAULT_CONTEXT_LENGTH
    if max_context_length:
        wanted = min(wanted, max_context_length)
    return MemoryEstimate(
        context_length=wanted,
        weights_bytes=weights_bytes,
        kv_cache_bytes=_kv_bytes(block_count or 0, head_count_kv or 0, head_dim or 0,
                                 head_dim or 0, wanted),
        compute_bytes=_compute_bytes(vocab_size),
        available_bytes=available_memory_bytes() if available_bytes is None else available_bytes,
    )


def estimate_memory(info: ModelInfo, context_length: int | None = None,
                    available_bytes: int | None = None) -> MemoryEstimate:
    """Estimate memory for ``info`` at ``context_length`` (capped by the model's own maximum)."""
    wanted = context_length or DEFAULT_CONTEXT_LENGTH
    if info.context_length:
        wanted = min(wanted, info.context_length)
    return MemoryEstimate(
        context_length=wanted,
        weights_bytes=info.tensor_bytes,
        kv_cache_bytes=kv_cache_bytes(info, wanted) if info.kind == "model" else 0,
        compute_bytes=compute_buffer_bytes(info) if info.kind == "model" else 0,
        available_bytes=available_memory_bytes() if available_bytes is None else available_bytes,
    )
