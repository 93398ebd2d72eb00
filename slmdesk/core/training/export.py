"""Turn a PEFT LoRA adapter into a llama.cpp LoRA GGUF that changes the base model exactly as PEFT does.

A PEFT adapter folder (``adapter_config.json`` + ``adapter_model.safetensors``) holds, for every adapted
linear layer, ``lora_A`` (rank x in) and ``lora_B`` (out x rank). PEFT adds ``scale * B @ A @ x`` to the
layer's output; llama.cpp does the same with the tensors ``<gguf name>.weight.lora_a`` / ``.lora_b`` of
an adapter GGUF, but with its own ideas about three things, each reconciled here:

* **Names.** Hugging Face module names become llama.cpp tensor names through ``gguf``'s own name map
  (``model.layers.0.self_attn.q_proj`` -> ``blk.0.attn_q``).
* **Row order.** For the ``llama`` architecture (Llama, SmolLM, Mistral) llama.cpp's converter permutes
  the query and key rows of the base weights to suit its rotary embedding; the rows of ``lora_B`` for
  those layers must be permuted the same way or the adapter lands on the wrong dimensions.
* **Scale.** llama.cpp uses one ``adapter.lora.alpha`` and divides by each tensor's rank. PEFT may
  instead divide by the root of the rank (rsLoRA) and give single layers their own rank or alpha
  (``rank_pattern``, ``alpha_pattern``); whatever differs is folded into ``lora_B``.

Every tensor is checked against the shapes in the base GGUF before anything is written, so an adapter
meant for another model is refused with a message saying so instead of failing inside llama.cpp. The
file appears atomically: it is written next to its destination as ``.partial`` and renamed at the end.
Only numpy and ``gguf`` are used; safetensors are read directly, so this runs without torch.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from gguf import GGUFWriter
from gguf.constants import GGUFType, Keys

from slmdesk.core.errors import SlmdeskError
from slmdesk.core.gguf.info import GGUFError, read_model_info, read_tensor_shapes

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
# Architectures whose converter permutes query/key rows (convert_hf_to_gguf.py, LlamaModel.permute).
PERMUTED_ARCHITECTURES = frozenset({"llama"})
SUPPORTED_ARCHITECTURES = frozenset({"llama", "qwen2", "qwen3", "gemma3"})
# llama.cpp applies LoRA to these weights (through build_lora_mm); names without the ".weight".
_LINEAR_SUFFIXES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
# Initialisations that rewrite the base weights, so the adapter alone no longer fits the original model.
_BASE_CHANGING_INITS = ("pissa", "olora", "corda", "loftq")
_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16}
_LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>A|B)(?:\.[^.]+)?\.weight$")
_EMBEDDING_KEY = re.compile(r"\.lora_embedding_[AB]\b")


class ExportError(SlmdeskError):
    """The adapter cannot be exported; ``str(err)`` says why and what to do, ``detail`` holds specifics."""



@dataclass
class ExportReport:
    """What :func:`export_lora_gguf` wrote.

    Attributes:
        output_path: the finished adapter GGUF.
        tensor_count: tensors in the file, two per adapted layer.
        rank: the adapter's default rank (``r``); layers named in ``rank_pattern`` may differ.
        alpha: the ``adapter.lora.alpha`` written; per-layer differences are folded into ``lora_b``.
        architecture: the base model's architecture, which llama.cpp checks the adapter against.
        permuted: the GGUF weights whose ``lora_b`` rows were reordered for llama.cpp's rotary layout.
    """

    output_path: Path
    tensor_count: int
    rank: int
    alpha: float
    architecture: str
    permuted: list[str] = field(default_factory=list)


def export_lora_gguf(adapter_dir: Path, base_model_path: Path, output_path: Path, *,
                     name: str | None = None) -> ExportReport:
    """Write the PEFT LoRA adapter in ``adapter_dir`` as a llama.cpp adapter GGUF for ``base_model_path``.

    Raises:
        ExportError: the adapter is unreadable, uses a PEFT feature llama.cpp cannot reproduce (DoRA,
            LoRA on the embeddings, fully trained layers, ...), or does not fit the base model.
    """
    adapter_dir, base_model_path, output_path = Path(adapter_dir), Path(base_model_path), Path(output_path)
    config = _read_config(adapter_dir)
    pairs = _read_lora_pairs(adapter_dir / WEIGHTS_FILE)
    try:
        info = read_model_info(base_model_path)
        base_shapes = read_tensor_shapes(base_model_path)
    except GGUFError as exc:
        raise ExportError(f"Cannot use the base model: {exc}") from exc
    if info.is_adapter:
        raise ExportError(f'"{base_model_path.name}" is itself an adapter; choose the model it adapts.')
    architecture = info.architecture
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ExportError(f'Exporting adapters for "{architecture or "unknown"}" models is not supported yet '
                          f"(supported: {', '.join(sorted(SUPPORTED_ARCHITECTURES))}).")
    name_map = _tensor_name_map(architecture, info.block_count or 0)

    alpha = float(config.get("lora_alpha", 8))
    tensors: dict[str, np.ndarray] = {}
    permuted: list[str] = []
    for module in sorted(pairs, key=_natural_key):
        lora_a, lora_b = pairs[module]
        weight = _gguf_weight_name(module, name_map, base_shapes, info.block_count)
        if weight + ".lora_a" in tensors:
            raise ExportError("The adapter file is damaged: it adapts the same layer twice.", detail=weight)
        _check_shapes(module, weight, lora_a, lora_b, base_shapes[weight])
        rank = lora_a.shape[0]
        lora_b = lora_b * np.float32(_peft_scale(config, module, rank) / _llama_scale(alpha, rank))
        if architecture in PERMUTED_ARCHITECTURES and weight.endswith((".attn_q.weight", ".attn_k.weight")):
            heads = info.head_count if weight.endswith(".attn_q.weight") else info.head_count_kv
            lora_b = _permute_rows(lora_b, heads or 0, weight)
            permuted.append(weight)
        tensors[weight + ".lora_a"] = np.ascontiguousarray(lora_a, dtype=np.float32)
        tensors[weight + ".lora_b"] = np.ascontiguousarray(lora_b, dtype=np.float32)

    _write_gguf(output_path, architecture, alpha, name, tensors)
    return ExportReport(output_path=output_path, tensor_count=len(tensors), rank=int(config.get("r", 8)),
                        alpha=alpha, architecture=architecture, permuted=permuted)


# -- reading the adapter -------------------------------------------------------------------------------


def _read_config(adapter_dir: Path) -> dict[str, Any]:
    """The adapter's LoRA settings, refusing the PEFT features llama.cpp has no equivalent for."""
    path = adapter_dir / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f'"{adapter_dir}" is not a saved adapter: it has no {CONFIG_FILE}.') from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"The adapter's settings ({CONFIG_FILE}) cannot be read; save the adapter again.",
                          detail=str(exc)) from exc
    if not isinstance(config, dict) or config.get("peft_type", "LORA") != "LORA":
        kind = config.get("peft_type") if isinstance(config, dict) else None
        raise ExportError(f"Only LoRA adapters can be exported; this one is {kind or 'of an unknown kind'}.")
    refusals = [
        (config.get("use_dora"), "it uses DoRA, which llama.cpp cannot apply"),
        (config.get("modules_to_save"), "it holds fully trained layers (modules_to_save: "
                                        f"{', '.join(map(str, config.get('modules_to_save') or []))})"),
        (config.get("trainable_token_indices"), "it trains individual token embeddings"),
        (config.get("target_parameters"), "it adapts raw parameters (target_parameters), not layers"),
        (config.get("bias", "none") != "none" or config.get("lora_bias"), "it also trains biases"),
        (config.get("alora_invocation_tokens"), "it is an activated LoRA (aLoRA)"),
        (config.get("layer_replication"), "it duplicates layers (layer_replication)"),
        (isinstance(config.get("init_lora_weights"), str)
         and config["init_lora_weights"].lower().startswith(_BASE_CHANGING_INITS),
         f"its initialisation ({config.get('init_lora_weights')}) changed the base model's own weights"),
    ]
    reasons = [reason for present, reason in refusals if present]
    if reasons:
        raise ExportError("This adapter cannot be exported for llama.cpp: " + "; ".join(reasons) + ". "
                          "Train a plain LoRA adapter on the model's linear layers instead.")
    return config


