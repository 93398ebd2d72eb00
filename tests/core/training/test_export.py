"""PEFT LoRA -> llama.cpp adapter export, proved end to end on tiny real models.

Each case trains a real PEFT adapter on a tiny GGUF model loaded by transformers, exports it, runs the
base model plus the exported adapter in llama.cpp (llama-cpp-python) and compares the last position's
logits with PEFT's. The KV cache is kept in float32 so that, for float32 bases, the two libraries agree
to about 1e-5 of the logit scale and any export mistake (a missing permute, a wrong scale) shows at once.
The measured differences are recorded as test properties (``--junitxml`` shows them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

from slmdesk.core.gguf.info import read_model_info, read_tensor_shapes
from slmdesk.core.training.export import ExportError, export_lora_gguf
from tests.gguf_factory import write_tiny_model
from tests.loadable_models import ARCHITECTURES, SHAPES, load_transformers_model, write_loadable_model

# PEFT calls a transformers method that transformers 5 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")

PROMPT = [1, 40, 100, 200, 150, 33, 270, 7, 64, 12]
GGML_TYPE_F32 = 0
F32_TOLERANCE = 1e-3  # of the largest logit; measured errors are 1e-6 (llama) to 3e-5 (gemma3's GELU)
Q8_TOLERANCE = 0.03  # llama.cpp also rounds activations to 8 bits on a Q8_0 model; measured up to 1%


@dataclass
class TrainedAdapter:
    base: Path
    adapter: Path
    base_logits: np.ndarray  # transformers, without the adapter
    peft_logits: np.ndarray  # transformers with the PEFT adapter


def train_adapter(folder: Path, architecture: str, *, quantized: bool = False, steps: int = 2,
                  **lora_options) -> TrainedAdapter:
    """A PEFT LoRA adapter on a tiny model: random non-zero B (so it changes the output), a few steps of training."""
    import torch
    from peft import LoraConfig, get_peft_model

    folder.mkdir(parents=True, exist_ok=True)
    base = write_loadable_model(folder / f"{architecture}.gguf", architecture, quantized=quantized)
    torch.manual_seed(0)
    model = load_transformers_model(base).eval()
    prompt = torch.tensor([PROMPT])
    with torch.no_grad():
        base_logits = model(prompt).logits[0, -1].numpy()
    options = {"r": 4, "lora_alpha": 8, "target_modules": "all-linear"} | lora_options
    peft_model = get_peft_model(model, LoraConfig(init_lora_weights=False, **options))
    if steps:
        optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-2)
        batch = torch.randint(3, 250, (2, 12), generator=torch.Generator().manual_seed(1))
        peft_model.train()
        for _ in range(steps):
            peft_model(input_ids=batch, labels=batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        peft_model.eval()
    with torch.no_grad():
        peft_logits = peft_model(prompt).logits[0, -1].numpy()
    adapter = folder / "adapter"
    peft_model.save_pretrained(adapter, save_embedding_layers=False)
    return TrainedAdapter(base, adapter, base_logits, peft_logits)


def llama_cpp_logits(model: Path, lora: Path | None = None) -> np.ndarray:
    """The last prompt position's logits from llama.cpp, with ``lora`` applied at scale 1."""
    from slmdesk.core.engine.cpu_backend import import_llama_cpp

    Llama = import_llama_cpp()[0].Llama

    llm = Llama(str(model), lora_path=str(lora) if lora else None, n_ctx=32, n_threads=2, logits_all=True,
                verbose=False, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    try:
        llm.eval(PROMPT)
        return np.array(llm.scores[len(PROMPT) - 1], dtype=np.float32)
    finally:
        llm.close()


def assert_llama_cpp_matches_peft(trained: TrainedAdapter, lora: Path, tolerance: float,
                                  record_property) -> float:
    """llama.cpp with ``lora`` gives PEFT's logits, and clearly not the base model's; returns the max difference."""
    adapted, base = llama_cpp_logits(trained.base, lora), llama_cpp_logits(trained.base)
    scale = float(np.abs(trained.peft_logits).max())
    difference = float(np.abs(adapted - trained.peft_logits).max())
    record_property("max_logit_difference", difference)
    record_property("logit_scale", scale)
    assert float(np.abs(trained.peft_logits - trained.base_logits).max()) > 0.1 * scale, "adapter changes too little"
    assert float(np.abs(adapted - base).max()) > 0.1 * scale, "llama.cpp ignored the adapter"
    assert difference < tolerance * scale
    return difference


def export(trained: TrainedAdapter, **kwargs):
    return export_lora_gguf(trained.adapter, trained.base, trained.adapter.parent / "adapter.gguf", **kwargs)


@pytest.fixture(scope="module")
def llama_adapter(tmp_path_factory: pytest.TempPathFactory) -> TrainedAdapter:
    """One float32 llama adapter on all linear layers, shared by the tests that only need some adapter."""
    return train_adapter(tmp_path_factory.mktemp("llama-adapter"), "llama")


# -- the tiny models themselves ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("quantized", [False, True], ids=["f32", "q8_0"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_tiny_models_compute_the_same_in_transformers_and_llama_cpp(tmp_path, architecture, quantized,
                                                                     record_property):
    """The ground every other test stands on: both libraries load the model and agree on its logits."""
    import torch

    from slmdesk.core.engine.cpu_backend import import_llama_cpp

    Llama = import_llama_cpp()[0].Llama
    from transformers import AutoTokenizer

    base = write_loadable_model(tmp_path / "model.gguf", architecture, quantized=quantized)
    with torch.no_grad():
        expected = load_transformers_model(base)(torch.tensor([PROMPT])).logits[0, -1].numpy()
    difference = float(np.abs(llama_cpp_logits(base) - expected).max())
    record_property("max_logit_difference", difference)
    assert difference < (Q8_TOLERANCE if quantized else F32_TOLERANCE) * np.abs(expected).max()

    text = "the cat and the dog sing in the park"
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path), gguf_file=base.name)
    llm = Llama(str(base), vocab_only=True, verbose=False)
    try:
        add_bos = architecture != "qwen2"
        assert tokenizer(text)["input_ids"] == llm.tokenize(text.encode(), add_bos=add_bos)
    finally:
        llm.close()


