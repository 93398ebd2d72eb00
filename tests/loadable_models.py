"""Write tiny GGUF models that really run, in llama.cpp and in transformers, for end-to-end tests.

``tests/gguf_factory.py`` makes files only a header reader can use. The files written here are whole
models in miniature (a few hundred KB): a working tokenizer, every metadata key the architecture needs
and random weights, so llama.cpp can load and run them and transformers can load them from the GGUF
(``from_pretrained(..., gguf_file=...)``) and train on them. Both must compute the same function, which
is what lets a test compare a PEFT adapter with its llama.cpp export logit by logit.

Two details matter for that agreement:

* llama.cpp's converter permutes the query and key rows of ``llama`` models for its rotary embedding,
  and transformers undoes that when it loads a llama GGUF; so the weights are drawn in Hugging Face
  order and written permuted, exactly as a real conversion would be.
* Gemma 3 scales attention by ``1/sqrt(head_dim)`` in llama.cpp and by ``query_pre_attn_scalar**-0.5``
  (256 unless the config says otherwise) in transformers; a GGUF cannot state the latter, so the tiny
  Gemma uses the real model's head size of 256.

Only numpy and ``gguf`` are needed to write a model; :func:`load_transformers_model` imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGUFWriter
from gguf.constants import GGMLQuantizationType, LlamaFileType, TokenType
from gguf.quants import quantize

ARCHITECTURES = ("llama", "qwen2", "gemma3")
CONTEXT_LENGTH = 256
RMS_EPS = 1e-6

# Merges shared by both tokenizer families; each result is also a vocabulary entry. "_" stands for
# the word-boundary marker, written "Ġ" by byte-level BPE and "▁" by sentencepiece.
_MERGES = [("_", "t"), ("h", "e"), ("_t", "he"), ("i", "n"), ("_", "a"), ("e", "r"), ("o", "n"),
           ("_", "s"), ("r", "e"), ("a", "t"), ("_", "w"), ("o", "r"), ("_", "c"), ("e", "n"),
           ("i", "s"), ("_", "o"), ("_", "b"), ("a", "n"), ("an", "d"), ("_", "and"), ("_", "m"),
           ("in", "g"), ("_", "f"), ("_", "p"), ("_", "in"), ("e", "s"), ("_", "d"), ("_", "l")]
_LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]


@dataclass(frozen=True)
class TinyShape:
    """The dimensions of one tiny model; every matrix row is a whole number of Q8_0 blocks (32)."""

    embedding: int
    head_count: int
    head_count_kv: int
    head_dim: int
    feed_forward: int
    block_count: int


SHAPES = {
    "llama": TinyShape(embedding=64, head_count=4, head_count_kv=2, head_dim=16, feed_forward=128, block_count=2),
    # qwen2 differs from llama in width on purpose, so an adapter for one visibly does not fit the other
    "qwen2": TinyShape(embedding=64, head_count=4, head_count_kv=2, head_dim=16, feed_forward=96, block_count=2),
    "gemma3": TinyShape(embedding=64, head_count=2, head_count_kv=1, head_dim=256, feed_forward=128,
                        block_count=2),
}


def llama_permute(rows: np.ndarray, head_count: int) -> np.ndarray:
    """Reorder query/key rows from Hugging Face's rotary layout to llama.cpp's, as its converter does."""
    return (rows.reshape(head_count, 2, rows.shape[0] // head_count // 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: every byte spelled as one printable character."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    characters, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            characters.append(256 + extra)
            extra += 1
    return {byte: chr(code) for byte, code in zip(printable, characters)}


def _add_byte_level_bpe(writer: GGUFWriter) -> int:
    """A Qwen-style tokenizer: the 256 byte symbols, merges over them, then the control tokens."""
    tokens = list(_bytes_to_unicode().values())
    merges = [(a.replace("_", "Ġ"), b.replace("_", "Ġ")) for a, b in _MERGES]
    tokens += [a + b for a, b in merges]
    types = [TokenType.NORMAL] * len(tokens)
    for special in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        tokens.append(special)
        types.append(TokenType.CONTROL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([f"{a} {b}" for a, b in merges])
    end_of_text = tokens.index("<|endoftext|>")
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_bos_token_id(end_of_text)
    writer.add_pad_token_id(end_of_text)
    writer.add_add_bos_token(False)
    writer.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                             "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    return len(tokens)


def _add_sentencepiece(writer: GGUFWriter, architecture: str) -> int:
    """A sentencepiece (BPE-mode) tokenizer: specials, the 256 byte fallbacks, then scored pieces."""
    if architecture == "gemma3":
        specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
        ids = {"pad": 0, "eos": 1, "bos": 2, "unk": 3}
    else:
        specials = ["<unk>", "<s>", "</s>"]
        ids = {"unk": 0, "bos": 1, "eos": 2}
    tokens = list(specials)
    types = [TokenType.UNKNOWN if token == "<unk>" else TokenType.CONTROL for token in specials]
    tokens += [f"<0x{byte:02X}>" for byte in range(256)]
    types += [TokenType.BYTE] * 256
    pieces = ["▁", *_LETTERS, *(a.replace("_", "▁") + b.replace("_", "▁") for a, b in _MERGES)]
    tokens += pieces
    types += [TokenType.NORMAL] * len(pieces)
    scores = [0.0] * (len(tokens) - len(pieces)) + [-float(rank) for rank in range(len(pieces))]
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(ids["bos"])
    writer.add_eos_token_id(ids["eos"])
    writer.add_unk_token_id(ids["unk"])
    if "pad" in ids:
        writer.add_pad_token_id(ids["pad"])
    writer.add_add_bos_token(True)
    writer.add_add_space_prefix(architecture != "gemma3")
    return len(tokens)


def _tensors(architecture: str, shape: TinyShape, vocab_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every weight in numpy (rows, columns) order, named as llama.cpp expects, q/k already permuted."""
    def matrix(rows: int, columns: int) -> np.ndarray:
        return (rng.standard_normal((rows, columns)) / np.sqrt(columns)).astype(np.float32)

    def norm(size: int) -> np.ndarray:
        # Gemma stores 1 + w (llama.cpp multiplies by the stored value, transformers by 1 + w)
        return (1.0 + 0.1 * rng.standard_normal(size)).astype(np.float32)

    embd, ffn = shape.embedding, shape.feed_forward
    q_rows, kv_rows = shape.head_count * shape.head_dim, shape.head_count_kv * shape.head_dim
    tensors = {"token_embd.weight": rng.standard_normal((vocab_size, embd)).astype(np.float32)}
    for block in range(shape.block_count):
        prefix = f"blk.{block}."
        q, k = matrix(q_rows, embd), matrix(kv_rows, embd)
        if architecture == "llama":
            q, k = llama_permute(q, shape.head_count), llama_permute(k, shape.head_count_kv)
        tensors |= {prefix + "attn_norm.weight": norm(embd), prefix + "attn_q.weight": q,
                    prefix + "attn_k.weight": k, prefix + "attn_v.weight": matrix(kv_rows, embd),
                    prefix + "attn_output.weight": matrix(embd, q_rows)}
        if architecture == "qwen2":
            tensors |= {prefix + f"attn_{x}.bias": (0.1 * rng.standard_normal(rows)).astype(np.float32)
                        for x, rows in (("q", q_rows), ("k", kv_rows), ("v", kv_rows))}
        if architecture == "gemma3":
            tensors |= {prefix + "attn_q_norm.weight": norm(shape.head_dim),
                        prefix + "attn_k_norm.weight": norm(shape.head_dim),
                        prefix + "post_attention_norm.weight": norm(embd),
                        prefix + "post_ffw_norm.weight": norm(embd)}
        tensors |= {prefix + "ffn_norm.weight": norm(embd), prefix + "ffn_gate.weight": matrix(ffn, embd),
                    prefix + "ffn_up.weight": matrix(ffn, embd), prefix + "ffn_down.weight": matrix(embd, ffn)}
    tensors["output_norm.weight"] = norm(embd)
    if architecture == "llama":  # llama keeps a separate output layer; the others tie it to the embeddings
        tensors["output.weight"] = matrix(vocab_size, embd)
    return tensors


