"""The model library: GGUF models and LoRA adapters a person has on this computer.

A file is either *copied* into the library folder (the library owns it and may delete it) or
*linked* where it lies (the library only remembers the path, and never deletes the user's file).
Headers are read once at import and cached in SQLite, so listing a library of many gigabytes
costs nothing; a file that has since disappeared is listed as missing rather than breaking
the list. Adapters are attached to a base model of the same architecture.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmdesk.core import db
from slmdesk.core.errors import ProgressCallback, SlmdeskError
from slmdesk.core.gguf.info import GGUFError, ModelInfo, format_bytes, read_model_info
from slmdesk.core.library.starters import (
    ROLE_ORDER,
    STARTERS,
    Starter,
    StarterMissing,
    StarterRole,
    starter_for_file,
)
from slmdesk.core.settings import get_setting, set_setting
from slmdesk.paths import AppPaths

_FINGERPRINT_SAMPLE = 1024 * 1024
_COPY_BLOCK = 4 * 1024 * 1024


class LibraryError(SlmdeskError):
    """A library operation could not be done; the message says why in plain words."""


class DuplicateModelError(LibraryError):
    """The file is already in the library (same content), possibly under another path."""

    def __init__(self, path: Path, existing: "LibraryEntry") -> None:
        super().__init__(f"{path.name} is already in the library as "
                         f"\u201c{existing.display_name}\u201d ({existing.path}).")
        self.path = path
        self.existing = existing


class ImportCancelled(LibraryError):
    """The person stopped an import before it finished; nothing was added."""


@dataclass(frozen=True)
class LibraryEntry:
    """One row of the library, with the header read at import time."""

    id: int
    path: Path
    storage: str
    info: ModelInfo
    fingerprint: str
    base_model_id: int | None
    source_path: str | None
    is_starter: bool
    added_at: str
    provenance: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def display_name(self) -> str:
        return self.info.display_name

    @property
    def architecture(self) -> str:
        return self.info.architecture

    @property
    def is_missing(self) -> bool:
        """True when the file is no longer where the library expects it."""
        return not self.path.is_file()

    @property
    def owns_file(self) -> bool:
        """Copied files belong to the library; linked files belong to the person."""
        return self.storage == "copy"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "path": str(self.path), "storage": self.storage,
            "kind": self.kind, "display_name": self.display_name,
            "architecture": self.architecture, "base_model_id": self.base_model_id,
            "missing": self.is_missing, "is_starter": self.is_starter,
            "added_at": self.added_at, "fingerprint": self.fingerprint,
            "provenance": self.provenance, "info": self.info.to_dict(),
        }


@dataclass
class ScanReport:
    """What a folder scan found: new entries, files already known, and files it could not read."""

    added: list[LibraryEntry] = field(default_factory=list)
    duplicates: list[tuple[Path, LibraryEntry]] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already in the library")
        if self.errors:
            parts.append(f"{len(self.errors)} could not be read")
        return ", ".join(parts)


def file_fingerprint(path: Path) -> str:
    """A content fingerprint that is cheap on multi-gigabyte files.

    Hashing the size with three 1 MiB samples (start, middle, end) tells apart any two real
    model files, since the header and the tensor data both differ, in milliseconds.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        for offset in (0, max(0, size // 2 - _FINGERPRINT_SAMPLE // 2),
                       max(0, size - _FINGERPRINT_SAMPLE)):
            handle.seek(offset)
            digest.update(handle.read(_FINGERPRINT_SAMPLE))
    return digest.hexdigest()


class ModelLibrary:
    """The library index over one SQLite connection.

    Use one instance per thread: a background import opens its own with :meth:`open`.
    """

    def __init__(self, conn: sqlite3.Connection, paths: AppPaths) -> None:
        self.conn = conn
        self.paths = paths

    @classmethod
    def open(cls, paths: AppPaths) -> "ModelLibrary":
        paths.ensure()
        return cls(db.connect(paths.database), paths)

    def close(self) -> None:
        self.conn.close()

    # Reading ------------------------------------------------------------------------------

    def entries(self) -> list[LibraryEntry]:
        """Every model and adapter, models first, each group by name."""
        rows = self.conn.execute(
            "SELECT * FROM models ORDER BY kind DESC, display_name COLLATE NOCASE, id").fetchall()
        return [self._entry(row) for row in rows]

    def models(self) -> list[LibraryEntry]:
        return [entry for entry in self.entries() if entry.kind == "model"]

    def adapters_for(self, base_model_id: int) -> list[LibraryEntry]:
        return [entry for entry in self.entries()
                if entry.kind == "adapter" and entry.base_model_id == base_model_id]

    def get(self, entry_id: int) -> LibraryEntry:
        row = self.conn.execute("SELECT * FROM models WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise LibraryError(f"There is no model with id {entry_id} in the library.")
        return self._entry(row)

    def find(self, id_or_path: str) -> LibraryEntry:
        """Look an entry up by its numeric id, its file path, or its name: the name shown
        ("SmolLM2 135M Instruct"), the server's ("smollm2-135m-instruct") or the file's, compared
        without case or punctuation, as a person types it on the command line."""
        if id_or_path.isdigit():
            return self.get(int(id_or_path))
        wanted = Path(id_or_path).expanduser().resolve()
        entries = self.entries()
        for entry in entries:
            if entry.path == wanted or (entry.source_path and Path(entry.source_path) == wanted):
                return entry
        key = _name_key(id_or_path)
        named = [entry for entry in entries if key and key in (
            _name_key(entry.display_name), _name_key(entry.path.name), _name_key(entry.path.stem))]
        if len(named) == 1:
            return named[0]
        if named:
            ids = ", ".join(f"#{entry.id}" for entry in named)
            raise LibraryError(f"Several models are called \u201c{id_or_path}\u201d ({ids}): "
                               "give the id.")
        raise LibraryError(f"No model in the library matches \u201c{id_or_path}\u201d.")

    def resolve(self, reference: str) -> tuple[LibraryEntry | None, Path]:
        """A library id or a file path, as the command line takes models: the library's entry
        (None for a file outside the library) and the file's path.

        Raises:
            LibraryError: an id that is not in the library, or a path that does not exist.
        """
        try:
            entry = self.find(reference)
        except LibraryError:
            if reference.isdigit():
                raise
            path = Path(reference).expanduser()
            if not path.exists():
                raise LibraryError(f"No model in the library matches \u201c{reference}\u201d "
                                   "and there is no such file. Give a model's id or name, as "
                                   "'slmdesk models list' shows them, or a file's path.") from None
            return None, path
        return entry, entry.path

    def find_by_fingerprint(self, fingerprint: str) -> LibraryEntry | None:
        row = self.conn.execute("SELECT * FROM models WHERE fingerprint = ? ORDER BY id",
                                (fingerprint,)).fetchone()
        return None if row is None else self._entry(row)

    # Adding -------------------------------------------------------------------------------

    def import_file(self, source: str | Path, *, link: bool = False, move: bool = False,
                    progress: ProgressCallback | None = None,
                    provenance: dict[str, Any] | None = None,
                    base_model_id: int | None = None) -> LibraryEntry:
        """Add one GGUF file, copied into the library or linked in place.

        The header is validated before anything is copied, so a corrupt or foreign file leaves
        the library untouched; so is a readable header that llama.cpp could not load (no
        architecture, or one it does not know). An adapter goes under ``base_model_id`` when given,
        else under a model of its architecture. Raises GGUFError for a bad or unloadable file,
        DuplicateModelError when the same content is already present, LibraryError for disk
        problems. With ``move`` the file is moved in instead of copied (a verified download: same
        disk, no second copy).
        """
        source = Path(source).expanduser()
        info = read_model_info(source)
        if (reason := info.not_loadable_reason) is not None:
            raise GGUFError(source, "not_loadable", reason)
        source = source.resolve()
        fingerprint = file_fingerprint(source)
        existing = self.find_by_fingerprint(fingerprint)
        if existing is not None and not existing.is_missing:
            raise DuplicateModelError(source, existing)
        if link:
            target, storage = source, "link"
        elif move:
            target, storage = self._move_into_library(source), "copy"
            info = read_model_info(target)
        else:
            target, storage = self._copy_into_library(source, info.file_size, progress), "copy"
            info = read_model_info(target)
        if existing is not None:
            # The same content returns after its file went missing: heal the old entry.
            return self._relocate(existing, target, storage, info, str(source))
        return self._insert(target, storage, info, fingerprint, str(source),
                            provenance=provenance, base_model_id=base_model_id)

    def scan_folder(self, folder: str | Path,
                    progress: ProgressCallback | None = None) -> ScanReport:
        """Find GGUF files under ``folder`` (recursively) and link the new ones in place."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise LibraryError(f"{folder} is not a folder.")
        candidates = sorted(self._gguf_files(folder))
        report = ScanReport()
        for done, path in enumerate(candidates):
            if progress is not None and progress(done, len(candidates)) is False:
                break
            try:
                report.added.append(self.import_file(path, link=True))
            except DuplicateModelError as exc:
                report.duplicates.append((path, exc.existing))
            except (GGUFError, LibraryError, OSError) as exc:
                report.errors.append((path, str(exc)))
        if progress is not None:
            progress(len(candidates), len(candidates))
        return report

    def ensure_starters(self, progress: ProgressCallback | None = None) -> list[LibraryEntry]:
        """Set up every bundled starter model once, with no network (see
        :mod:`slmdesk.core.library.starters`); the ones the person removed stay removed.

        Returns the starters in the library, in set-up order. A starter whose package is
        not installed is left out.
        """
        entries = []
        for index, starter in enumerate(STARTERS):
            def part(done: int, total: int, index: int = index) -> bool | None:
                return progress(index * total + done, len(STARTERS) * total) if progress else None

            entry = self._ensure_one_starter(starter, part)
            if entry is not None:
                entries.append(entry)
        return entries

    def ensure_starter(self, progress: ProgressCallback | None = None,
                       role: StarterRole = StarterRole.TRAINING) -> LibraryEntry | None:
        """Set up the starters; the one for ``role`` (the chat model for CHAT, the model the
        wizard proposes for TRAINING), or the other starter when that one was removed."""
        self.ensure_starters(progress)
        return self.starter(role)

    def starter(self, role: StarterRole) -> LibraryEntry | None:
        """The library's starter for ``role`` (without setting anything up)."""
        found = {}
        for row in self.conn.execute("SELECT * FROM models WHERE is_starter = 1"):
            entry = self._entry(row)
            starter = starter_for_file(entry.path)
            if starter is not None and not entry.is_missing:
                found[starter.key] = entry
        return next((found[s.key] for s in ROLE_ORDER[role] if s.key in found), None)

    def _ensure_one_starter(self, starter: Starter,
                            progress: ProgressCallback | None) -> LibraryEntry | None:
        target = self.paths.models_dir / starter.file_name
        row = next((row for row in self.conn.execute("SELECT * FROM models WHERE is_starter = 1")
                    if Path(row["path"]).name == starter.file_name), None)
        if row is not None:
            entry = self._entry(row)
            if not entry.is_missing:
                return entry
        elif get_setting(self.conn, starter.declined_setting, False):
            return None
        try:
            size = starter.size()
        except StarterMissing:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        self._check_free_space(target.parent, size)
        if progress is not None:
            progress(0, 1)
        try:
            starter.write(partial)
            os.replace(partial, target)
        except (OSError, StarterMissing) as exc:
            partial.unlink(missing_ok=True)
            raise LibraryError(f"Could not set up the starter model {starter.file_name}: {exc}"
                               ) from exc
        if progress is not None:
            progress(1, 1)
        info = read_model_info(target)
        if row is not None:
            return self._relocate(self._entry(row), target, "copy", info, None)
        return self._insert(target, "copy", info, file_fingerprint(target), None,
                            is_starter=True)

    # Removing -----------------------------------------------------------------------------

    def remove(self, entry_id: int, *, delete_file: bool = False) -> None:
        """Forget an entry; with ``delete_file``, also delete a file the library copied.

        Linked files are never deleted: they belong to the person, not to the library.
        """
        entry = self.get(entry_id)
        if delete_file and entry.owns_file and entry.path.is_file():
            entry.path.unlink()
        self.conn.execute("DELETE FROM models WHERE id = ?", (entry_id,))
        starter = starter_for_file(entry.path) if entry.is_starter else None
        if starter is not None:
            set_setting(self.conn, starter.declined_setting, True)
        self._attach_orphan_adapters()

    # Internals ----------------------------------------------------------------------------

    def _insert(self, path: Path, storage: str, info: ModelInfo, fingerprint: str,
                source_path: str | None, *, is_starter: bool = False,
                provenance: dict[str, Any] | None = None,
                base_model_id: int | None = None) -> LibraryEntry:
        cursor = self.conn.execute(
            "INSERT INTO models (path, storage, kind, display_name, architecture, fingerprint,"
            " file_size, base_model_id, source_path, info_json, provenance_json, is_starter)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(path), storage, info.kind, info.display_name, info.architecture, fingerprint,
             info.file_size, base_model_id if info.kind == "adapter" else None, source_path, json.dumps(info.to_dict()),
             json.dumps(provenance) if provenance else None, int(is_starter)))
        self._attach_orphan_adapters()
        assert cursor.lastrowid is not None  # set by every INSERT
        return self.get(cursor.lastrowid)

    def _attach_orphan_adapters(self) -> None:
        """Give adapters without a base (none yet, or it was removed) one of their architecture."""
        self.conn.execute(
            "UPDATE models SET base_model_id = (SELECT m.id FROM models m WHERE m.kind = 'model'"
            " AND m.architecture = models.architecture ORDER BY m.is_starter, m.id LIMIT 1)"
            " WHERE kind = 'adapter' AND base_model_id IS NULL")

    def _relocate(self, entry: LibraryEntry, path: Path, storage: str, info: ModelInfo,
                  source_path: str | None) -> LibraryEntry:
        self.conn.execute(
            "UPDATE models SET path = ?, storage = ?, info_json = ?, source_path = ? WHERE id = ?",
            (str(path), storage, json.dumps(info.to_dict()), source_path, entry.id))
        return self.get(entry.id)

    def _entry(self, row: sqlite3.Row) -> LibraryEntry:
        return LibraryEntry(
            id=row["id"], path=Path(row["path"]), storage=row["storage"],
            info=ModelInfo.from_dict(json.loads(row["info_json"])),
            fingerprint=row["fingerprint"], base_model_id=row["base_model_id"],
            source_path=row["source_path"], is_starter=bool(row["is_starter"]),
            added_at=row["added_at"],
            provenance=json.loads(row["provenance_json"]) if row["provenance_json"] else None)

    def _copy_into_library(self, source: Path, size: int,
                           progress: ProgressCallback | None) -> Path:
        """Copy through a ``.partial`` file so an interrupted copy is never registered."""
        folder = self.paths.models_dir
        folder.mkdir(parents=True, exist_ok=True)
        self._check_free_space(folder, size)
        target = self._free_name(folder / source.name)
        partial = target.with_name(target.name + ".partial")
        done = 0
        try:
            with source.open("rb") as reader, partial.open("wb") as writer:
                while block := reader.read(_COPY_BLOCK):
                    writer.write(block)
                    done += len(block)
                    if progress is not None and progress(done, size) is False:
                        raise ImportCancelled(f"Import of {source.name} was cancelled.")
            shutil.copystat(source, partial)
            os.replace(partial, target)
        except ImportCancelled:
            partial.unlink(missing_ok=True)
            raise
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise LibraryError(f"Could not copy {source.name} into the library: "
                               f"{exc.strerror or exc}.") from exc
        return target

    def _move_into_library(self, source: Path) -> Path:
        folder = self.paths.models_dir
        folder.mkdir(parents=True, exist_ok=True)
        target = self._free_name(folder / source.name)
        try:
            os.replace(source, target)
        except OSError as exc:
            raise LibraryError(f"Could not move {source.name} into the library: "
                               f"{exc.strerror or exc}.") from exc
        return target

    @staticmethod
    def _check_free_space(folder: Path, needed: int) -> None:
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise LibraryError(
                f"Not enough disk space: the file needs {format_bytes(needed)} but only "
                f"{format_bytes(free)} is free in {folder}. Free some space, or link the file "
                f"where it is instead of copying it.")

    @staticmethod
    def _free_name(target: Path) -> Path:
        candidate, number = target, 2
        while candidate.exists():
            candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
            number += 1
        return candidate

    @staticmethod
    def _gguf_files(folder: Path) -> Iterator[Path]:
        for root, dirs, files in os.walk(folder, onerror=lambda error: None):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            for name in files:
                if name.lower().endswith(".gguf"):
                    yield Path(root) / name


def _name_key(text: str) -> str:
    """A name as compared for lookups: lower case, runs of anything but letters, digits and dots
    as one dash ("SmolLM2 135M Instruct" and "smollm2-135m-instruct" are the same)."""
    return re.sub(r"[^a-z0-9.]+", "-", text.casefold()).strip("-.")
