"""The collection of the documents an adapter was tuned on, for Chat to attach with it.

Measured on documents nobody on the team wrote (``bench/knowledge_bench.py --with-document``,
the natural dev half, SmolLM2): a tuned model with its documents in the prompt answers more of
people's questions than the tuned model alone or the documents alone, so a conversation opened on
a fine-tune's result starts with them attached; the person can detach them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from slmdesk.core.documents.index import Collection, CollectionError, DocumentIndex

#: The collection's name is this and the adapter's name.
TAUGHT_PREFIX = "Taught to "


def taught_collection_name(adapter_name: str) -> str:
    return TAUGHT_PREFIX + " ".join(adapter_name.split())


def taught_collection(index: DocumentIndex, adapter_name: str,
                      documents: Iterable[str | Path]) -> Collection | None:
    """The collection of ``documents`` (the files and folders a run was tuned on), created on
    first use and given any path a later run added; None when none of them is there any more
    (moved or deleted since), so nothing empty is attached."""
    present = [path for path in documents if os.path.exists(Path(path).expanduser())]
    if not present:
        return None
    name = taught_collection_name(adapter_name)
    try:
        index.get(name)
    except CollectionError:
        return index.create(name, present)
    return index.add_paths(name, present)
