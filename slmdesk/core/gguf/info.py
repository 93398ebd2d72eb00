"""Read what a GGUF file says about itself, quickly and without trusting it.

``gguf.GGUFReader`` parses every vocabulary string (13 s on the starter model), allocates whatever a
header claims and fails with bare numpy errors on damaged files. The model library calls this reader
on every file a user drops in, so it walks the header itself (:mod:`slmdesk.core.gguf._header`):
arrays we do not need are skipped by their lengths, and every count or length is checked against
the bytes left in the file *before* anything is allocated or looped over. Any problem becomes one
:class:`GGUFError` whose message a non-programmer can act on. This module turns the checked header
into a :class:`ModelInfo` and is the one other code imports. The format is described in ggml's
``docs/gguf.md``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gguf.constants import Keys, LlamaFileType

from slmdesk.core.gguf._header import (
    BYTE_UNITS,
    UNLOADED_TEXT,
    GGUFError,
    HeaderParser,
    TensorEntry,
    read_header,
    shown,
)

# GGUFError is raised by the header walk but caught by callers as part of this module's interface.
from slmdesk.core.gguf._names import looks_like_chat_model, readable_model_name
from slmdesk.core.gguf.architectures import LLAMA_CPP_PYTHON_VERSION, LOADABLE_ARCHITECTURES

__all__ = ["GGUFError", "ModelInfo", "format_bytes", "format_parameter_count", "read_model_info",
           "read_tensor_shapes"]

#: What each mark of the library means, in one sentence.
MODEL_TYPE_SENTENCES = {
    "chat": "A chat model (instruction-tuned): it answers questions and follows instructions.",
    "base": "A base model: it continues the text it is given rather than answering; write the "
            "start of a text in the Notebook, or fine-tune it on your documents.",
    "adapter": "A LoRA adapter: what a fine-tuning taught a base model, used on top of it.",
}
_INFO_SCHEMA_VERSION = 1  # bump when ModelInfo fields change so cached copies are re-read


@dataclass(frozen=True)
class ModelInfo:
    """Everything the app shows or decides about a GGUF file without loading its weights."""

    path: Path
    file_size: int
    gguf_version: int
    kind: str
    display_name: str
    architecture: str
    parameter_count: int
    quantization: str
    context_length: int | None
    block_count: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    value_length: int | None
    sliding_window: int | None
    chat_template: str | None
    license: str | None
    adapter_type: str | None
    lora_alpha: float | None
    tensor_count: int
    tensor_bytes: int
    vocab_size: int | None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, repr=False)

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template)

    @property
    def is_chat_model(self) -> bool:
        """Instruction-tuned: it answers questions. Otherwise a *base* model, which continues
        the text it is given (a notebook, not a chat)."""
        return not self.is_adapter and looks_like_chat_model(self.metadata, self.path,
                                                             self.has_chat_template)

    @property
    def model_type_sentence(self) -> str:
        """One sentence on what the chat/base mark means, for tooltips and the details pane."""
        return MODEL_TYPE_SENTENCES[self.model_type_label]

    @property
    def model_type_label(self) -> str:
        """"chat" or "base" (adapters: "adapter")."""
        return "adapter" if self.is_adapter else ("chat" if self.is_chat_model else "base")

    @property
    def is_adapter(self) -> bool:
        return self.kind == "adapter"

    @property
    def not_loadable_reason(self) -> str | None:
        """Why llama.cpp would refuse this file, as a sentence; None when it can load it.

        A readable header is not enough: llama.cpp builds a model only for an architecture it
        knows (:data:`~slmdesk.core.gguf.architectures.LOADABLE_ARCHITECTURES`), and attaches
        only LoRA adapters that name their base model's architecture. The library refuses files
        with a reason; ``slmdesk models info`` shows it.
        """
        return _not_loadable_reason(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy, so the library can cache headers instead of re-reading files."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["schema_version"] = _INFO_SCHEMA_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        """Rebuild from :meth:`to_dict`; raises ValueError for a cache written by another version."""
        if data.get("schema_version", _INFO_SCHEMA_VERSION) != _INFO_SCHEMA_VERSION:
            raise ValueError("cached model info was written by a different version of SLM Desk")
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["path"] = Path(values["path"])
        info = cls(**values)
        # Names are made by this version's rules, also for headers cached by an older one.
        return replace(info, display_name=_display_name(info.metadata, info.path, info.is_adapter))

    def header_fields(self) -> list[tuple[str, str]]:
        """(label, value) rows for the details pane; rows the file says nothing about are left out."""
        kind = ("LoRA adapter" if self.adapter_type == "lora" else "Adapter") if self.is_adapter else "Model"
        rows = [
            ("Name", self.display_name), ("Kind", kind), ("Type", self.model_type_sentence),
            ("Architecture", self.architecture or "unknown"),
            ("Parameters", format_parameter_count(self.parameter_count)), ("Quantization", self.quantization),
            ("Context length", _thousands(self.context_length)), ("Layers", _thousands(self.block_count)),
            ("Embedding length", _thousands(self.embedding_length)),
            ("Attention heads", _thousands(self.head_count)), ("Key/value heads", _thousands(self.head_count_kv)),
            ("Sliding window", _thousands(self.sliding_window)), ("Vocabulary", _thousands(self.vocab_size)),
            ("Adapter type", self.adapter_type),
            ("LoRA alpha", None if self.lora_alpha is None else f"{self.lora_alpha:g}"),
            ("Tensors", _thousands(self.tensor_count)), ("File size", format_bytes(self.file_size)),
            ("Chat template", "embedded" if self.has_chat_template else "none"),
            ("License", self.license or "not stated"), ("GGUF version", str(self.gguf_version)),
        ]
        return [(label, value) for label, value in rows if value is not None]


def format_parameter_count(n: int) -> str:
    """268_098_176 -> "268 M", 1_240_000_000 -> "1.24 B": three significant digits, like model cards."""
    return _three_significant(n, [(10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")], "")


def format_bytes(n: int) -> str:
    """253_000_000 -> "253 MB", in decimal units as file managers show sizes."""
    return _three_significant(n, BYTE_UNITS, "bytes")


def _three_significant(n: int, units: list[tuple[int, str]], base_unit: str) -> str:
    rounded = float(f"{n:.3g}")  # round first so 999_700 becomes "1 M", not "1000 K"
    for scale, unit in units:
        if rounded >= scale:
            return f"{rounded / scale:.3g} {unit}"
    return f"{n} {base_unit}".rstrip()


def _thousands(value: int | None) -> str | None:
    return None if value is None else f"{value:,}"


def read_model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Read the header of the GGUF file at ``path``; raises :class:`GGUFError` for anything invalid."""
    return read_header(Path(path), _parse_model_info)


