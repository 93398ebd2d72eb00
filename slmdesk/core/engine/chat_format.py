"""Which chat format a model speaks, and how to render a conversation in it.

A chat model only answers well when the conversation reaches it in the exact text layout it was
trained on. The choice runs in this order:

1. the format the user picked in Settings (an override always wins);
2. the template embedded in the GGUF file (``tokenizer.chat_template``), which is the model
   author's own statement of its format;
3. a rule based on the architecture (and, for the many models built on the Llama architecture,
   hints from the model name and tokenizer);
4. otherwise a clear :class:`UnknownChatFormat` error that tells the user what to do.

Format names follow the ones llama-cpp-python registers (``"gemma"``, ``"chatml"``,
``"llama-3"``, ...), but the prompts are rendered here by :func:`format_prompt` so that the text a
model is fine-tuned on and the text it is later chatted with are the same. This module never
imports llama_cpp (the GUI process loads it) and never imports Qt.

An embedded chat template is Jinja code from whoever made the model file, so it is untrusted
(CVE-2024-34359 was remote code execution through exactly this). :func:`render_chat_template`
renders it only inside Jinja's ``ImmutableSandboxedEnvironment``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Literal, Mapping

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from slmdesk.core.errors import SlmdeskError

#: llama-cpp-python's name for the template embedded in the model file.
EMBEDDED = "chat_template.default"

#: The formats SLM Desk renders itself, with the words shown to the user.
KNOWN_FORMATS: dict[str, str] = {
    "gemma": "Gemma turn format",
    "chatml": "ChatML format",
    "llama-3": "Llama 3 format",
    "llama-2": "Llama 2 [INST] format",
    "mistral-instruct": "Mistral [INST] format",
    "phi-3": "Phi-3 format",
    "zephyr": "Zephyr format",
}

_END_OF_TURN: dict[str, str] = {
    "gemma": "<end_of_turn>",
    "chatml": "<|im_end|>",
    "llama-3": "<|eot_id|>",
    "llama-2": "</s>",
    "mistral-instruct": "</s>",
    "phi-3": "<|end|>",
    "zephyr": "</s>",
}

# Architectures whose chat models share one format whatever their name.
_ARCHITECTURE_FORMATS: dict[str, str] = {
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3": "gemma",
    "gemma3n": "gemma",
    "qwen": "chatml",
    "qwen2": "chatml",
    "qwen2moe": "chatml",
    "qwen3": "chatml",
    "qwen3moe": "chatml",
    "smollm3": "chatml",
    "stablelm": "chatml",
    "internlm2": "chatml",
    "minicpm": "chatml",
    "phi3": "phi-3",
    "mistral": "mistral-instruct",
}

Source = Literal["override", "embedded", "architecture"]
Message = Mapping[str, Any]


class UnknownChatFormat(SlmdeskError, ValueError):
    """Neither the user, the model file nor its architecture tells how to talk to the model."""


class ChatTemplateError(SlmdeskError, ValueError):
    """An embedded chat template could not be rendered (broken, or refused by the sandbox)."""


@dataclass(frozen=True)
class ChatFormatChoice:
    """The chat format chosen for a model and why, for the chat header.

    Attributes:
        name: a key of :data:`KNOWN_FORMATS`, or :data:`EMBEDDED` for the model's own template.
        source: where the choice came from.
        description: one short sentence for the user, e.g. "Gemma turn format (from the
            architecture; the model file has no chat template)".
    """

    name: str
    source: Source
    description: str


def choose_chat_format(
    architecture: str,
    chat_template: str | None,
    model_name: str = "",
    override: str | None = None,
    tokenizer_pre: str | None = None,
) -> ChatFormatChoice:
    """Pick the chat format for a model.

    Args:
        architecture: ``general.architecture`` from the GGUF header, e.g. ``"gemma3"``.
        chat_template: ``tokenizer.chat_template`` from the header, or None when absent.
        model_name: any naming hint (``general.name``, the file name); used to tell apart the
            many families built on the Llama architecture.
        override: a format picked in Settings; None, "" or "auto" means no override, and
            :data:`EMBEDDED` forces the model's own template.
        tokenizer_pre: ``tokenizer.ggml.pre``; ``"llama-bpe"`` marks a Llama 3 vocabulary.

    Raises:
        UnknownChatFormat: when the override is not a format SLM Desk knows, or when nothing
            tells how to talk to the model.
    """
    has_template = bool(chat_template and chat_template.strip())
    override = (override or "").strip()
    if override and override != "auto":
        if override == EMBEDDED:
            if not has_template:
                raise UnknownChatFormat(
                    "Settings ask for the model's own chat template, but this model file has "
                    "none. Choose a chat format in Settings."
                )
            return ChatFormatChoice(
                EMBEDDED, "override", "The model's own chat template (chosen in Settings)"
            )
        if override not in KNOWN_FORMATS:
            raise UnknownChatFormat(
                f"The chat format '{override}' chosen in Settings is not one SLM Desk knows. "
                f"Choose one of: {', '.join(KNOWN_FORMATS)}."
            )
        return ChatFormatChoice(
            override, "override", f"{KNOWN_FORMATS[override]} (chosen in Settings)"
        )

    if has_template:
        return ChatFormatChoice(
            EMBEDDED, "embedded", "The model's own chat template (stored in the model file)"
        )

    arch = (architecture or "").strip().lower()
    name = _format_from_architecture(arch, model_name, tokenizer_pre)
    if name is None:
        raise UnknownChatFormat(
            f"SLM Desk does not know how to talk to a '{architecture or 'unknown'}' model. "
            "Choose a chat format in Settings."
        )
    return ChatFormatChoice(
        name,
        "architecture",
        f"{KNOWN_FORMATS[name]} (from the architecture '{arch}'; "
        "the model file has no chat template)",
    )


def _format_from_architecture(arch: str, model_name: str, tokenizer_pre: str | None) -> str | None:
    if arch in _ARCHITECTURE_FORMATS:
        return _ARCHITECTURE_FORMATS[arch]
    if arch != "llama":
        return None
    # The Llama architecture carries many families with different formats; the name and the
    # vocabulary are the only hints left when the file has no template.
    hint = model_name.lower().replace("_", "-")
    squashed = hint.replace(" ", "-")
    if tokenizer_pre == "llama-bpe" or any(k in squashed for k in ("llama-3", "llama3")):
        return "llama-3"
    if "mistral" in hint or "mixtral" in hint:
        return "mistral-instruct"
    if "tinyllama" in squashed:
        return "zephyr"
    if any(k in squashed for k in ("llama-2", "llama2")):
        return "llama-2"
    # SmolLM, SmolLM2 and most small community Llama-architecture chat models use ChatML.
    return "chatml"


def end_of_turn_text(name: str) -> str:
    """The text that closes a turn in format ``name`` (a stop string for generation)."""
    try:
        return _END_OF_TURN[name]
    except KeyError:
        raise UnknownChatFormat(f"SLM Desk has no end-of-turn marker for '{name}'.") from None


def format_prompt(
    name: str, messages: Iterable[Message], add_generation_prompt: bool = True
) -> str:
    """Render ``messages`` as the prompt text of format ``name``.

    The result does not start with the beginning-of-sequence token: the tokenizer adds it, as it
    does for training text. With ``add_generation_prompt`` the text ends with the opening of
    the assistant's turn, ready for the model to continue; without it (training data) the text
    ends after the last message.

    Raises:
        UnknownChatFormat: for a name outside :data:`KNOWN_FORMATS`.
        ValueError: for a message with an unknown role.
    """
    msgs = [_checked(m) for m in messages]
    if name not in KNOWN_FORMATS:
        raise UnknownChatFormat(f"SLM Desk cannot render the chat format '{name}'.")
    if name in ("gemma", "mistral-instruct"):
        msgs = _merge_system_into_first_user(msgs, lambda system: system + "\n\n")
    elif name == "llama-2":
        msgs = _merge_system_into_first_user(
            msgs, lambda system: f"<<SYS>>\n{system}\n<</SYS>>\n\n"
        )
    return _RENDERERS[name](msgs, add_generation_prompt)


def _checked(message: Message) -> tuple[str, str]:
    role, content = message.get("role"), message.get("content")
    if role not in ("system", "user", "assistant"):
        raise ValueError(f"unknown message role {role!r}")
    return role, "" if content is None else str(content)


def _merge_system_into_first_user(
    msgs: list[tuple[str, str]], prefix: Callable[[str], str]
) -> list[tuple[str, str]]:
    """Formats without a system role get the system prompt in front of the first user turn."""
    system = "\n\n".join(c for r, c in msgs if r == "system" and c)
    rest = [(r, c) for r, c in msgs if r != "system"]
    if not system:
        return rest
    for i, (role, content) in enumerate(rest):
        if role == "user":
            rest[i] = (role, prefix(system) + content)
            return rest
    return [("user", prefix(system).rstrip())] + rest


def _gemma(msgs: list[tuple[str, str]], gen: bool) -> str:
    # Matches Gemma 3's template: role "assistant" is called "model", content is trimmed.
    out = "".join(
        f"<start_of_turn>{'model' if r == 'assistant' else r}\n{c.strip()}<end_of_turn>\n"
        for r, c in msgs
    )
    return out + ("<start_of_turn>model\n" if gen else "")


def _chatml(msgs: list[tuple[str, str]], gen: bool) -> str:
    out = "".join(f"<|im_start|>{r}\n{c}<|im_end|>\n" for r, c in msgs)
    return out + ("<|im_start|>assistant\n" if gen else "")


def _llama3(msgs: list[tuple[str, str]], gen: bool) -> str:
    out = "".join(
        f"<|start_header_id|>{r}<|end_header_id|>\n\n{c.strip()}<|eot_id|>" for r, c in msgs
    )
    return out + ("<|start_header_id|>assistant<|end_header_id|>\n\n" if gen else "")


def _mistral(msgs: list[tuple[str, str]], gen: bool) -> str:
    # Mistral's template: [INST] user [/INST]reply</s>, with one <s> for the whole text (added
    # by the tokenizer). The open [/INST] is itself the generation prompt.
    return "".join(
        f"[INST] {c} [/INST]" if r == "user" else f"{c}</s>" for r, c in msgs
    )


def _llama2(msgs: list[tuple[str, str]], gen: bool) -> str:
    # Llama 2's template: every exchange is its own sequence, <s>[INST] user [/INST] reply </s>;
    # the tokenizer adds only the first <s>.
    out = ""
    for role, content in msgs:
        if role == "user":
            out += ("<s>" if out else "") + f"[INST] {content.strip()} [/INST]"
        else:
            out += f" {content.strip()} </s>"
    return out


def _phi3(msgs: list[tuple[str, str]], gen: bool) -> str:
    out = "".join(f"<|{r}|>\n{c}<|end|>\n" for r, c in msgs)
    return out + ("<|assistant|>\n" if gen else "")


def _zephyr(msgs: list[tuple[str, str]], gen: bool) -> str:
    out = "".join(f"<|{r}|>\n{c}</s>\n" for r, c in msgs)
    return out + ("<|assistant|>\n" if gen else "")


_RENDERERS = {
    "gemma": _gemma,
    "chatml": _chatml,
    "llama-3": _llama3,
    "llama-2": _llama2,
    "mistral-instruct": _mistral,
    "phi-3": _phi3,
    "zephyr": _zephyr,
}


class _IgnoreGenerationTags(jinja2.ext.Extension):
    """Accepts Hugging Face's ``{% generation %}`` marker (used for training masks)."""

    tags = {"generation"}

    def parse(self, parser: Any) -> Any:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                      separators=separators, sort_keys=sort_keys)