def test_read_tensor_shapes_gives_numpy_order(tmp_path):
    shape = SHAPES["llama"]
    shapes = read_tensor_shapes(write_loadable_model(tmp_path / "m.gguf", "llama", quantized=True))
    assert shapes["blk.0.ffn_down.weight"] == (shape.embedding, shape.feed_forward)
    assert shapes["blk.1.attn_k.weight"] == (shape.head_count_kv * shape.head_dim, shape.embedding)
    assert shapes["output_norm.weight"] == (shape.embedding,)


# -- exports that must reproduce PEFT ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_export_reproduces_peft_in_llama_cpp(tmp_path, architecture, record_property):
    trained = train_adapter(tmp_path, architecture)
    report = export(trained, name="My adapter")

    assert_llama_cpp_matches_peft(trained, report.output_path, F32_TOLERANCE, record_property)
    shape, layers = SHAPES[architecture], SHAPES[architecture].block_count
    assert (report.tensor_count, report.rank, report.alpha, report.architecture) == (2 * 7 * layers, 4, 8.0,
                                                                                   architecture)
    assert not report.output_path.with_name("adapter.gguf.partial").exists()
    info = read_model_info(report.output_path)
    assert (info.kind, info.adapter_type, info.lora_alpha, info.architecture, info.display_name) == (
        "adapter", "lora", 8.0, architecture, "My adapter")
    shapes = read_tensor_shapes(report.output_path)
    assert shapes["blk.0.ffn_down.weight.lora_a"] == (4, shape.feed_forward)
    assert shapes["blk.0.ffn_down.weight.lora_b"] == (shape.embedding, 4)
    permuted = {f"blk.{i}.attn_{x}.weight" for i in range(layers) for x in "qk"}
    assert set(report.permuted) == (permuted if architecture == "llama" else set())


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_export_reproduces_peft_on_a_quantized_base(tmp_path, architecture, record_property):
    """PEFT trains on the dequantized Q8_0 weights; llama.cpp applies the adapter to the Q8_0 model."""
    trained = train_adapter(tmp_path, architecture, quantized=True)
    report = export(trained)
    difference = assert_llama_cpp_matches_peft(trained, report.output_path, Q8_TOLERANCE, record_property)
    assert difference < 0.1 * np.abs(trained.peft_logits - trained.base_logits).max()