def _add_hyperparameters(writer: GGUFWriter, architecture: str, shape: TinyShape, vocab_size: int) -> None:
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(shape.embedding)
    writer.add_block_count(shape.block_count)
    writer.add_feed_forward_length(shape.feed_forward)
    writer.add_head_count(shape.head_count)
    writer.add_head_count_kv(shape.head_count_kv)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_vocab_size(vocab_size)
    if architecture == "gemma3":
        writer.add_key_length(shape.head_dim)
        writer.add_value_length(shape.head_dim)
        writer.add_sliding_window(CONTEXT_LENGTH)  # tests use short prompts: the window never bites
        writer.add_rope_freq_base(1_000_000.0)
    else:
        writer.add_rope_dimension_count(shape.head_dim)
        writer.add_rope_freq_base(10_000.0 if architecture == "llama" else 1_000_000.0)


def write_loadable_model(path: Path, architecture: str = "llama", *, quantized: bool = False,
                         seed: int = 0, name: str | None = None) -> Path:
    """Write a tiny runnable ``architecture`` model to ``path``; 2-D weights are Q8_0 when ``quantized``."""
    if architecture not in SHAPES:
        raise ValueError(f"no tiny model for {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    shape = SHAPES[architecture]
    writer = GGUFWriter(path, architecture)
    writer.add_type("model")
    writer.add_name(name or f"Tiny {architecture}")
    writer.add_file_type(LlamaFileType.MOSTLY_Q8_0 if quantized else LlamaFileType.ALL_F32)
    if architecture == "qwen2":
        vocab_size = _add_byte_level_bpe(writer)
    else:
        vocab_size = _add_sentencepiece(writer, architecture)
    _add_hyperparameters(writer, architecture, shape, vocab_size)
    for tensor_name, values in _tensors(architecture, shape, vocab_size, np.random.default_rng(seed)).items():
        if quantized and values.ndim == 2:
            writer.add_tensor(tensor_name, quantize(values, GGMLQuantizationType.Q8_0),
                              raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(tensor_name, values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def load_transformers_model(path: Path):
    """The model at ``path`` as a float32 transformers model, dequantized so it can be trained."""
    import torch
    from transformers import AutoModelForCausalLM, GgufConfig

    return AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True))
