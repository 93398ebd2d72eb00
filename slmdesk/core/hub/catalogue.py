"""Recommended small instruct models, with their GGUF files and what they need.

This is catalogue data written from the public Hub repositories as they were known when SLM
Desk was made, not read live: sizes are rounded, and the exact size and SHA-256 of a file are
always taken from the Hub at download time. The shape fields (layers, KV heads, head size,
vocabulary) feed the memory verdict before anything is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from slmdesk.core.library.memory import MemoryEstimate, estimate_memory_for_shape

_MB = 1000**2


@dataclass(frozen=True)
class CatalogueFile:
    """One quantization of a recommended model: a single GGUF file in a Hub repository."""

    repo_id: str
    filename: str
    quantization: str
    approx_size: int  # bytes, rounded; the Hub's figure is used for the download itself


@dataclass(frozen=True)
class CatalogueModel:
    """A recommended model: who made it, its license, its shape and its files."""

    key: str
    name: str
    parameters: str
    license: str
    summary: str
    block_count: int
    head_count_kv: int
    head_dim: int
    vocab_size: int
    context_length: int
    files: tuple[CatalogueFile, ...]

    def estimate(self, file: CatalogueFile, available_bytes: int | None = None,
                 context_length: int | None = None) -> MemoryEstimate:
        """The memory verdict for one of this model's files on this computer."""
        return estimate_memory_for_shape(
            file.approx_size, block_count=self.block_count, head_count_kv=self.head_count_kv,
            head_dim=self.head_dim, vocab_size=self.vocab_size,
            max_context_length=self.context_length, context_length=context_length,
            available_bytes=available_bytes)

    @property
    def recommended_file(self) -> CatalogueFile:
        """Q4_K_M when offered (the usual balance of size and quality), else the first file."""
        return next((f for f in self.files if f.quantization == "Q4_K_M"), self.files[0])


def _files(repo_id: str, pattern: str, sizes: dict[str, int]) -> tuple[CatalogueFile, ...]:
    """Files named by ``pattern`` with ``{q}`` (the quantization as the repo spells it)."""
    return tuple(CatalogueFile(repo_id, pattern.format(q=spelled), spelled.upper()
                               .replace("FP16", "F16"), size * _MB)
                 for spelled, size in sizes.items())


CATALOGUE: tuple[CatalogueModel, ...] = (
    CatalogueModel(
        "smollm2-360m", "SmolLM2 360M Instruct", "360M", "apache-2.0",
        "Hugging Face's tiny chat model: quick on any computer, for short simple tasks.",
        block_count=32, head_count_kv=5, head_dim=64, vocab_size=49152, context_length=8192,
        files=_files("HuggingFaceTB/SmolLM2-360M-Instruct-GGUF", "smollm2-360m-instruct-{q}.gguf",
                     {"q8_0": 386})
        + _files("bartowski/SmolLM2-360M-Instruct-GGUF", "SmolLM2-360M-Instruct-{q}.gguf",
                 {"Q4_K_M": 271, "Q6_K": 368})),
    CatalogueModel(
        "qwen2.5-0.5b", "Qwen2.5 0.5B Instruct", "0.5B", "apache-2.0",
        "Alibaba's smallest Qwen2.5: many languages, follows instructions well for its size.",
        block_count=24, head_count_kv=2, head_dim=64, vocab_size=151936, context_length=32768,
        files=_files("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-{q}.gguf",
                     {"q4_k_m": 491, "q5_k_m": 522, "q6_k": 650, "q8_0": 676, "fp16": 1270})),
    CatalogueModel(
        "qwen2.5-1.5b", "Qwen2.5 1.5B Instruct", "1.5B", "apache-2.0",
        "A capable small assistant: writing, summaries and simple code.",
        block_count=28, head_count_kv=2, head_dim=128, vocab_size=151936, context_length=32768,
        files=_files("Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-{q}.gguf",
                     {"q4_k_m": 1120, "q5_k_m": 1290, "q6_k": 1460, "q8_0": 1890})),
    CatalogueModel(
        "smollm2-1.7b", "SmolLM2 1.7B Instruct", "1.7B", "apache-2.0",
        "The largest SmolLM2: better answers, still light (English first).",
        block_count=24, head_count_kv=32, head_dim=64, vocab_size=49152, context_length=8192,
        files=_files("HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF", "smollm2-1.7b-instruct-{q}.gguf",
                     {"q4_k_m": 1060})
        + _files("bartowski/SmolLM2-1.7B-Instruct-GGUF", "SmolLM2-1.7B-Instruct-{q}.gguf",
                 {"Q6_K": 1410, "Q8_0": 1820})),
    CatalogueModel(
        "gemma-3-1b", "Gemma 3 1B IT", "1B", "gemma",
        "Google's small Gemma 3 chat model (Gemma terms of use apply).",
        block_count=26, head_count_kv=1, head_dim=256, vocab_size=262144, context_length=32768,
        files=_files("bartowski/google_gemma-3-1b-it-GGUF", "google_gemma-3-1b-it-{q}.gguf",
                     {"Q4_K_M": 806, "Q6_K": 1010, "Q8_0": 1070})),
    CatalogueModel(
        "llama-3.2-1b", "Llama 3.2 1B Instruct", "1B", "llama3.2",
        "Meta's small Llama (Llama 3.2 Community License): fast, good at following instructions.",
        block_count=16, head_count_kv=8, head_dim=64, vocab_size=128256, context_length=131072,
        files=_files("bartowski/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-{q}.gguf",
                     {"Q4_K_M": 808, "Q6_K": 1020, "Q8_0": 1320})),
    CatalogueModel(
        "qwen2.5-3b", "Qwen2.5 3B Instruct", "3B", "qwen-research",
        "Noticeably stronger than the 1.5B; the Qwen research license limits commercial use.",
        block_count=36, head_count_kv=2, head_dim=128, vocab_size=151936, context_length=32768,
        files=_files("Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct-{q}.gguf",
                     {"q4_k_m": 2100, "q5_k_m": 2440, "q8_0": 3620})),
    CatalogueModel(
        "llama-3.2-3b", "Llama 3.2 3B Instruct", "3B", "llama3.2",
        "Meta's 3B Llama: a good everyday assistant if the computer has 8 GB or more.",
        block_count=28, head_count_kv=8, head_dim=128, vocab_size=128256, context_length=131072,
        files=_files("bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-{q}.gguf",
                     {"Q4_K_M": 2020, "Q6_K": 2640, "Q8_0": 3420})),
    CatalogueModel(
        "phi-3.5-mini", "Phi-3.5 mini instruct", "3.8B", "mit",
        "Microsoft's Phi-3.5 mini: strong reasoning for its size, English first.",
        block_count=32, head_count_kv=32, head_dim=96, vocab_size=32064, context_length=131072,
        files=_files("bartowski/Phi-3.5-mini-instruct-GGUF", "Phi-3.5-mini-instruct-{q}.gguf",
                     {"Q4_K_M": 2390, "Q6_K": 3140, "Q8_0": 4060})),
)


def catalogue_model(key: str) -> CatalogueModel:
    """The catalogue entry with this key (KeyError when there is none)."""
    for model in CATALOGUE:
        if model.key == key:
            return model
    raise KeyError(key)
