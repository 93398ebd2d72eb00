"""Names people read, from a model file's header: "SmolLM2 135M Instruct", not
"Smollm2 135M 8k Lc100K Mix1 Ep2".

``general.name`` is whatever the converter wrote, often a training run's label. The parts
llama.cpp's converter writes separately say more: ``general.basename`` ("smollm2"),
``general.size_label`` ("135M") and ``general.finetune`` ("instruct"). The name is built from
them; a fine-tune label that is no word a person would use ("8k-lc100k-mix1-ep2") counts as
odd metadata, and then the file name says it better ("SmolLM2-135M-Instruct.Q4_1.gguf").
The spelling of the base name is taken from wherever it is written with capitals (the file
name, ``general.name``), so "SmolLM2" keeps its case.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: Fine-tune labels a person reads as the kind of model, and how they are written.
_FINETUNE_WORDS = {"instruct": "Instruct", "chat": "Chat", "it": "IT", "base": "Base",
                   "sft": "SFT", "dpo": "DPO", "rlhf": "RLHF", "coder": "Coder",
                   "code": "Code", "math": "Math", "vision": "Vision", "reasoning": "Reasoning"}
#: A quantization suffix in a file name: "-q4_k_m", ".Q4_1", "-IQ3_XS", "-f16", ".bf16".
_QUANT_SUFFIX = re.compile(r"[-_.](?:i?q\d[\w]*|f16|f32|bf16|fp16)$", re.IGNORECASE)
#: Words that mark a chat (instruction-tuned) model in its names.
CHAT_WORDS = frozenset({"instruct", "chat", "it", "sft", "dpo", "rlhf", "assistant"})


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def file_stem(path: Path) -> str:
    """"SmolLM2-135M-Instruct.Q4_1.gguf" -> "SmolLM2-135M-Instruct"."""
    stem = path.name.removesuffix(".gguf").removesuffix(".GGUF")
    while True:
        shorter = _QUANT_SUFFIX.sub("", stem)
        if shorter == stem or not shorter:
            return stem
        stem = shorter


def file_name_words(path: Path) -> str:
    """"SmolLM2-135M-Instruct.Q4_1.gguf" -> "SmolLM2 135M Instruct"."""
    return " ".join(part for part in re.split(r"[-_ ]+", file_stem(path)) if part)


def _spelled(words: str, *sources: str) -> str:
    """``words`` as one of ``sources`` spells it with capitals, else in title case."""
    pattern = re.compile(r"[-_ ]*".join(re.escape(word) for word in words.split()),
                         re.IGNORECASE)
    for source in sources:
        found = pattern.search(source)
        if found and found.group(0) != found.group(0).lower():
            return " ".join(part for part in re.split(r"[-_ ]+", found.group(0)) if part)
    return " ".join(word if any(c.isupper() for c in word) else word.capitalize()
                    for word in words.split())


def readable_model_name(metadata: dict[str, Any], path: Path) -> str:
    """The model's name as a person would write it (see the module notes)."""
    general_name = _text(metadata.get("general.name"))
    basename = _text(metadata.get("general.basename")).replace("-", " ").replace("_", " ")
    size = _text(metadata.get("general.size_label"))
    finetune = _text(metadata.get("general.finetune")).lower()
    from_file = file_name_words(path)
    if not basename:  # nothing to build from: the converter's name, else the file's own
        return general_name or file_stem(path) or path.stem
    odd = bool(finetune) and finetune not in _FINETUNE_WORDS
    if odd and basename.replace(" ", "").lower() in from_file.replace(" ", "").lower():
        return from_file
    words = [_spelled(basename, from_file, general_name)]
    if size and size.lower() not in words[0].lower():
        words.append(size.upper() if size[:-1].replace(".", "").isdigit() else size)
    if finetune and not odd:
        words.append(_FINETUNE_WORDS[finetune])
    return " ".join(words)


def looks_like_chat_model(metadata: dict[str, Any], path: Path, has_chat_template: bool) -> bool:
    """Instruction-tuned (it answers) rather than base (it continues text)?

    A chat template is the surest sign; without one, the names say "instruct", "chat" or "it".
    """
    if has_chat_template:
        return True
    names = " ".join([_text(metadata.get("general.finetune")), _text(metadata.get("general.name")),
                      file_name_words(path)]).lower()
    return bool(CHAT_WORDS & set(re.split(r"[^a-z0-9]+", names)))
