"""The one SQLite database: connection factory, schema version and migrations.

SLM Desk keeps its library index, conversations and training runs in a single file so that a
backup is one copy and a crash never leaves two stores disagreeing. WAL mode lets the GUI read
while a background thread writes. Each migration is a list of statements applied once, in
order, inside a transaction; ``PRAGMA user_version`` records how far a database has come.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from slmdesk.core.errors import SlmdeskError

MIGRATIONS: list[list[str]] = [
    # 1: the model library.
    [
        """
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            storage TEXT NOT NULL CHECK (storage IN ('copy', 'link')),
            kind TEXT NOT NULL CHECK (kind IN ('model', 'adapter')),
            display_name TEXT NOT NULL,
            architecture TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            file_size INTEGER NOT NULL,
            base_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            source_path TEXT,
            info_json TEXT NOT NULL,
            provenance_json TEXT,
            is_starter INTEGER NOT NULL DEFAULT 0,
            added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        )
        """,
        "CREATE INDEX models_fingerprint ON models(fingerprint)",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value_json TEXT NOT NULL)",
    ],
    # 2: conversations as message trees (branches from regenerate and edit), with full-text
    # search. The FTS tables are external-content indexes kept in sync by triggers, so the
    # text is stored once.
    [
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            title_is_auto INTEGER NOT NULL DEFAULT 1,
            system_prompt TEXT NOT NULL DEFAULT '',
            model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            adapter_json TEXT,
            settings_json TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            active_leaf_id INTEGER REFERENCES messages(id) ON DELETE SET NULL
        )
        """,
        "CREATE INDEX conversations_updated ON conversations(updated_at)",
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'streaming', 'stopped', 'error', 'interrupted')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            metadata_json TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX messages_conversation ON messages(conversation_id)",
        "CREATE INDEX messages_parent ON messages(parent_id)",
        "CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming'",
        """
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='messages', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2')
        """,
        """
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END
        """,
        """
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
        END
        """,
        """
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END
        """,
        """
        CREATE VIRTUAL TABLE conversations_fts USING fts5(
            title, content='conversations', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2')
        """,
        """
        CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
            INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);
        END
        """,
        """
        CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
            INSERT INTO conversations_fts(conversations_fts, rowid, title)
                VALUES ('delete', old.id, old.title);
        END
        """,
        """
        CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
            INSERT INTO conversations_fts(conversations_fts, rowid, title)
                VALUES ('delete', old.id, old.title);
            INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);
        END
        """,
    ],
    # 3: fine-tuning runs. The run folder (runs/<id>) holds the job, events and checkpoints;
    # this row is the index the GUI lists and the status a killed worker leaves behind.
    [
        """
        CREATE TABLE training_runs (
            id INTEGER PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'cancelled', 'interrupted', 'failed')),
            base_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            adapter_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            run_dir TEXT NOT NULL UNIQUE,
            job_json TEXT NOT NULL,
            metrics_json TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            pid INTEGER,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        )
        """,
        "CREATE INDEX training_runs_status ON training_runs(status)",
    ],
    # 4: notebooks, raw text a base model continues (conversations/notebooks.py). One row per
    # notebook: its text is a single growing document, not a tree of messages.
    [
        """
        CREATE TABLE notebooks (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            title_is_auto INTEGER NOT NULL DEFAULT 1,
            text TEXT NOT NULL DEFAULT '',
            model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            settings_json TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX notebooks_updated ON notebooks(updated_at)",
    ],
    # 5: downloads from the Hugging Face Hub (core/hub/downloads.py). A row exists from the
    # first byte to the library entry, so a restart lists paused and interrupted downloads and
    # resumes each from its partial file; model_id is set only after the SHA-256 matched.
    [
        """
        CREATE TABLE downloads (
            id INTEGER PRIMARY KEY,
            repo_id TEXT NOT NULL,
            filename TEXT NOT NULL,
            revision TEXT,
            size INTEGER,
            sha256 TEXT,
            partial_path TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'paused', 'failed', 'cancelled', 'done')),
            bytes_done INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            pid INTEGER,
            model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        )
        """,
        "CREATE INDEX downloads_file ON downloads(repo_id, filename)",
    ],
    # 6: document collections and their search index (core/documents/index.py). A file's row
    # records what was read (modification time, size, content hash) so that indexing again
    # re-reads only what changed; its passages carry the page or line they are cited by. The
    # FTS table is external-content, kept in sync by triggers (also on cascading deletes).
    # Vectors are keyed by the embedder's identity, so a new embedder embeds again without
    # reading files, and a changed search setting touches nothing.
    [
        """
        CREATE TABLE doc_collections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            status TEXT NOT NULL DEFAULT 'new'
                CHECK (status IN ('new', 'indexing', 'ready', 'interrupted')),
            indexed_at TEXT,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        )
        """,
        """
        CREATE TABLE doc_sources (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES doc_collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            UNIQUE (collection_id, path)
        )
        """,
        """
        CREATE TABLE doc_files (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES doc_collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('indexed', 'skipped')),
            kind TEXT,
            title TEXT NOT NULL DEFAULT '',
            characters INTEGER NOT NULL DEFAULT 0,
            mtime_ns INTEGER NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL DEFAULT '',
            chunker TEXT NOT NULL DEFAULT '',
            reason TEXT,
            detail TEXT,
            indexed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            UNIQUE (collection_id, path)
        )
        """,
        """
        CREATE TABLE doc_chunks (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL REFERENCES doc_files(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            page INTEGER,
            line INTEGER NOT NULL,
            start INTEGER NOT NULL,
            text TEXT NOT NULL
        )
        """,
        "CREATE INDEX doc_chunks_file ON doc_chunks(file_id)",
        """
        CREATE VIRTUAL TABLE doc_chunks_fts USING fts5(
            text, content='doc_chunks', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2')
        """,
        """
        CREATE TRIGGER doc_chunks_fts_insert AFTER INSERT ON doc_chunks BEGIN
            INSERT INTO doc_chunks_fts(rowid, text) VALUES (new.id, new.text);
        END
        """,
        """
        CREATE TRIGGER doc_chunks_fts_delete AFTER DELETE ON doc_chunks BEGIN
            INSERT INTO doc_chunks_fts(doc_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END
        """,
        """
        CREATE TABLE doc_vectors (
            chunk_id INTEGER NOT NULL REFERENCES doc_chunks(id) ON DELETE CASCADE,
            embedder TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (chunk_id, embedder)
        )
        """,
    ],
    # 7: the heading a passage stands under (Markdown, Word, HTML), for its citation. NULL in
    # passages indexed before, which are re-read once (their chunker id changed with it).
    [
        "ALTER TABLE doc_chunks ADD COLUMN heading TEXT",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseError(SlmdeskError):
    """The database cannot be opened or is newer than this version of the app."""


def connect(path: Path | str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=10, check_same_thread=check_same_thread,
                               isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"Cannot open the database {path}: {exc}") from exc
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, migrations: list[list[str]] | None = None) -> int:
    """Apply every migration the database has not seen yet; return the new version."""
    migrations = MIGRATIONS if migrations is None else migrations
    current = schema_version(conn)
    if current > len(migrations):
        raise DatabaseError(
            f"The database was written by a newer SLM Desk (schema {current}, this version "
            f"knows {len(migrations)}). Update SLM Desk to open it.")
    for version in range(current, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in migrations[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)
