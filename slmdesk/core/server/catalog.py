"""The models the server offers, by name: each library model, and each base + adapter pair.

Names are made from what people read in the library ("SmolLM2 135M Instruct" becomes
``smollm2-135m-instruct``), so they stay the same across restarts; two models with the same
name are told apart by their library id. A fine-tuned adapter is offered as
``<base name>+<adapter name>``: addressing it loads the base with that adapter, the way the Chat
page does, at strength 1.

:func:`engine_target` chooses what the engine loads exactly as the Chat page does: the context
length of the saved chat defaults (at most the model's own), the chat format override from
Settings, and the memory verdict before anything is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slmdesk.core.engine.sampling import chat_defaults
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.library.memory import Verdict, estimate_memory
from slmdesk.core.library.store import LibraryEntry, ModelLibrary
from slmdesk.core.server.runner import EngineTarget
from slmdesk.core.settings import get_setting

ADAPTER_SEPARATOR = "+"


class UnknownModel(SlmdeskError, LookupError):
    """No served model has this name (answered 404)."""


class ModelWillNotFit(SlmdeskError):
    """The model would not fit in memory at the chat context length (answered 500)."""


@dataclass(frozen=True)
class ServedModel:
    name: str
    model: LibraryEntry
    adapter: LibraryEntry | None = None

    def to_openai(self) -> dict[str, Any]:
        entry = self.adapter or self.model
        try:
            created = int(datetime.fromisoformat(entry.added_at.replace("Z", "+00:00"))
                          .timestamp())
        except ValueError:
            created = 0
        return {"id": self.name, "object": "model", "created": created, "owned_by": "slmdesk",
                "display_name": (f"{self.model.display_name} + {self.adapter.display_name}"
                                 if self.adapter else self.model.display_name),
                "type": self.model.info.model_type_label,
                "base_model": self.served_base_name() if self.adapter else None}

    def served_base_name(self) -> str:
        return self.name.partition(ADAPTER_SEPARATOR)[0]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.") or "model"


def served_models(library: ModelLibrary) -> list[ServedModel]:
    """Every model whose file is present, each followed by its adapters."""
    entries = [e for e in library.entries() if not e.is_missing]
    models = [e for e in entries if e.kind == "model"]
    names = _unique_names(models)
    served: list[ServedModel] = []
    for model in models:
        served.append(ServedModel(names[model.id], model))
        adapters = [e for e in entries if e.kind == "adapter" and e.base_model_id == model.id]
        adapter_names = _unique_names(adapters)
        served.extend(ServedModel(f"{names[model.id]}{ADAPTER_SEPARATOR}{adapter_names[a.id]}",
                                  model, a) for a in adapters)
    return served


def _unique_names(entries: list[LibraryEntry]) -> dict[int, str]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[slug(entry.display_name)] = counts.get(slug(entry.display_name), 0) + 1
    return {e.id: slug(e.display_name) + (f"-{e.id}" if counts[slug(e.display_name)] > 1 else "")
            for e in entries}


def find_model(library: ModelLibrary, name: str) -> ServedModel:
    served = served_models(library)
    for model in served:
        if model.name == name:
            return model
    known = ", ".join(m.name for m in served) or "none (the library is empty)"
    raise UnknownModel(f"There is no model called {name!r} here. The models are: {known}. "
                       "GET /v1/models lists them.")


def engine_target(library: ModelLibrary, served: ServedModel) -> EngineTarget:
    """What the engine loads for ``served``, chosen as the Chat page chooses it."""
    settings = chat_defaults(library.conn)
    info = served.model.info
    n_ctx = int(settings["context_length"])
    if info.context_length:
        n_ctx = min(n_ctx, info.context_length)
    estimate = estimate_memory(info, n_ctx)
    if estimate.verdict is Verdict.WILL_NOT_FIT:
        raise ModelWillNotFit(f"{info.display_name} will not fit in this computer's memory at a "
                              f"context of {n_ctx:,} tokens. {estimate.explain()}")
    adapters = ((str(served.adapter.path), 1.0),) if served.adapter else ()
    override = get_setting(library.conn, "chat_format_override")
    return EngineTarget(str(served.model.path), n_ctx, override or None, adapters)