def _read_lora_pairs(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(lora_A, lora_B) as float32 per adapted module, named as in the base model."""
    if not path.exists():
        hint = (" It was saved in PyTorch's older format (adapter_model.bin); save it again with "
                "safe_serialization=True." if path.with_name("adapter_model.bin").exists() else "")
        raise ExportError(f'The adapter folder "{path.parent}" has no {WEIGHTS_FILE}.{hint}')
    parts: dict[str, dict[str, np.ndarray]] = {}
    for key, array in _read_safetensors(path).items():
        if _EMBEDDING_KEY.search(key):
            raise ExportError("This adapter trains the token embeddings (embed_tokens), and exporting LoRA on "
                              "embeddings is not supported. Train it again targeting only linear layers "
                              "(q, k, v, o, gate, up, down projections).", detail=key)
        match = _LORA_KEY.match(key)
        if match is None:
            raise ExportError("This adapter holds weights that are not LoRA matrices, which llama.cpp cannot "
                              "apply as an adapter.", detail=key)
        if array.ndim != 2:
            raise ExportError("The adapter file is damaged: a LoRA matrix is not two-dimensional.",
                              detail=f"{key}: shape {list(array.shape)}")
        parts.setdefault(match["module"], {})[match["part"]] = array
    pairs = {}
    for module, found in parts.items():
        if set(found) != {"A", "B"} or found["A"].shape[0] != found["B"].shape[1]:
            raise ExportError("The adapter file is damaged: the two halves of a LoRA layer do not match.",
                              detail=f"{module}: {({part: list(a.shape) for part, a in found.items()})}")
        pairs[module] = (found["A"], found["B"])
    if not pairs:
        raise ExportError("The adapter file holds no LoRA weights; there is nothing to export.")
    return pairs


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor in a safetensors file as float32; bfloat16 too, which numpy cannot load itself."""
    try:
        with open(path, "rb") as stream:
            header_size = int.from_bytes(stream.read(8), "little")
            if not 0 < header_size <= os.fstat(stream.fileno()).st_size - 8:
                raise ValueError(f"impossible header length {header_size}")
            header = json.loads(stream.read(header_size))
            data = stream.read()
        arrays = {}
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            if entry["dtype"] not in _SAFETENSORS_DTYPES:
                raise ValueError(f"{key}: unsupported number format {entry['dtype']}")
            begin, end = entry["data_offsets"]
            raw = np.frombuffer(data[begin:end], dtype=_SAFETENSORS_DTYPES[entry["dtype"]])
            if entry["dtype"] == "BF16":  # bfloat16 is the top half of a float32
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            arrays[key] = raw.astype(np.float32).reshape(entry["shape"])
        return arrays
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"The adapter weights ({path.name}) cannot be read; the file may be damaged. "
                          "Save the adapter again.", detail=str(exc)) from exc


