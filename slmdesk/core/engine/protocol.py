"""The JSON-lines protocol between SLM Desk and its engine process.

One message is one JSON object on one line (UTF-8, ``\\n`` terminated), with a ``"type"`` and an
``"id"``. The client sends requests on the host's stdin; the host answers with events on its
stdout, each echoing the ``id`` of the request it belongs to (``ready`` has ``id`` null).

Requests and what they produce::

    load {model_path, adapters, n_ctx, n_threads, chat_format}  -> loaded | error
    unload {}                                                    -> unloaded
    set_adapters {adapters}                                      -> adapters_set | error
    chat {messages, params}                                      -> token* then done | error
    complete {prompt, params}                                    -> token* then done | error
    cancel {}      (id = the chat or completion to stop; no event of its own, it ends "cancelled")
    shutdown {}                                                  -> the host exits

``set_adapters`` replaces the whole adapter list ({path, scale} each) of the loaded model without
reloading the base model: llama.cpp (``llama_set_adapters_lora``) can apply any set of LoRA
adapters with any scales to a live context, so changing a scale, adding or removing an adapter is
cheap. Scale 0 keeps an adapter loaded but switches it off.

``complete`` continues raw text (a base model's notebook): no chat format, the model's BOS
added as llama.cpp adds it by default. A prompt longer than the context keeps its last part (the
text nearest the cursor is what the continuation depends on) and ``done.truncated_tokens`` says
how many tokens of its beginning were left out.

Both sides use this module: the plain-Python client (``client.py``), the Qt wrapper in the GUI
and the host. It imports neither Qt nor llama_cpp.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional, cast

from slmdesk.core.errors import SlmdeskError

PROTOCOL_VERSION = 1


class ProtocolError(SlmdeskError, ValueError):
    """A line that is not a valid protocol message."""


@dataclass
class AdapterSpec:
    """One LoRA adapter and the strength it is applied with (1.0 = as trained)."""

    path: str
    scale: float = 1.0


@dataclass
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass
class ChatParams:
    """Sampling settings; temperature 0 means always the most likely token (repeatable)."""

    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.1
    #: bench/loop_bench.py: at 0.5 and 0.3 the base starter's replies to 30 prompts looped 19
    #: times instead of 24 (the instruct starter's: 0 either way); bench/penalty_check.py: the
    #: tuned models' answers to their notes' questions hold with them (README, "Replies that
    #: loop").
    presence_penalty: float = 0.5
    frequency_penalty: float = 0.3
    max_tokens: int = 512
    seed: Optional[int] = None
    stop: list[str] = field(default_factory=list)


# --- requests (client -> host) ---------------------------------------------------------------


@dataclass
class LoadRequest:
    TYPE: ClassVar[str] = "load"
    id: str
    model_path: str
    adapters: list[AdapterSpec] = field(default_factory=list)
    n_ctx: int = 4096
    n_threads: Optional[int] = None
    chat_format: Optional[str] = None  # override from Settings; None = choose automatically


@dataclass
class UnloadRequest:
    TYPE: ClassVar[str] = "unload"
    id: str


@dataclass
class SetAdaptersRequest:
    TYPE: ClassVar[str] = "set_adapters"
    id: str
    adapters: list[AdapterSpec] = field(default_factory=list)


@dataclass
class ChatRequest:
    TYPE: ClassVar[str] = "chat"
    id: str
    messages: list[ChatMessage]
    params: ChatParams = field(default_factory=ChatParams)


@dataclass
class CompleteRequest:
    """Continue ``prompt`` as it stands (no chat format); answered like a chat."""

    TYPE: ClassVar[str] = "complete"
    id: str
    prompt: str
    params: ChatParams = field(default_factory=ChatParams)


@dataclass
class CancelRequest:
    """Stop the chat or completion with this id (between two tokens); unknown ids are ignored."""

    TYPE: ClassVar[str] = "cancel"
    id: str


@dataclass
class ShutdownRequest:
    TYPE: ClassVar[str] = "shutdown"
    id: str


# --- events (host -> client) -----------------------------------------------------------------


@dataclass
class ReadyEvent:
    TYPE: ClassVar[str] = "ready"
    id: Optional[str]
    pid: int
    llama_cpp_version: str
    #: The llama.cpp CPU backend chosen for this processor ("zen4", "haswell", "built-in").
    cpu_backend: str = ""
    protocol_version: int = PROTOCOL_VERSION


@dataclass
class LoadedEvent:
    TYPE: ClassVar[str] = "loaded"
    id: str
    model_path: str
    chat_format: str
    chat_format_description: str
    n_ctx: int
    load_seconds: float
    adapters: list[AdapterSpec] = field(default_factory=list)


@dataclass
class UnloadedEvent:
    TYPE: ClassVar[str] = "unloaded"
    id: str


@dataclass
class AdaptersSetEvent:
    TYPE: ClassVar[str] = "adapters_set"
    id: str
    adapters: list[AdapterSpec]


@dataclass
class TokenEvent:
    TYPE: ClassVar[str] = "token"
    id: str
    text: str


@dataclass
class DoneEvent:
    """The end of a reply, with its timings.

    ``completion_tokens`` counts every token the model produced, including the one that closed
    its turn; ``tokens_per_second`` is the decode speed after the first token, and
    ``time_to_first_token`` includes reading the prompt. ``truncated_turns`` (chat) and
    ``truncated_tokens`` (complete) say how much of a too-long prompt was left out.
    """

    TYPE: ClassVar[str] = "done"
    id: str
    finish_reason: Literal["stop", "length", "cancelled"]
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token: Optional[float]
    tokens_per_second: Optional[float]
    truncated_turns: int = 0
    text: str = ""
    total_seconds: float = 0.0
    truncated_tokens: int = 0


@dataclass
class ErrorEvent:
    """Something failed: ``message`` is for the user, ``detail`` for the log or a bug report."""

    TYPE: ClassVar[str] = "error"
    id: Optional[str]
    message: str
    detail: str = ""
    code: str = "error"  # e.g. bad_model, bad_adapter, no_model, context_full, chat_format, empty


REQUESTS: dict[str, type] = {
    c.TYPE: c
    for c in (LoadRequest, UnloadRequest, SetAdaptersRequest, ChatRequest, CompleteRequest,
              CancelRequest, ShutdownRequest)
}
EVENTS: dict[str, type] = {
    c.TYPE: c
    for c in (ReadyEvent, LoadedEvent, UnloadedEvent, AdaptersSetEvent, TokenEvent, DoneEvent,
              ErrorEvent)
}
MESSAGES: dict[str, type] = {**REQUESTS, **EVENTS}


def encode(msg: Any) -> bytes:
    """One message (a dataclass above, or a dict with a ``type``) as one JSON line.

    Dicts are validated like received lines, so a malformed message fails at the sender.
    """
    if dataclasses.is_dataclass(msg) and not isinstance(msg, type):
        # Every message class has a TYPE (a ClassVar the dataclass protocol does not know of).
        data = {"type": cast(Any, msg).TYPE, **dataclasses.asdict(msg)}
    elif isinstance(msg, dict):
        data = validate(msg)
    else:
        raise ProtocolError(f"cannot encode {type(msg).__name__}")
    # ensure_ascii keeps the line free of raw U+2028 and friends that some readers split on.
    return (json.dumps(data, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def decode(line: bytes | str) -> dict[str, Any]:
    """Parse and validate one line; defaults are filled in for absent optional fields.

    Raises:
        ProtocolError: for anything that is not a known, well-formed message.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("line is not UTF-8") from exc
    line = line.strip()
    if not line:
        raise ProtocolError("empty line")
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    return validate(data)


def validate(data: Any) -> dict[str, Any]:
    """Check a message dict against its dataclass and return a copy with defaults filled in."""
    if not isinstance(data, dict):
        raise ProtocolError("a message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or (cls := MESSAGES.get(kind)) is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    return {"type": kind, **_check_object(cls, data, kind)}


def _check_object(cls: type, data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(f"{where}: expected an object")
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            out[f.name] = _check_value(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = dataclasses.asdict(value)
            out[f.name] = value
        else:
            raise ProtocolError(f"{where}: missing field '{f.name}'")
    return out


def _check_value(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        return _check_value(next(a for a in args if a is not type(None)), value, where)
    if origin is Literal:
        if value not in args:
            raise ProtocolError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ProtocolError(f"{where}: expected a list")
        return [_check_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _check_object(hint, value, where)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(f"{where}: expected a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(f"{where}: expected an integer")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ProtocolError(f"{where}: expected a string")
        return value
    raise ProtocolError(f"{where}: unsupported field type {hint!r}")  # pragma: no cover
