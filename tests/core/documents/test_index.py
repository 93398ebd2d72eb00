"""The document index on real files in a real SQLite database: collections, incremental updates,
search with citations, cancel, and the bad inputs (unreadable, vanished, locked)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from slmdesk.core import db
from slmdesk.core.documents.index import CollectionError, DocumentIndex
from slmdesk.core.documents.search import search
from slmdesk.paths import app_paths
from tests.document_factory import write_docx, write_pdf


@pytest.fixture
def index() -> DocumentIndex:
    conn = db.connect(app_paths().database)
    yield DocumentIndex(conn)
    conn.close()


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "reunion.txt").write_text("The family reunion is at Birchwood Farm on 9 August.\n\n"
                                        "Felix Marr cooks a lamb roast for the dinner.\n", encoding="utf-8")
    (folder / "garden.md").write_text("# Garden club\n\nThe garden club meets at St Brendan's Hall.\n\n"
                                      "## Fees\n\nMembership costs 35 dollars, paid to Omar Haddad.\n",
                                      encoding="utf-8")
    write_pdf(folder / "candles.pdf", [["Supplier notes for Hollowbrook Candles."],
                                       ["Our wax comes from Brennan and Sons in Leeds."],
                                       ["Jars come from Vandermeer Glass."]])
    write_docx(folder / "choir.docx", title="Choir", paragraphs=["The choir rehearses on Thursdays in the crypt."])
    (folder / "page.html").write_text("<html><head><title>Bike</title><script>var x='nope';</script></head>"
                                      "<body><h1>Bike</h1><p>The bicycle tyre pressure is 4 bar.</p></body></html>",
                                      encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"this is not a pdf at all")
    return folder


def _files_of(passages: list) -> list[str]:
    return [passage.file_name for passage in passages]


def test_a_collection_of_every_kind_is_searchable_with_citations(index, tmp_path):
    folder = _folder(tmp_path)
    collection = index.create("notes", [folder])
    report = index.update("notes")
    assert len(report.added) == 5 and report.unchanged == 0
    assert [(s.path.name, s.reason) for s in report.skipped] == [
        ("broken.pdf", "The PDF is damaged: it does not start like a PDF file.")]
    assert [s.path.name for s in index.skipped_files("notes")] == ["broken.pdf"]
    listed = index.get("notes")
    assert (listed.files, listed.skipped, listed.status) == (5, 1, "ready")

    wax = search(index.conn, [collection.id], "Where does the wax come from?")
    assert wax[0].file_name == "candles.pdf" and wax[0].place == "page 2"
    assert "Brennan" in wax[0].text and wax[0].citation() == "candles.pdf, page 2"
    fee = search(index.conn, [collection.id], "How much is the membership fee?")
    assert fee[0].file_name == "garden.md" and fee[0].place == "line 1" and "35 dollars" in fee[0].text
    assert search(index.conn, [collection.id], "When does the choir rehearse?")[0].file_name == "choir.docx"
    tyre = search(index.conn, [collection.id], "what pressure for the tyre")
    assert tyre[0].file_name == "page.html" and "nope" not in tyre[0].text
    # Stemming: "cooking" finds "cooks"; and a question about nothing in the files finds nothing.
    assert search(index.conn, [collection.id], "Who is cooking?")[0].file_name == "reunion.txt"
    assert search(index.conn, [collection.id], "What is the capital of France?") == []
    # FTS5 syntax in a question is only words.
    assert search(index.conn, [collection.id], 'AND "wax" OR (NEAR') != []


def test_watched_folder_add_change_delete_without_rebuild(index, tmp_path):
    folder = _folder(tmp_path)
    collection = index.create("notes", [folder])
    index.update("notes")
    (folder / "new.txt").write_text("The lighthouse keeper is called Agnes Moreau.", encoding="utf-8")
    reunion = folder / "reunion.txt"
    reunion.write_text("The family reunion moved to Aarhus harbour.", encoding="utf-8")
    os.utime(reunion, ns=(reunion.stat().st_atime_ns, reunion.stat().st_mtime_ns + 10**9))
    (folder / "choir.docx").unlink()

    report = index.update("notes")
    assert [p.name for p in report.added] == ["new.txt"]
    assert [p.name for p in report.changed] == ["reunion.txt"]
    assert [p.name for p in report.removed] == ["choir.docx"]
    assert report.unchanged == 4  # garden, candles, page, and broken.pdf (still listed as unreadable)
    assert [s.path.name for s in report.skipped] == ["broken.pdf"]
    assert _files_of(search(index.conn, [collection.id], "lighthouse keeper")) == ["new.txt"]
    assert search(index.conn, [collection.id], "Birchwood") == []  # the old passage is gone
    assert _files_of(search(index.conn, [collection.id], "Aarhus harbour")) == ["reunion.txt"]
    assert search(index.conn, [collection.id], "choir rehearses") == []
    # The FTS index holds exactly the passages left (no orphans from the cascading deletes).
    fts = index.conn.execute("SELECT COUNT(*) FROM doc_chunks_fts").fetchone()[0]
    assert fts == index.conn.execute("SELECT COUNT(*) FROM doc_chunks").fetchone()[0]


def test_touched_file_is_not_read_again_and_rebuild_reads_all(index, tmp_path):
    folder = _folder(tmp_path)
    index.create("notes", [folder])
    index.update("notes")
    before = index.conn.execute("SELECT id, text FROM doc_chunks ORDER BY id").fetchall()
    garden = folder / "garden.md"
    os.utime(garden, ns=(garden.stat().st_atime_ns, garden.stat().st_mtime_ns + 5 * 10**9))
    report = index.update("notes")
    assert report.unchanged == 6 and not report.changed  # same hash: only the time is updated
    assert index.conn.execute("SELECT id, text FROM doc_chunks ORDER BY id").fetchall() == before
    rebuilt = index.update("notes", rebuild=True)
    assert len(rebuilt.changed) == 5
    assert [row[1] for row in index.conn.execute("SELECT id, text FROM doc_chunks ORDER BY id")] \
        == [row[1] for row in before]


def test_cancel_leaves_a_usable_index_and_the_next_update_finishes(index, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(100):
        (folder / f"note_{number:03}.txt").write_text(f"Note {number}: the code word is zebra{number}.",
                                                      encoding="utf-8")
    collection = index.create("many", [folder])
    seen: list[tuple[int, int]] = []

    def stop_at_40(done: int, total: int) -> bool:
        seen.append((done, total))
        return done < 40

    report = index.update("many", stop_at_40)
    assert report.cancelled and len(report.added) == 40 and seen[-1] == (40, 100)
    assert index.get("many").status == "interrupted"
    assert _files_of(search(index.conn, [collection.id], "zebra7")) == ["note_007.txt"]
    finished = index.update("many")
    assert len(finished.added) == 60 and finished.unchanged == 40 and index.get("many").files == 100


def test_vanished_file_and_missing_source_are_reported(index, tmp_path):
    folder = _folder(tmp_path)
    gone = tmp_path / "gone.txt"
    gone.write_text("temporary", encoding="utf-8")
    index.create("notes", [folder, gone])
    index.update("notes")
    gone.unlink()
    # Vanishes between the scan and its turn: removed, reported, the rest indexed.
    (folder / "later.txt").write_text("written late", encoding="utf-8")

    def remove_during(done: int, total: int) -> bool:
        if done == 1:
            (folder / "later.txt").unlink(missing_ok=True)
        return True

    report = index.update("notes", remove_during)
    reasons = {s.path.name: s.reason for s in report.skipped}
    assert "no longer exists" in reasons["gone.txt"]
    assert reasons["later.txt"] == "It disappeared while it was being indexed."
    # a source given by name that is gone keeps its passages until it is removed or back
    assert "stays searchable" in reasons["gone.txt"] and index.get("notes").files == 6
    index.remove_path("notes", gone)
    index.update("notes")
    assert index.get("notes").files == 5


def test_a_missing_folder_keeps_its_passages_until_it_is_back(index, tmp_path):
    """An unplugged drive must not empty the collection at the next re-scan (every 30 s)."""
    folder = _folder(tmp_path)
    index.create("notes", [folder])
    index.update("notes")
    files = index.get("notes").files
    assert files > 0
    moved = folder.rename(tmp_path / "elsewhere")
    report = index.update("notes")
    assert "stays searchable" in {s.path: s.reason for s in report.skipped}[folder]
    assert report.removed == [] and index.get("notes").files == files
    moved.rename(folder)
    (folder / next(p.name for p in folder.iterdir())).unlink()  # back, with one file fewer
    report = index.update("notes")
    assert len(report.removed) == 1 and index.get("notes").files == files - 1


def test_an_embedder_that_fails_leaves_the_passages_searchable_by_words(index, tmp_path):
    """The embedding process failing (here: a damaged model file) must not fail the indexing."""
    from slmdesk.core.documents.embedding import ChildEmbedder
    from slmdesk.core.documents.search import search

    broken = tmp_path / "broken-embedder.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    embedder = ChildEmbedder(broken)
    try:
        index.create("notes", [_folder(tmp_path)])
        report = index.update("notes", embedder=embedder)
    finally:
        embedder.close()
    assert report.embedding_failed and "words only for now" in report.summary()
    assert index.get("notes").status == "ready" and index.get("notes").files > 0
    found = search(index.conn, [index.get("notes").id], "Who cooks the lamb roast?")
    assert found and "Felix Marr" in found[0].text


def test_names_and_a_locked_database(index, tmp_path):
    index.create("Notes", [])
    with pytest.raises(CollectionError, match="already a collection"):
        index.create("notes")
    with pytest.raises(CollectionError, match="no collection named"):
        index.update("nothing")
    folder = _folder(tmp_path)
    index.add_paths("Notes", [folder])
    other = sqlite3.connect(app_paths().database, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    index.conn.execute("PRAGMA busy_timeout = 100")
    try:
        with pytest.raises(CollectionError, match="database is busy or locked"):
            index.update("Notes")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert index.update("Notes").added  # nothing was lost: it indexes once the lock is gone
    index.delete("Notes")
    assert index.collections() == [] and index.conn.execute("SELECT COUNT(*) FROM doc_chunks").fetchone()[0] == 0


def test_a_decompression_bomb_and_a_huge_file_are_refused_with_nothing_lost(index, tmp_path, monkeypatch):
    import zipfile

    from slmdesk.core.documents import _readers

    monkeypatch.setattr(_readers, "MAX_UNPACKED_BYTES", 100 * 1000 * 1000)  # 1 GB takes long to write
    folder = _folder(tmp_path)
    bomb = folder / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            block = b" " * (1 << 24)
            for _ in range(8):  # 128 MiB of spaces, about 130 kB on disk
                part.write(block)
    huge = folder / "huge.txt"
    with huge.open("wb") as handle:  # sparse: no disk space, and never read
        handle.truncate(60 * 1000 * 1000)
    index.create("notes", [folder])
    report = index.update("notes")
    reasons = {s.path.name: s.reason for s in report.skipped}
    assert "zip bomb" in reasons["bomb.docx"] and bomb.stat().st_size < 1_000_000
    assert reasons["huge.txt"].startswith("The file is too large (60 MB)")
    assert len(report.added) == 5  # the others are indexed as usual


def _write_kind(path: Path, sentence: str) -> None:
    """``sentence`` as a real file of the kind ``path``'s suffix names."""
    if path.suffix == ".pdf":
        write_pdf(path, [[sentence]])
    elif path.suffix == ".docx":
        write_docx(path, title=None, paragraphs=[sentence])
    elif path.suffix == ".html":
        path.write_text(f"<html><body><p>{sentence}</p></body></html>", encoding="utf-8")
    else:
        path.write_text(f"# Note\n\n{sentence}\n", encoding="utf-8")


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".md", ".html"])
def test_each_kind_added_changed_and_deleted_in_a_watched_folder(index, tmp_path, suffix):
    folder = _folder(tmp_path)
    collection = index.create("notes", [folder])
    index.update("notes")
    path = folder / f"ferry{suffix}"
    _write_kind(path, "The ferry to Skerry Island leaves at seven.")
    assert [p.name for p in index.update("notes").added] == [path.name]
    assert _files_of(search(index.conn, [collection.id], "Skerry Island ferry")) == [path.name]
    _write_kind(path, "The ferry now sails from Quayle Pier at nine.")
    stat = path.stat()  # a rewrite within the same clock tick still counts as a change
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert [p.name for p in index.update("notes").changed] == [path.name]
    assert search(index.conn, [collection.id], "Skerry") == []
    assert _files_of(search(index.conn, [collection.id], "Quayle Pier")) == [path.name]
    path.unlink()
    assert [p.name for p in index.update("notes").removed] == [path.name]
    assert search(index.conn, [collection.id], "Quayle Pier ferry") == []