def render_chat_template(
    template: str,
    messages: Iterable[Message],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render an embedded (untrusted) chat template inside Jinja's immutable sandbox.

    The environment mirrors what Hugging Face transformers and llama-cpp-python give chat
    templates (``trim_blocks``, ``lstrip_blocks``, loop controls, ``tojson``,
    ``raise_exception``, ``strftime_now``), so well-behaved templates render identically, while
    attribute tricks that reach Python internals are refused.

    Raises:
        ChatTemplateError: when the template is broken, raises on purpose, or tries something
            the sandbox forbids.
    """
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_IgnoreGenerationTags, jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = _tojson
    try:
        compiled = env.from_string(template)
        return compiled.render(
            messages=[dict(m) for m in messages],
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
            raise_exception=_raise_exception,
            strftime_now=lambda fmt: datetime.now().strftime(fmt),
        )
    except ChatTemplateError:
        raise
    except jinja2.exceptions.SecurityError as exc:
        raise ChatTemplateError(
            "The model's chat template tried something unsafe and was stopped. "
            "Choose a chat format in Settings."
        ) from exc
    except Exception as exc:  # TemplateError, or a Python error raised inside the template
        raise ChatTemplateError(
            f"The model's chat template could not be used ({exc}). "
            "Choose a chat format in Settings."
        ) from exc
