"""The document index on real files in a real SQLite database: collections, incremental updates,
search with citations, cancel, and the bad inputs (unreadable, vanished, locked)."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path

import numpy as np
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
    assert fee[0].file_name == "garden.md" and fee[0].place == "\u201cFees\u201d, line 5" and "35 dollars" in fee[0].text
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


def test_markdown_word_and_html_passages_are_cited_by_their_heading(index, tmp_path):
    """#18: "the place (page or heading)". A heading starts a passage, so the one named is the one
    the passage stands under; PDFs keep their page, plain text its line."""
    folder = tmp_path / "house"
    folder.mkdir()
    (folder / "house.md").write_text("# House notes\n\nWe moved in during May.\n\n## Garden\n\nThe roses by "
                                     "the back fence need pruning in March.\n\n## Kitchen\n\nThe oven runs "
                                     "twenty degrees hot.\n", encoding="utf-8")
    write_docx(folder / "club.docx", title="Chess club", paragraphs=["The club was founded in 1961."],
               sections={"Fees": ["Members pay 12 euros a month to Ilse Varga."],
                         "Venue": ["Games are played in the library annex."]})
    (folder / "bike.html").write_text("<html><head><title>Bike</title></head><body><h1>Bike care</h1><p>Clean "
                                      "the chain weekly.</p><h2>The <em>tyres</em> &amp; <b>wheels</b></h2><p>The "
                                      "tyre pressure is 4 bar.</p></body></html>", encoding="utf-8")
    (folder / "shopping.txt").write_text("Shopping\n\nBuy lentils and saffron.\n", encoding="utf-8")
    write_pdf(folder / "manual.pdf", [["Boiler manual"], ["The boiler reset button is red."]])
    collection = index.create("house", [folder])
    index.update("house")

    def cited(question: str) -> str:
        return search(index.conn, [collection.id], question)[0].citation()

    assert cited("When do the roses need pruning?") == "house.md, \u201cGarden\u201d, line 5"
    assert cited("How hot does the oven run?") == "house.md, \u201cKitchen\u201d, line 9"
    assert cited("When did we move in?") == "house.md, \u201cHouse notes\u201d, line 1"
    assert cited("How much do members pay?") == "club.docx, \u201cFees\u201d, line 5"
    assert cited("Where are games played?") == "club.docx, \u201cVenue\u201d, line 9"
    assert cited("What is the tyre pressure?") == "bike.html, \u201cThe tyres & wheels\u201d, line 5"
    assert cited("Clean the chain") == "bike.html, \u201cBike care\u201d, line 1"
    assert cited("Buy lentils") == "shopping.txt, line 1"
    assert cited("What colour is the reset button?") == "manual.pdf, page 2"
    roses = search(index.conn, [collection.id], "roses pruning")[0]
    assert roses.heading == "Garden" and roses.to_json()["heading"] == "Garden"
    assert "oven" not in roses.text  # the passage stops at the next heading
    # A long heading is cut in the citation, kept whole in the index.
    long = "A heading that goes on and on about the many plants of the front garden and their care"
    (folder / "long.md").write_text(f"## {long}\n\nThe hydrangeas want acid soil.\n", encoding="utf-8")
    index.update("house")
    hydrangeas = search(index.conn, [collection.id], "hydrangeas soil")[0]
    assert hydrangeas.heading == long and hydrangeas.place == f"\u201c{long[:59]}\u2026\u201d, line 1"


class WordHashEmbedder:
    """A real, small embedder for counting: each word hashed into one of 256 dimensions, the
    counts made unit length. Passages sharing words are near; it records every text it embeds."""

    identity = "test/word-hash-256"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: list[str]) -> list[bytes]:
        self.embedded += texts
        vectors = []
        for text in texts:
            vector = np.zeros(256, dtype=np.float32)
            for word in re.findall(r"\w+", text.lower()):
                vector[hashlib.blake2b(word.encode(), digest_size=2).digest()[0]] += 1.0
            vectors.append((vector / max(float(np.linalg.norm(vector)), 1e-9)).astype(np.float32).tobytes())
        return vectors


def _vectors(index: DocumentIndex, embedder: WordHashEmbedder) -> dict[str, bytes]:
    return {row[0]: row[1] for row in index.conn.execute(
        "SELECT c.text, v.vector FROM doc_chunks c JOIN doc_vectors v ON v.chunk_id = c.id WHERE v.embedder = ?",
        (embedder.identity,))}


def test_a_rebuild_or_an_edit_keeps_the_vectors_of_unchanged_passages(index, tmp_path):
    """Embedding is the slow part of indexing: a rebuild embeds nothing again, an edit only the
    passages it changed, and until then every passage keeps its vector (its file is found by
    meaning the moment its new passages are written, not after the embedding phase)."""
    folder = _folder(tmp_path)
    paragraphs = [f"Paragraph {n} of the diary. " + " ".join(f"word{n}x{i}" for i in range(60)) for n in range(5)]
    diary = folder / "diary.txt"
    diary.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    collection = index.create("notes", [folder])
    embedder = WordHashEmbedder()
    first = index.update("notes", embedder=embedder)
    passages = index.get("notes").passages
    assert first.embedded == passages == len(embedder.embedded) and passages >= 10
    before = _vectors(index, embedder)

    embedder.embedded.clear()
    rebuilt = index.update("notes", rebuild=True)  # no embedder: the file phase only
    assert len(rebuilt.changed) == 6 and rebuilt.embedded == 0
    assert _vectors(index, embedder) == before  # every passage has its vector back, the same one
    found = search(index.conn, [collection.id], "word2x7 word2x8", embedder=embedder)
    assert found[0].file_name == "diary.txt" and found[0].vector_rank == 1 and "Paragraph 2" in found[0].text
    embedder.embedded.clear()
    again = index.update("notes", rebuild=True, embedder=embedder)
    assert again.embedded == 0 and embedder.embedded == []

    paragraphs[3] = "Paragraph 3 was rewritten: the diary now mentions a heron by the pond. " + " ".join(
        f"new{i}" for i in range(80))
    diary.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    os.utime(diary, ns=(diary.stat().st_atime_ns, diary.stat().st_mtime_ns + 10**9))
    edited = index.update("notes", embedder=embedder)
    assert [p.name for p in edited.changed] == ["diary.txt"]
    assert embedder.embedded == [paragraphs[3]] and edited.embedded == 1
    heron = search(index.conn, [collection.id], "heron pond", embedder=embedder)
    assert heron[0].text == paragraphs[3] and heron[0].similarity is not None  # it has its vector
    # No vector is left without its passage, and none of the old paragraph 3 survives.
    assert index.conn.execute("SELECT COUNT(*) FROM doc_vectors WHERE chunk_id NOT IN "
                              "(SELECT id FROM doc_chunks)").fetchone()[0] == 0
    assert index.conn.execute("SELECT COUNT(*) FROM doc_vectors").fetchone()[0] == index.get("notes").passages


def test_a_database_indexed_before_headings_answers_at_once_and_gains_them_without_embedding(tmp_path):
    """Migration 7 adds the heading column to an index written by the previous version: its
    passages answer as before (by line), and the next update re-reads the files once (their
    chunker id is older), naming headings and keeping the vectors of passages whose text is the
    same."""
    folder = tmp_path / "notes"
    folder.mkdir()
    garden = folder / "garden.md"
    garden.write_text("# Garden\n\nThe roses need pruning in March.\n", encoding="utf-8")
    light = folder / "light.txt"
    light.write_text("The lighthouse keeper is called Agnes Moreau.\n", encoding="utf-8")
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    assert db.migrate(old, db.MIGRATIONS[:6]) == 6
    old.execute("INSERT INTO doc_collections(id, name, status) VALUES (1, 'notes', 'ready')")
    old.execute("INSERT INTO doc_sources(collection_id, path) VALUES (1, ?)", (str(folder),))
    embedder = WordHashEmbedder()
    for file_id, (file, text) in enumerate(((garden, "Garden The roses need pruning in March."),
                                            (light, "The lighthouse keeper is called Agnes Moreau.")), start=1):
        stat = file.stat()
        old.execute("INSERT INTO doc_files(id, collection_id, path, status, kind, title, characters, mtime_ns, "
                    "size, sha256, chunker) VALUES (?, 1, ?, 'indexed', ?, ?, ?, ?, ?, '', 'sentences-600-900-200')",
                    (file_id, str(file), file.suffix[1:], file.stem, len(text), stat.st_mtime_ns, stat.st_size))
        old.execute("INSERT INTO doc_chunks(id, file_id, ordinal, page, line, start, text) VALUES (?, ?, 0, NULL, "
                    "1, 0, ?)", (file_id, file_id, text))
        old.execute("INSERT INTO doc_vectors(chunk_id, embedder, vector) VALUES (?, ?, ?)",
                    (file_id, embedder.identity, embedder.embed([text])[0]))
    old.close()

    conn = db.connect(path)
    try:
        assert db.schema_version(conn) == db.SCHEMA_VERSION >= 7
        assert "heading" in {row["name"] for row in conn.execute("PRAGMA table_info(doc_chunks)")}
        found = search(conn, [1], "When do the roses need pruning?")
        assert found[0].citation() == "garden.md, line 1" and found[0].heading is None
        index = DocumentIndex(conn)
        embedder.embedded.clear()
        report = index.update("notes", embedder=embedder)
        assert sorted(p.name for p in report.changed) == ["garden.md", "light.txt"]  # re-read once
        assert search(conn, [1], "roses pruning")[0].citation() == "garden.md, \u201cGarden\u201d, line 1"
        assert embedder.embedded == [] and report.embedded == 0  # the same texts kept their vectors
        assert conn.execute("SELECT COUNT(*) FROM doc_vectors").fetchone()[0] == 2
        assert index.update("notes").unchanged == 2  # and once only
    finally:
        conn.close()
