"""Write tiny but valid GGUF files (a few KB) for tests, with the ``gguf`` package's own writer.

Import it as a module: ``from tests.gguf_factory import write_tiny_model, write_tiny_adapter``.
That works because ``tests/`` and ``tests/core/`` are packages (they hold ``__init__.py``), so pytest's
default "prepend" import mode puts the repository root on ``sys.path``. Keep new test folders that
import this module packages too.

Shapes are chosen so every field a reader reports is known in advance; the ``TINY_*`` constants and
:func:`tiny_model_parameter_count` give tests the expected values instead of repeating the numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter
from gguf.constants import GGMLQuantizationType, Keys, LlamaFileType
from gguf.quants import quantize

TINY_EMBEDDING_LENGTH = 32  # one Q8_0 block per row, so quantised rows stay valid
TINY_HEAD_COUNT = 4
TINY_HEAD_COUNT_KV = 2
TINY_BLOCK_COUNT = 1
TINY_FEED_FORWARD_LENGTH = 32
TINY_CONTEXT_LENGTH = 256
TINY_SLIDING_WINDOW = 64  # only written for gemma3, which has sliding-window attention
TINY_LORA_RANK = 4
# More than 16 tokens on purpose: a reader must skip long arrays, not keep them.
TINY_VOCAB = ["<unk>", "<s>", "</s>"] + [f"tok{i}" for i in range(21)]
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
ARCHITECTURES = ("llama", "qwen2", "gemma3")


def _tiny_tensor_shapes() -> dict[str, tuple[int, ...]]:
    """numpy shapes (rows, columns) of every tensor; GGUF stores them reversed."""
    embd, ffn, kv = TINY_EMBEDDING_LENGTH, TINY_FEED_FORWARD_LENGTH, TINY_EMBEDDING_LENGTH // TINY_HEAD_COUNT
    shapes: dict[str, tuple[int, ...]] = {"token_embd.weight": (len(TINY_VOCAB), embd)}
    for block in range(TINY_BLOCK_COUNT):
        shapes |= {
            f"blk.{block}.attn_norm.weight": (embd,),
            f"blk.{block}.attn_q.weight": (embd, embd),
            f"blk.{block}.attn_k.weight": (kv * TINY_HEAD_COUNT_KV, embd),
            f"blk.{block}.attn_v.weight": (kv * TINY_HEAD_COUNT_KV, embd),
            f"blk.{block}.attn_output.weight": (embd, embd),
            f"blk.{block}.ffn_norm.weight": (embd,),
            f"blk.{block}.ffn_up.weight": (ffn, embd),
            f"blk.{block}.ffn_down.weight": (embd, ffn),
        }
    shapes["output_norm.weight"] = (embd,)
    return shapes


def tiny_model_parameter_count() -> int:
    return sum(int(np.prod(shape)) for shape in _tiny_tensor_shapes().values())


def tiny_model_tensor_count() -> int:
    return len(_tiny_tensor_shapes())


def _writer(path: Path, architecture: str | None) -> GGUFWriter:
    """A writer for ``architecture``; None leaves ``general.architecture`` out (the writer always adds it)."""
    writer = GGUFWriter(path, architecture or "llama")
    if architecture is None:
        del writer.kv_data[0][Keys.General.ARCHITECTURE]
    return writer


def write_tiny_model(
    path: Path,
    *,
    architecture: str | None = "llama",
    name: str | None = "Tiny Test Model",
    quantized: bool = False,
    declare_file_type: bool = True,
    chat_template: str | None = None,
    license: str | None = "apache-2.0",
    with_vocab: bool = True,
) -> Path:
    """Write a model whose 2-D weights are Q8_0 when ``quantized``; norms always stay F32 as in real files.

    ``declare_file_type=False`` leaves out ``general.file_type`` so a reader must infer the quantisation
    from the tensors. ``architecture=None`` writes a header without ``general.architecture``, a file
    llama.cpp cannot load.
    """
    rng = np.random.default_rng(0)
    writer = _writer(path, architecture)
    writer.add_type("model")
    if name is not None:
        writer.add_name(name)
    if license is not None:
        writer.add_license(license)
    writer.add_context_length(TINY_CONTEXT_LENGTH)
    writer.add_embedding_length(TINY_EMBEDDING_LENGTH)
    writer.add_block_count(TINY_BLOCK_COUNT)
    writer.add_feed_forward_length(TINY_FEED_FORWARD_LENGTH)
    writer.add_head_count(TINY_HEAD_COUNT)
    writer.add_head_count_kv(TINY_HEAD_COUNT_KV)
    if architecture == "gemma3":
        writer.add_sliding_window(TINY_SLIDING_WINDOW)
    if declare_file_type:
        writer.add_file_type(LlamaFileType.MOSTLY_Q8_0 if quantized else LlamaFileType.ALL_F32)
    if with_vocab:
        writer.add_tokenizer_model("llama")
        writer.add_token_list(TINY_VOCAB)
        writer.add_token_scores([0.0] * len(TINY_VOCAB))
        writer.add_token_types([1] * len(TINY_VOCAB))
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    for tensor_name, shape in _tiny_tensor_shapes().items():
        values = rng.standard_normal(shape).astype(np.float32)
        if quantized and len(shape) == 2:
            writer.add_tensor(tensor_name, quantize(values, GGMLQuantizationType.Q8_0),
                              raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(tensor_name, values)
    _finish(writer)
    return path


def write_tiny_adapter(path: Path, *, architecture: str | None = "llama", lora_alpha: float = 16.0) -> Path:
    """Write a LoRA adapter for :func:`write_tiny_model`, as llama.cpp's convert_lora_to_gguf does."""
    rng = np.random.default_rng(1)
    writer = _writer(path, architecture)
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", lora_alpha)
    for tensor_name, shape in _tiny_adapter_shapes().items():
        writer.add_tensor(tensor_name, rng.standard_normal(shape).astype(np.float32))
    _finish(writer)
    return path


def write_smollm2_lora(path: Path, *, rank: int = 4, spread: float = 0.05, name: str | None = None) -> Path:
    """A LoRA on every ffn_down of the SmolLM2 135M starter (1536 -> 576) with small random
    weights: an adapter that loads on the real starter and changes its replies, in a second and
    without training (what a test of the path needs; what it learnt does not matter)."""
    rng = np.random.default_rng(0)
    writer = GGUFWriter(str(path), arch="llama")
    writer.add_type("adapter")
    if name is not None:
        writer.add_name(name)
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    for block in range(30):
        writer.add_tensor(f"blk.{block}.ffn_down.weight.lora_a", rng.normal(0, spread, (rank, 1536)).astype(np.float32))
        writer.add_tensor(f"blk.{block}.ffn_down.weight.lora_b", rng.normal(0, spread, (576, rank)).astype(np.float32))
    _finish(writer)
    return path


def _tiny_adapter_shapes() -> dict[str, tuple[int, ...]]:
    """LoRA pairs for the attention query and value weights: A is (rank, in), B is (out, rank)."""
    shapes = {}
    for base, (rows, *columns) in _tiny_tensor_shapes().items():
        if base.endswith((".attn_q.weight", ".attn_v.weight")):
            shapes[f"{base}.lora_a"] = (TINY_LORA_RANK, *columns)
            shapes[f"{base}.lora_b"] = (rows, TINY_LORA_RANK)
    return shapes


def tiny_adapter_parameter_count() -> int:
    return sum(int(np.prod(shape)) for shape in _tiny_adapter_shapes().values())


def tiny_adapter_tensor_count() -> int:
    return len(_tiny_adapter_shapes())


def _finish(writer: GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