# -- fitting it to the base model ----------------------------------------------------------------------


def _tensor_name_map(architecture: str, block_count: int) -> gguf.TensorNameMap:
    arch = next(key for key, value in gguf.MODEL_ARCH_NAMES.items() if value == architecture)
    return gguf.get_tensor_name_map(arch, block_count)


def _natural_key(module: str) -> list[int | str]:
    """Sort layer 2 before layer 10, so the file lists tensors in model order."""
    return [int(part) if part.isdigit() else part for part in module.split(".")]


def _gguf_weight_name(module: str, name_map: gguf.TensorNameMap, base_shapes: dict[str, tuple[int, ...]],
                     block_count: int | None) -> str:
    """The base GGUF weight a PEFT module adapts, or an :class:`ExportError` saying why there is none."""
    hf_name = module
    for prefix, replacement in (("model.language_model.", "model."), ("language_model.", "")):
        if hf_name.startswith(prefix):  # the text model inside a multimodal checkpoint
            hf_name = replacement + hf_name[len(prefix):]
            break
    gguf_name = name_map.get_name(hf_name)
    if gguf_name is None:
        layer = re.search(r"\.layers\.(\d+)\.", hf_name)
        if layer and block_count is not None and int(layer[1]) >= block_count:
            raise ExportError(f"The adapter does not fit this model: it adapts layer {layer[1]}, but the model "
                              f"has only {block_count} layers. It was probably trained for a different model.",
                              detail=module)
        raise ExportError(f'The adapter changes "{module}", which SLM Desk cannot map onto the model; only '
                          "attention and feed-forward projections can be exported.", detail=module)
    if gguf_name == "token_embd":
        raise ExportError("This adapter trains the token embeddings (embed_tokens), and exporting LoRA on "
                          "embeddings is not supported. Train it again targeting only linear layers.",
                          detail=module)
    weight = gguf_name + ".weight"
    if gguf_name == "output":
        if weight not in base_shapes:
            raise ExportError("This adapter changes the output layer (lm_head), but this model shares that "
                              "layer with its token embeddings, so llama.cpp cannot apply it. Train it again "
                              "without lm_head.", detail=module)
    elif not gguf_name.endswith(_LINEAR_SUFFIXES):
        raise ExportError(f'The adapter changes "{module}" ({gguf_name}), which llama.cpp cannot adapt; only '
                          "attention and feed-forward projections can be exported.", detail=module)
    if weight not in base_shapes:
        raise ExportError(f"The adapter does not fit this model: the model has no {weight} for the adapter's "
                          f"{module}. It was probably trained for a different model.", detail=module)
    return weight


