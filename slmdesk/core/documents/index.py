"""Document collections and their search index, kept in the app's database.

A collection is a name and the folders and files a person added to it. :meth:`DocumentIndex.update`
brings its index up to date: a file whose modification time and size are unchanged is not opened;
one whose content hash is unchanged is not read again; a changed file's passages are replaced in
one transaction, keeping the vectors of passages whose text did not change (so a changed file
is searchable by meaning at once and only its new passages are embedded), and a file gone from
disk loses its passages. Every file is its own transaction,
so a cancel, a crash or a file that vanishes mid-way leaves an index that answers searches (a
rebuild keeps each file's old passages until its new ones are written). A file that cannot be read
is kept as a row with the reason, which the app lists.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from slmdesk.core.documents._text import DocumentError
from slmdesk.core.documents.chunking import CHUNKER_ID, chunk_document
from slmdesk.core.documents.collect import SkippedFile, folder_files, read_document
from slmdesk.core.errors import ProgressCallback, SlmdeskError


class CollectionError(SlmdeskError):
    """A collection that does not exist, a name already taken, or a database that is busy."""


@dataclass(frozen=True)
class Collection:
    id: int
    name: str
    status: str  # 'new', 'indexing', 'ready' or 'interrupted'
    sources: tuple[str, ...]
    files: int
    skipped: int
    passages: int
    indexed_at: str | None


@dataclass
class IndexReport:
    """What one :meth:`DocumentIndex.update` did, file by file."""

    added: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    unchanged: int = 0
    removed: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    embedded: int = 0
    cancelled: bool = False
    #: Why the passages could not be embedded (they are searchable by their words meanwhile).
    embedding_failed: str = ""

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed", f"{self.unchanged} unchanged",
                 f"{len(self.removed)} removed", f"{len(self.skipped)} could not be read"]
        text = ", ".join(parts) + (" (cancelled: the files done so far are searchable)" if self.cancelled else "")
        if self.embedding_failed:
            text += (f". Searchable by their words only for now: {self.embedding_failed} The next "
                     "update tries the meaning search again.")
        return text


class Embedder(Protocol):
    """Turns passages into unit-length float32 vectors; ``identity`` is stored with each one."""

    identity: str

    def embed(self, texts: list[str]) -> list[bytes]: ...


class DocumentIndex:
    """Collections, their files and passages, over one database connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # --- collections ---------------------------------------------------------------------------

    def create(self, name: str, paths: Iterable[str | Path] = ()) -> Collection:
        name = " ".join(name.split())
        if not name:
            raise CollectionError("A collection needs a name.")
        with self._transaction():
            if self.conn.execute("SELECT 1 FROM doc_collections WHERE name = ?", (name,)).fetchone():
                raise CollectionError(f"There is already a collection named \u201c{name}\u201d.")
            self.conn.execute("INSERT INTO doc_collections(name) VALUES (?)", (name,))
        if paths:
            self.add_paths(name, paths)
        return self.get(name)

    def add_paths(self, name: str, paths: Iterable[str | Path]) -> Collection:
        """Add folders or files (kept as absolute paths; a folder is watched for new files)."""
        collection_id = self._id(name)
        with self._transaction():
            for path in paths:
                absolute = os.path.abspath(Path(path).expanduser())
                self.conn.execute("INSERT OR IGNORE INTO doc_sources(collection_id, path) VALUES (?, ?)",
                                  (collection_id, absolute))
        return self.get(name)

    def remove_path(self, name: str, path: str | Path) -> None:
        """Stop following a folder or file; its passages go at the next :meth:`update`."""
        self.conn.execute("DELETE FROM doc_sources WHERE collection_id = ? AND path = ?",
                          (self._id(name), os.path.abspath(Path(path).expanduser())))

    def delete(self, name: str) -> None:
        with self._transaction():
            self.conn.execute("DELETE FROM doc_collections WHERE id = ?", (self._id(name),))

    def collections(self) -> list[Collection]:
        names = [row[0] for row in self.conn.execute("SELECT name FROM doc_collections ORDER BY name")]
        return [self.get(name) for name in names]

    def get(self, name: str) -> Collection:
        row = self.conn.execute("SELECT * FROM doc_collections WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(r[0] for r in self.conn.execute("SELECT name FROM doc_collections ORDER BY name"))
            raise CollectionError(f"There is no collection named \u201c{name}\u201d."
                                  + (f" Collections: {known}." if known else " Add one first."))
        sources = tuple(r[0] for r in self.conn.execute(
            "SELECT path FROM doc_sources WHERE collection_id = ? ORDER BY path", (row["id"],)))
        files, skipped = self.conn.execute(
            "SELECT COALESCE(SUM(status = 'indexed'), 0), COALESCE(SUM(status = 'skipped'), 0) FROM doc_files "
            "WHERE collection_id = ?", (row["id"],)).fetchone()
        passages = self.conn.execute(
            "SELECT COUNT(*) FROM doc_chunks JOIN doc_files f ON f.id = doc_chunks.file_id "
            "WHERE f.collection_id = ?", (row["id"],)).fetchone()[0]
        return Collection(row["id"], row["name"], row["status"], sources, files, skipped, passages,
                          row["indexed_at"])

    def skipped_files(self, name: str) -> list[SkippedFile]:
        return [SkippedFile(Path(row["path"]), row["reason"] or "", row["detail"] or "")
                for row in self.conn.execute(
                    "SELECT path, reason, detail FROM doc_files WHERE collection_id = ? AND status = 'skipped' "
                    "ORDER BY path", (self._id(name),))]

    def total_characters(self, collection_ids: Iterable[int]) -> int:
        ids = list(collection_ids)
        marks = ",".join("?" * len(ids))
        value: int = self.conn.execute(
            f"SELECT COALESCE(SUM(characters), 0) FROM doc_files WHERE status = 'indexed' "
            f"AND collection_id IN ({marks})", ids).fetchone()[0]
        return value

    # --- indexing ------------------------------------------------------------------------------

    def update(self, name: str, progress: ProgressCallback | None = None, *, rebuild: bool = False,
               embedder: Embedder | None = None) -> IndexReport:
        """Bring the collection's index up to date with its folders and files (see the module doc).

        ``progress(done, total)`` is called between files (then between batches of passages to
        embed); returning False stops after the current file, leaving everything done searchable.
        ``rebuild`` reads every file again (after a change of the readers, or to be sure).
        """
        collection = self.get(name)
        report = IndexReport()
        candidates = self._scan(collection.sources, report)
        with self._transaction():
            self.conn.execute("UPDATE doc_collections SET status = 'indexing' WHERE id = ?", (collection.id,))
            known = {row["path"]: row for row in self.conn.execute(
                "SELECT * FROM doc_files WHERE collection_id = ?", (collection.id,))}
            present = {str(path) for path in candidates}
            # A source that is not there (a drive unplugged, a folder moved) keeps its passages
            # until it is back or removed from the collection: a re-scan must not wipe them.
            missing = [Path(source) for source in collection.sources if not Path(source).exists()]
            for path in sorted(set(known) - present):
                if any(Path(path) == source or source in Path(path).parents for source in missing):
                    continue
                self.conn.execute("DELETE FROM doc_files WHERE id = ?", (known[path]["id"],))
                report.removed.append(Path(path))
        total = len(candidates)
        for done, path in enumerate(candidates):
            if progress is not None and progress(done, total) is False:
                report.cancelled = True
                break
            self._index_file(collection.id, path, known.get(str(path)), rebuild, report)
        if not report.cancelled and progress is not None:
            progress(total, total)
        if embedder is not None and not report.cancelled:
            try:
                report.embedded, finished = self._embed_missing(collection.id, embedder, progress)
                report.cancelled = not finished
            except SlmdeskError as exc:  # the embedding process failed: words still find them
                report.embedding_failed = exc.message
        with self._transaction():
            self.conn.execute(
                "UPDATE doc_collections SET status = ?, indexed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
                "WHERE id = ?", ("interrupted" if report.cancelled else "ready", collection.id))
        return report

    def _scan(self, sources: Iterable[str], report: IndexReport) -> list[Path]:
        files: list[Path] = []
        seen: set[str] = set()
        for source in map(Path, sources):
            if source.is_dir():
                found = folder_files(source, report.skipped)
            elif source.exists():
                found = [source]
            else:
                report.skipped.append(SkippedFile(source, "It no longer exists (it may have been moved or "
                                                          "deleted); what was found in it stays searchable until "
                                                          "you remove it from the collection or put it back."))
                continue
            for file in found:
                if str(file) not in seen:
                    seen.add(str(file))
                    files.append(file)
        return files

    def _index_file(self, collection_id: int, path: Path, row: sqlite3.Row | None, rebuild: bool,
                    report: IndexReport) -> None:
        try:
            stat = path.stat()
        except OSError as exc:  # it vanished since the scan: its old passages go with it
            if row is not None:
                with self._transaction():
                    self.conn.execute("DELETE FROM doc_files WHERE id = ?", (row["id"],))
                report.removed.append(path)
            report.skipped.append(SkippedFile(path, "It disappeared while it was being indexed.", str(exc)))
            return
        current = row is not None and row["chunker"] == CHUNKER_ID and not rebuild
        if current and row is not None and row["mtime_ns"] == stat.st_mtime_ns and row["size"] == stat.st_size:
            report.unchanged += 1
            if row["status"] == "skipped":
                report.skipped.append(SkippedFile(path, row["reason"] or "", row["detail"] or ""))
            return
        digest = _sha256(path)
        if current and row is not None and digest is not None and digest == row["sha256"]:
            with self._transaction():  # touched, not changed (a copy, a save without edits)
                self.conn.execute("UPDATE doc_files SET mtime_ns = ?, size = ? WHERE id = ?",
                                  (stat.st_mtime_ns, stat.st_size, row["id"]))
            report.unchanged += 1
            return
        try:
            document = read_document(path, with_places=True)
            chunks = chunk_document(document)
            error: DocumentError | None = None
        except DocumentError as exc:
            error, chunks = exc, []
        with self._transaction():
            if row is not None:
                if error is None:
                    self._keep_vectors(row["id"])
                self.conn.execute("DELETE FROM doc_files WHERE id = ?", (row["id"],))
            if error is not None:
                self.conn.execute(
                    "INSERT INTO doc_files(collection_id, path, status, mtime_ns, size, sha256, chunker, reason, "
                    "detail) VALUES (?, ?, 'skipped', ?, ?, ?, ?, ?, ?)",
                    (collection_id, str(path), stat.st_mtime_ns, stat.st_size, digest or "", CHUNKER_ID,
                     error.message, error.detail))
                report.skipped.append(SkippedFile(path, error.message, error.detail))
                return
            file_id = self.conn.execute(
                "INSERT INTO doc_files(collection_id, path, status, kind, title, characters, mtime_ns, size, "
                "sha256, chunker) VALUES (?, ?, 'indexed', ?, ?, ?, ?, ?, ?, ?)",
                (collection_id, str(path), document.kind, document.title, document.characters,
                 stat.st_mtime_ns, stat.st_size, digest or "", CHUNKER_ID)).lastrowid
            self.conn.executemany(
                "INSERT INTO doc_chunks(file_id, ordinal, page, line, start, heading, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(file_id, number, chunk.page, chunk.line, chunk.start, chunk.heading, chunk.text)
                 for number, chunk in enumerate(chunks)])
            if row is not None and file_id is not None:
                self._restore_vectors(file_id)
        (report.changed if row is not None else report.added).append(path)

    def _keep_vectors(self, file_id: int) -> None:
        """Set aside a file's vectors by their passage's text, before its passages are replaced
        (inside that transaction): an edit changes a passage or two, a rebuild or a new chunker
        often none, and embedding is the slow part of indexing (GPT4All users re-embedded
        everything after changing one setting, #3497). Kept in a temporary table, never in
        Python, so a file of a hundred thousand passages costs no memory."""
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS kept_vectors "
                          "(text TEXT NOT NULL, embedder TEXT NOT NULL, vector BLOB NOT NULL)")
        self.conn.execute("CREATE INDEX IF NOT EXISTS temp.kept_vectors_text ON kept_vectors(text)")
        self.conn.execute("DELETE FROM temp.kept_vectors")
        self.conn.execute(
            "INSERT INTO temp.kept_vectors(text, embedder, vector) SELECT c.text, v.embedder, v.vector "
            "FROM doc_chunks c JOIN doc_vectors v ON v.chunk_id = c.id WHERE c.file_id = ?", (file_id,))

    def _restore_vectors(self, file_id: int) -> None:
        """Give the file's new passages the vectors :meth:`_keep_vectors` set aside for the same text."""
        self.conn.execute(
            "INSERT OR IGNORE INTO doc_vectors(chunk_id, embedder, vector) SELECT c.id, k.embedder, k.vector "
            "FROM doc_chunks c JOIN temp.kept_vectors k ON k.text = c.text WHERE c.file_id = ?", (file_id,))
        self.conn.execute("DELETE FROM temp.kept_vectors")

    def _embed_missing(self, collection_id: int, embedder: Embedder, progress: ProgressCallback | None,
                       batch: int = 16) -> tuple[int, bool]:
        """Embed the passages that have no vector from this embedder; (count, finished)."""
        missing = self.conn.execute(
            "SELECT c.id, c.text FROM doc_chunks c JOIN doc_files f ON f.id = c.file_id "
            "WHERE f.collection_id = ? AND NOT EXISTS (SELECT 1 FROM doc_vectors v "
            "WHERE v.chunk_id = c.id AND v.embedder = ?) ORDER BY c.id", (collection_id, embedder.identity)
        ).fetchall()
        for start in range(0, len(missing), batch):
            if progress is not None and progress(start, len(missing)) is False:
                return start, False
            rows = missing[start:start + batch]
            vectors = embedder.embed([row["text"] for row in rows])
            with self._transaction():  # a passage deleted meanwhile simply gets no vector
                self.conn.executemany(
                    "INSERT OR REPLACE INTO doc_vectors(chunk_id, embedder, vector) "
                    "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM doc_chunks WHERE id = ?)",
                    [(row["id"], embedder.identity, vector, row["id"]) for row, vector in zip(rows, vectors)])
        if progress is not None:
            progress(len(missing), len(missing))
        return len(missing), True

    # --- helpers -------------------------------------------------------------------------------

    def _id(self, name: str) -> int:
        return self.get(name).id

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise busy_error(exc) from None
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self.conn.execute("ROLLBACK")
            raise busy_error(exc) from None


def busy_error(exc: sqlite3.OperationalError) -> CollectionError:
    """A locked or read-only database, in words: nothing was changed, try again."""
    return CollectionError("The document index could not be saved: the database is busy or locked by another "
                           "program. Nothing was lost; close the other program (or wait) and index again.",
                           str(exc))


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None  # read_document will say why
    return digest.hexdigest()

