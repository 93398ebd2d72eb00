"""Chat settings in one place: their built-in defaults, the user's saved ones, and their words.

The built-in sampling defaults are those of :class:`~slmdesk.core.engine.protocol.ChatParams`,
the engine's own request, so the engine, the Chat page and the command line cannot drift apart.
New conversations start from the defaults saved in the database's settings table under
``chat_defaults`` ("Use for new chats" in the window); ``slmdesk chat`` starts from them too.
The command line's flags and the Chat page's tooltips are made from :data:`CHAT_SETTINGS`, as
llama-cpp-python's server builds its command line from its settings.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from typing import Any

from slmdesk.core.engine.protocol import ChatParams
from slmdesk.core.settings import get_setting, set_setting

DEFAULTS_KEY = "chat_defaults"
DEFAULT_CONTEXT_LENGTH = 4096


@dataclass(frozen=True)
class ChatSetting:
    """One setting a person can change: its name, type and what it does."""

    name: str
    kind: type
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


#: Every chat setting but the system prompt, in the order they are shown.
CHAT_SETTINGS: tuple[ChatSetting, ...] = (
    ChatSetting("temperature", float,
                "0 = always the most likely word (repeatable); higher = more varied"),
    ChatSetting("top_p", float,
                "Only sample from the most likely words whose probabilities add up to this"),
    ChatSetting("top_k", int, "Only sample from this many most likely words (0 = no limit)"),
    ChatSetting("repeat_penalty", float, "Above 1 discourages repeating the same words"),
    ChatSetting("presence_penalty", float,
                "Above 0 discourages any word already written, once; keeps replies from looping"),
    ChatSetting("frequency_penalty", float,
                "Above 0 discourages a word the more often it was already written"),
    ChatSetting("max_tokens", int, "The longest reply, in tokens"),
    ChatSetting("seed", int,
                "The same seed and settings give the same reply; none gives a new one each time"),
    ChatSetting("context_length", int,
                "How much of the conversation the model sees at once, in tokens; more needs "
                "more memory"),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in CHAT_SETTINGS}
SAMPLING_KEYS = tuple(field.name for field in dataclasses.fields(ChatParams)
                      if field.name != "stop")

#: Built-in defaults; ``seed`` None means a different reply every time.
BUILTIN_DEFAULTS: dict[str, Any] = {
    "system_prompt": "",
    **{key: getattr(ChatParams(), key) for key in SAMPLING_KEYS},
    "context_length": DEFAULT_CONTEXT_LENGTH,
}


def chat_defaults(conn: sqlite3.Connection) -> dict[str, Any]:
    """The defaults for new conversations: the built-in ones under the user's saved ones."""
    saved = get_setting(conn, DEFAULTS_KEY, {}) or {}
    return {**BUILTIN_DEFAULTS, **{k: v for k, v in saved.items() if k in BUILTIN_DEFAULTS}}


def save_chat_defaults(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    set_setting(conn, DEFAULTS_KEY, {k: v for k, v in values.items() if k in BUILTIN_DEFAULTS})


def effective_settings(conversation_settings: dict[str, Any],
                       defaults: dict[str, Any]) -> dict[str, Any]:
    """A conversation's settings with anything it never set taken from the defaults."""
    merged = {k: v for k, v in defaults.items() if k != "system_prompt"}
    merged.update({k: v for k, v in conversation_settings.items() if k in merged})
    return merged


def chat_params(settings: dict[str, Any]) -> dict[str, Any]:
    """The engine's ``ChatParams`` fields from a conversation's settings."""
    return {k: settings[k] for k in SAMPLING_KEYS if k in settings}