def _check_shapes(module: str, weight: str, lora_a: np.ndarray, lora_b: np.ndarray,
                  base_shape: tuple[int, ...]) -> None:
    adapted = (lora_b.shape[0], lora_a.shape[1])
    if tuple(base_shape) != adapted:
        raise ExportError(f"The adapter does not fit this model: its layer {module} is {adapted[0]}×{adapted[1]}, "
                          f"but the model's {weight} is {'×'.join(map(str, base_shape))}. The adapter was "
                          "probably trained for a different model; export it with the model it was trained on.",
                          detail=f"{module}: lora_A {list(lora_a.shape)}, lora_B {list(lora_b.shape)}; "
                                 f"{weight}: {list(base_shape)}")


def _pattern_value(patterns: dict[str, float] | None, module: str, default: float) -> float:
    """PEFT's per-layer override: the first pattern matching the end of the module name (peft get_pattern_key)."""
    for pattern, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return value
    return default


def _peft_scale(config: dict[str, Any], module: str, rank: int) -> float:
    """The factor PEFT multiplies this layer's B @ A by (LoraLayer.update_layer)."""
    alpha = _pattern_value(config.get("alpha_pattern"), module, config.get("lora_alpha", 8))
    return alpha / (math.sqrt(rank) if config.get("use_rslora") else rank)


def _llama_scale(alpha: float, rank: int) -> float:
    """The factor llama.cpp uses (llm_graph_context::build_lora_mm), before the user's adapter scale."""
    return alpha / rank if alpha else 1.0


def _permute_rows(rows: np.ndarray, head_count: int, weight: str) -> np.ndarray:
    """Reorder output rows into llama.cpp's rotary layout (convert_hf_to_gguf.py, LlamaModel.permute)."""
    if head_count <= 0 or rows.shape[0] % (2 * head_count):
        raise ExportError(f"The base model's attention heads do not divide {weight}; its header may be damaged.",
                          detail=f"{rows.shape[0]} rows, {head_count} heads")
    return (rows.reshape(head_count, 2, rows.shape[0] // head_count // 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


# -- writing -------------------------------------------------------------------------------------------


def _write_gguf(output_path: Path, architecture: str, alpha: float, name: str | None,
                tensors: dict[str, np.ndarray]) -> None:
    """Write the adapter beside ``output_path`` and move it into place only once it is complete."""
    partial = output_path.with_name(output_path.name + ".partial")
    try:
        output_path.parent.mkdir(parents=True, exist_ok=True)
        writer = GGUFWriter(partial, architecture)
        writer.add_type(GGUFType.ADAPTER)
        writer.add_string(Keys.Adapter.TYPE, "lora")
        writer.add_float32(Keys.Adapter.LORA_ALPHA, alpha)
        if name:
            writer.add_name(name)
        for tensor_name, values in tensors.items():
            writer.add_tensor(tensor_name, values)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(partial, output_path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f'Cannot write the adapter to "{output_path}": {exc.strerror or exc}. '
                          "Check that the folder exists, is writable and has free space.", detail=str(exc)) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