def read_tensor_shapes(path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    """The name and numpy-order shape (rows, columns) of every tensor in the GGUF file at ``path``.

    GGUF lists dimensions row length first; they are reversed here so they compare directly with the
    numpy or torch arrays written into, or trained against, the file. Raises :class:`GGUFError` like
    :func:`read_model_info`, after the same checks.
    """
    def shapes(parser: HeaderParser) -> dict[str, tuple[int, ...]]:
        _, _, tensors = parser.parse_header()
        return {tensor.name: tensor.dims[::-1] for tensor in tensors}

    return read_header(Path(path), shapes)


#: Architectures llama.cpp runs only as encoders (embeddings, reranking): they load but cannot
#: generate text. ``slmdesk models scan`` once picked the app's own MiniLM (bert) as a model.
EMBEDDING_ARCHITECTURES = frozenset({
    "bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "modern-bert",
    "neo-bert", "eurobert", "t5encoder", "gemma-embedding", "llama-embed"})


def _not_loadable_reason(info: ModelInfo) -> str | None:
    name, what = f'"{info.path.name}"', "adapter" if info.is_adapter else "model"
    architecture = shown(info.architecture)
    if info.architecture == "clip":
        return (f"{name} is not a loadable model: it is the picture part (mmproj) of a model that "
                "reads images, not a language model of its own.")
    if not info.architecture:
        named = "the architecture of the model it adapts" if info.is_adapter else "which model architecture it is"
        return (f"{name} is not a loadable {what}: its header does not say {named} "
                "(general.architecture is missing), so llama.cpp cannot load it.")
    if info.architecture not in LOADABLE_ARCHITECTURES:
        kind = f'an adapter for "{architecture}" models' if info.is_adapter else f'a "{architecture}" model'
        return (f"{name} is not a loadable {what}: it is {kind}, an architecture the llama.cpp in this "
                f"SLM Desk (llama-cpp-python {LLAMA_CPP_PYTHON_VERSION}) cannot run.")
    if not info.is_adapter and info.architecture in EMBEDDING_ARCHITECTURES:
        return (f"{name} is an embedding model ({architecture}): it turns text into numbers for "
                "search and cannot write replies, so it cannot be chatted with or fine-tuned. "
                "SLM Desk brings its own for searching your documents.")
    if info.is_adapter and info.adapter_type != "lora":
        stated = f'of type "{shown(info.adapter_type)}"' if info.adapter_type else "of no stated type"
        return (f"{name} is not a loadable adapter: llama.cpp uses only LoRA adapters, and this one is "
                f"{stated} (adapter.type).")
    return None


def _parse_model_info(parser: HeaderParser) -> ModelInfo:
    metadata, array_lengths, tensors = parser.parse_header()
    return _build_model_info(parser.path, parser.file_size, parser.version, metadata, array_lengths, tensors)


def _int_or_none(value: Any) -> int | None:
    """Metadata numbers must be real integers; per-layer lists (short ones) count as their largest."""
    if isinstance(value, list) and value and all(type(v) is int for v in value):
        value = max(value)
    return value if type(value) is int and value > 0 else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value != UNLOADED_TEXT else None


def _display_name(metadata: dict[str, Any], path: Path, is_adapter: bool) -> str:
    if is_adapter:  # our own exports name the adapter and its base in general.name
        return (_str_or_none(metadata.get(Keys.General.NAME))
                or _str_or_none(metadata.get(Keys.General.BASENAME)) or path.stem)
    return readable_model_name(metadata, path)


def _quantization_name(metadata: dict[str, Any], tensors: list[TensorEntry]) -> str:
    """The file type the converter declared, else whichever tensor format holds most of the bytes."""
    file_type = metadata.get(Keys.General.FILE_TYPE)
    if type(file_type) is int and file_type in LlamaFileType._value2member_map_:
        declared = LlamaFileType(file_type)
        if declared != LlamaFileType.GUESSED:
            return declared.name.removeprefix("MOSTLY_").removeprefix("ALL_")
    bytes_by_type: Counter[str] = Counter()
    for tensor in tensors:
        bytes_by_type[tensor.type_name] += tensor.nbytes
    return bytes_by_type.most_common(1)[0][0] if bytes_by_type else "unknown"


def _build_model_info(path: Path, file_size: int, version: int, metadata: dict[str, Any],
                      array_lengths: dict[str, int], tensors: list[TensorEntry]) -> ModelInfo:
    architecture = _str_or_none(metadata.get(Keys.General.ARCHITECTURE)) or ""

    def arch_int(key_template: str) -> int | None:
        return _int_or_none(metadata.get(key_template.format(arch=architecture)))

    adapter_type = _str_or_none(metadata.get(Keys.Adapter.TYPE))
    is_adapter = metadata.get(Keys.General.TYPE) == "adapter" or Keys.Adapter.TYPE in metadata
    embedding_length = arch_int(Keys.LLM.EMBEDDING_LENGTH)
    head_count = arch_int(Keys.Attention.HEAD_COUNT)
    per_head = embedding_length // head_count if embedding_length and head_count else None
    lora_alpha: Any = metadata.get(Keys.Adapter.LORA_ALPHA)
    vocab_size = array_lengths.get(Keys.Tokenizer.LIST)
    return ModelInfo(
        path=path,
        file_size=file_size,
        gguf_version=version,
        kind="adapter" if is_adapter else "model",
        display_name=_display_name(metadata, path, is_adapter),
        architecture=architecture,
        parameter_count=sum(tensor.elements for tensor in tensors),
        quantization=_quantization_name(metadata, tensors),
        context_length=arch_int(Keys.LLM.CONTEXT_LENGTH),
        block_count=arch_int(Keys.LLM.BLOCK_COUNT),
        embedding_length=embedding_length,
        head_count=head_count,
        head_count_kv=arch_int(Keys.Attention.HEAD_COUNT_KV) or head_count,
        key_length=arch_int(Keys.Attention.KEY_LENGTH) or per_head,
        value_length=arch_int(Keys.Attention.VALUE_LENGTH) or per_head,
        sliding_window=arch_int(Keys.Attention.SLIDING_WINDOW),
        chat_template=_str_or_none(metadata.get(Keys.Tokenizer.CHAT_TEMPLATE)),
        license=_str_or_none(metadata.get(Keys.General.LICENSE)),
        adapter_type=adapter_type,
        lora_alpha=float(lora_alpha) if type(lora_alpha) in (int, float) else None,
        tensor_count=len(tensors),
        tensor_bytes=sum(tensor.nbytes for tensor in tensors),
        vocab_size=vocab_size if type(vocab_size) is int else None,
        metadata=metadata,
    )
