"""The OpenAI request and response shapes, turned into the engine's requests and back.

Only what the engine can honour is accepted: one choice (``n`` = 1), text messages, the usual
sampling fields (``temperature``, ``top_p``, ``max_tokens`` or ``max_completion_tokens``,
``stop``, ``seed``, ``presence_penalty``, ``frequency_penalty``) and llama.cpp's ``top_k`` and
``repeat_penalty``, which llama.cpp servers accept too. Anything else that would change the
answer (tools, log probabilities, images, ``echo``, ``suffix``) is refused with a 400 that says
so, rather than silently ignored. Fields left out take the Chat page's saved defaults.

``usage`` is the engine's own count: ``prompt_tokens`` is the prompt as the model read it
(after the chat format), ``completion_tokens`` every token the model produced.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from slmdesk.core.engine.protocol import ChatParams
from slmdesk.core.engine.sampling import chat_params
from slmdesk.core.errors import SlmdeskError

MAX_STOP_STRINGS = 4
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
#: Fields that change the answer in ways the engine cannot do: refused, not ignored.
UNSUPPORTED = ("tools", "functions", "tool_choice", "function_call", "logprobs",
               "top_logprobs", "logit_bias", "audio", "modalities", "prediction", "echo",
               "suffix", "best_of")


class BadRequest(SlmdeskError, ValueError):
    """The request is not one this server can serve (answered 400); ``param`` names the field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class Generation:
    """One parsed request: what to ask the engine and how to answer."""

    kind: Literal["chat", "complete"]
    model: str
    payload: list[dict[str, str]] | str
    params: ChatParams
    stream: bool
    include_usage: bool


def parse_chat(body: Any, defaults: dict[str, Any]) -> Generation:
    body = _object(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list of messages.", "messages")
    parsed = [_message(m, i) for i, m in enumerate(messages)]
    return Generation("chat", _model(body), parsed, _params(body, defaults), _stream(body),
                      _include_usage(body))


def parse_completion(body: Any, defaults: dict[str, Any]) -> Generation:
    body = _object(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("'prompt' must be a string (one prompt per request).", "prompt")
    return Generation("complete", _model(body), prompt, _params(body, defaults), _stream(body),
                      _include_usage(body))


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    for name in UNSUPPORTED:
        value = body.get(name)
        if value in (None, False, [], {}) or (name == "best_of" and value == 1):
            continue
        raise BadRequest(f"'{name}' is not supported by this server.", name)
    if body.get("n", 1) != 1:
        raise BadRequest("Only one choice per request is supported ('n' must be 1).", "n")
    response_format = body.get("response_format")
    if response_format not in (None, {"type": "text"}):
        raise BadRequest("Only text replies are supported ('response_format').",
                         "response_format")
    return body


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required: one of the names GET /v1/models lists.", "model")
    return model


def _stream(body: dict[str, Any]) -> bool:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false.", "stream")
    return stream


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options") or {}
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _message(message: Any, index: int) -> dict[str, str]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise BadRequest(f"{where} must be an object with 'role' and 'content'.", where)
    role = ROLES.get(message.get("role", ""))
    if role is None:
        raise BadRequest(f"{where}.role must be system, user or assistant "
                         f"(got {message.get('role')!r}).", f"{where}.role")
    content = message.get("content")
    if isinstance(content, list):  # content parts: text only
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" \
                    or not isinstance(part.get("text"), str):
                raise BadRequest(f"{where}.content: only text parts are supported.",
                                 f"{where}.content")
            texts.append(part["text"])
        content = "".join(texts)
    if content is None and role == "assistant":
        content = ""
    if not isinstance(content, str):
        raise BadRequest(f"{where}.content must be text.", f"{where}.content")
    return {"role": role, "content": content}


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"'{name}' must be a number from {low:g} to {high:g}.", name)
    return float(value)


def _integer(body: dict[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadRequest(f"'{name}' must be a whole number of at least {low}.", name)
    return value


def _params(body: dict[str, Any], defaults: dict[str, Any]) -> ChatParams:
    values = chat_params(defaults)
    given: dict[str, Any] = {
        "temperature": _number(body, "temperature", 0, 2),
        "top_p": _number(body, "top_p", 0, 1),
        "presence_penalty": _number(body, "presence_penalty", -2, 2),
        "frequency_penalty": _number(body, "frequency_penalty", -2, 2),
        "repeat_penalty": _number(body, "repeat_penalty", 0, 10),
        "top_k": _integer(body, "top_k", 0),
        "seed": _integer(body, "seed", -(2**63)),
        "max_tokens": _integer(body, "max_completion_tokens", 1) or _integer(body, "max_tokens", 1),
    }
    values.update({k: v for k, v in given.items() if v is not None})
    stop = body.get("stop")
    if stop is None:
        stops: list[str] = []
    elif isinstance(stop, str):
        stops = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop) \
            and len(stop) <= MAX_STOP_STRINGS:
        stops = list(stop)
    else:
        raise BadRequest(f"'stop' must be a string or a list of up to {MAX_STOP_STRINGS} strings.",
                         "stop")
    return ChatParams(**values, stop=[s for s in stops if s])


# --- answers ---------------------------------------------------------------------------------


def new_id(kind: Literal["chat", "complete"]) -> str:
    return ("chatcmpl-" if kind == "chat" else "cmpl-") + secrets.token_hex(12)


def finish_reason(done: dict[str, Any]) -> str:
    return "length" if done.get("finish_reason") == "length" else "stop"


def usage(done: dict[str, Any]) -> dict[str, int]:
    prompt, completion = int(done["prompt_tokens"]), int(done["completion_tokens"])
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def full_response(gen: Generation, response_id: str, text: str, done: dict[str, Any]
                  ) -> dict[str, Any]:
    created = int(time.time())
    if gen.kind == "chat":
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                  "logprobs": None, "finish_reason": finish_reason(done)}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason(done)}
        obj = "text_completion"
    return {"id": response_id, "object": obj, "created": created, "model": gen.model,
            "choices": [choice], "usage": usage(done)}


def chunk(gen: Generation, response_id: str, *, text: str | None = None,
          first: bool = False, done: dict[str, Any] | None = None,
          usage_only: bool = False) -> bytes:
    """One server-sent event of a streamed answer."""
    base: dict[str, Any] = {"id": response_id, "created": int(time.time()), "model": gen.model,
                            "object": "chat.completion.chunk" if gen.kind == "chat"
                            else "text_completion"}
    if usage_only:
        assert done is not None
        return sse({**base, "choices": [], "usage": usage(done)})
    reason = finish_reason(done) if done is not None else None
    if gen.kind == "chat":
        delta: dict[str, Any] = {}
        if first:
            delta["role"] = "assistant"
        if text is not None:
            delta["content"] = text
        choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None,
                                  "finish_reason": reason}
    else:
        choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
    return sse({**base, "choices": [choice], **({"usage": None} if gen.include_usage else {})})


def sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode("utf-8") + b"\n\n"


DONE_LINE = b"data: [DONE]\n\n"


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None
               ) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code or kind}}
