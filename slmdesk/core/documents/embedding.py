"""The sentence embedder for document search, when one is installed.

Search works without one (BM25 over words); with one it also finds passages that say the same in
other words. ``open_embedder`` returns None when no embedding model is installed.
"""

from __future__ import annotations

import sqlite3

from slmdesk.core.documents.index import Embedder


def open_embedder(conn: sqlite3.Connection, *, quiet: bool = True) -> Embedder | None:
    """The installed embedder, or None (search then uses words alone)."""
    del conn, quiet
    return None
