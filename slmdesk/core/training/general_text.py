"""General text that has nothing to do with anyone's documents, shipped with the app.

Two different pages: the *anchor* is what training keeps the model's predictions close to (the
base model's own predictions on it are recorded before training), and the *evaluation* page is
only measured, before and after, to say how much the model's ordinary writing suffered. They
must differ, or the forgetting figure would flatter the anchor's effect.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

GENERAL_ANCHOR = "general_anchor.txt"
GENERAL_EVAL = "general_eval.txt"
#: Tokens per anchor window: one window joins each training step.
ANCHOR_WINDOW_TOKENS = 48


def general_text(name: str) -> str:
    return resources.files("slmdesk.resources").joinpath(name).read_text(encoding="utf-8")


def general_text_chunks(tokenizer: Any, length: int, name: str) -> list[list[int]]:
    """The text ``name`` cut into windows of at most ``length`` tokens, each starting with the
    beginning-of-sequence token as every prompt does (a whole window even if the last is short)."""
    ids = tokenizer(general_text(name), add_special_tokens=False)["input_ids"]
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    body = max(1, length - len(bos))
    windows = [bos + list(ids[start:start + body]) for start in range(0, len(ids), body)]
    return [window for window in windows if len(window) > len(bos) + 1]