def _unpermute(rows: np.ndarray, head_count: int) -> np.ndarray:
    """The inverse of llama.cpp's q/k permute (what transformers applies when loading a llama GGUF)."""
    return (rows.reshape(head_count, rows.shape[0] // head_count // 2, 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


def _rewrite_without_permute(exported: Path, target: Path) -> None:
    """Copy an exported llama adapter with the q/k lora_b rows put back in Hugging Face order."""
    shape, reader = SHAPES["llama"], GGUFReader(exported)
    writer = GGUFWriter(target, "llama")
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(reader.fields["adapter.lora.alpha"].contents()))
    for tensor in reader.tensors:
        values = np.array(tensor.data, dtype=np.float32)
        if tensor.name.endswith("attn_q.weight.lora_b"):
            values = _unpermute(values, shape.head_count)
        elif tensor.name.endswith("attn_k.weight.lora_b"):
            values = _unpermute(values, shape.head_count_kv)
        writer.add_tensor(tensor.name, values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.slow
def test_llama_query_and_key_rows_must_be_permuted(llama_adapter, record_property):
    """Without llama.cpp's rotary row order the q/k adapters land on the wrong dimensions."""
    report = export(llama_adapter)
    unpermuted = report.output_path.with_name("unpermuted.gguf")
    _rewrite_without_permute(report.output_path, unpermuted)

    assert_llama_cpp_matches_peft(llama_adapter, report.output_path, F32_TOLERANCE, record_property)
    wrong = float(np.abs(llama_cpp_logits(llama_adapter.base, unpermuted) - llama_adapter.peft_logits).max())
    record_property("max_logit_difference_without_permute", wrong)
    assert wrong > 100 * F32_TOLERANCE * np.abs(llama_adapter.peft_logits).max()


@pytest.mark.slow
def test_rslora_scale_is_folded_into_lora_b(tmp_path, record_property):
    trained = train_adapter(tmp_path, "llama", r=8, lora_alpha=16, use_rslora=True)
    report = export(trained)
    assert report.alpha == 16.0  # llama.cpp divides by r; the sqrt(r) of rsLoRA lives in lora_b
    assert_llama_cpp_matches_peft(trained, report.output_path, F32_TOLERANCE, record_property)


@pytest.mark.slow
def test_rank_and_alpha_patterns_are_folded_into_lora_b(tmp_path, record_property):
    trained = train_adapter(tmp_path, "qwen2", r=4, lora_alpha=8,
                            rank_pattern={"q_proj": 8, "down_proj": 2},
                            alpha_pattern={"v_proj": 32, "model.layers.1.mlp.up_proj": 3})
    report = export(trained)
    shapes = read_tensor_shapes(report.output_path)
    assert shapes["blk.1.attn_q.weight.lora_a"][0] == 8 and shapes["blk.0.ffn_down.weight.lora_b"][1] == 2
    assert_llama_cpp_matches_peft(trained, report.output_path, F32_TOLERANCE, record_property)


@pytest.mark.slow
def test_lm_head_adapter_works_when_the_model_has_its_own_output_layer(tmp_path, record_property):
    trained = train_adapter(tmp_path, "llama", target_modules=["q_proj", "v_proj", "lm_head"])
    report = export(trained)
    assert "output.weight.lora_b" in read_tensor_shapes(report.output_path)
    assert_llama_cpp_matches_peft(trained, report.output_path, F32_TOLERANCE, record_property)


def test_bfloat16_adapter_exports_the_same_tensors(tmp_path, llama_adapter):
    """Adapters trained in bfloat16 are saved that way; numpy cannot read bfloat16, the exporter must."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    bf16_dir = tmp_path / "bf16"
    bf16_dir.mkdir()
    shutil.copy(llama_adapter.adapter / "adapter_config.json", bf16_dir)
    weights = load_file(llama_adapter.adapter / "adapter_model.safetensors")
    save_file({key: value.to(torch.bfloat16) for key, value in weights.items()}, bf16_dir / "adapter_model.safetensors")

    reference = GGUFReader(export(llama_adapter).output_path).tensors
    converted = {t.name: t.data for t in GGUFReader(export_lora_gguf(bf16_dir, llama_adapter.base,
                                                                     tmp_path / "bf16.gguf").output_path).tensors}
    assert [t.name for t in reference] == list(converted)
    for tensor in reference:
        np.testing.assert_allclose(converted[tensor.name], tensor.data, rtol=1e-2, atol=1e-6)


# -- refusals ------------------------------------------------------------------------------------------


def _assert_nothing_written(output: Path) -> None:
    assert not output.exists()
    assert not output.with_name(output.name + ".partial").exists()


@pytest.mark.parametrize("other_architecture", ["qwen2", "gemma3"])
def test_adapter_trained_for_another_model_is_refused(tmp_path, llama_adapter, other_architecture):
    other_base = write_loadable_model(tmp_path / "other.gguf", other_architecture)
    output = tmp_path / "out.gguf"
    with pytest.raises(ExportError, match="does not fit this model") as error:
        export_lora_gguf(llama_adapter.adapter, other_base, output)
    assert "trained for a different model" in str(error.value)
    _assert_nothing_written(output)


def test_embedding_lora_is_refused(tmp_path):
    trained = train_adapter(tmp_path, "llama", steps=0, target_modules=["embed_tokens", "q_proj"])
    output = tmp_path / "out.gguf"
    with pytest.raises(ExportError, match="embeddings is not supported"):
        export_lora_gguf(trained.adapter, trained.base, output)
    _assert_nothing_written(output)


@pytest.mark.filterwarnings("ignore:Model has `tie_word_embeddings=True`:UserWarning")  # the very case tested
def test_lm_head_adapter_on_a_model_with_tied_embeddings_is_refused(tmp_path):
    trained = train_adapter(tmp_path, "qwen2", steps=0, target_modules=["q_proj", "lm_head"])
    with pytest.raises(ExportError, match="shares that layer with its token embeddings"):
        export(trained)


@pytest.mark.parametrize(("options", "reason"), [
    ({"use_dora": True}, "DoRA"),
    ({"modules_to_save": ["lm_head"]}, "fully trained layers"),
])
def test_peft_features_llama_cpp_cannot_apply_are_refused(tmp_path, options, reason):
    trained = train_adapter(tmp_path, "llama", steps=0, target_modules=["q_proj"], **options)
    output = tmp_path / "out.gguf"
    with pytest.raises(ExportError, match=reason):
        export_lora_gguf(trained.adapter, trained.base, output)
    _assert_nothing_written(output)


def test_unsupported_base_architecture_is_refused(tmp_path, llama_adapter):
    base = write_tiny_model(tmp_path / "phi.gguf", architecture="phi3")
    with pytest.raises(ExportError, match='"phi3" models is not supported yet'):
        export_lora_gguf(llama_adapter.adapter, base, tmp_path / "out.gguf")


def test_adapter_as_base_and_missing_files_are_refused(tmp_path, llama_adapter):
    exported = export(llama_adapter).output_path
    with pytest.raises(ExportError, match="is itself an adapter"):
        export_lora_gguf(llama_adapter.adapter, exported, tmp_path / "out.gguf")
    with pytest.raises(ExportError, match="Cannot use the base model"):
        export_lora_gguf(llama_adapter.adapter, tmp_path / "missing.gguf", tmp_path / "out.gguf")
    with pytest.raises(ExportError, match="no adapter_config.json"):
        export_lora_gguf(tmp_path, llama_adapter.base, tmp_path / "out.gguf")
