"""Documents into the prompt: whole when they fit, the best passages when not, and the note to the
model when nothing is relevant."""

from __future__ import annotations

from slmdesk.core import db
from slmdesk.core.documents.grounding import (
    context_budget_characters,
    find_grounding,
    grounded_messages,
)
from slmdesk.core.documents.index import DocumentIndex
from slmdesk.paths import app_paths


def _index(tmp_path, files: int) -> tuple[DocumentIndex, int]:
    folder = tmp_path / "docs"
    folder.mkdir()
    for number in range(files):
        (folder / f"note_{number:02}.txt").write_text(
            f"Note {number}. " + "Filler about the weather and the harbour. " * 12
            + f"The secret word of note {number} is marmalade{number}.", encoding="utf-8")
    index = DocumentIndex(db.connect(app_paths().database))
    collection = index.create("notes", [folder])
    index.update("notes")
    return index, collection.id


def test_small_collection_goes_in_whole_in_the_last_user_turn(tmp_path):
    index, collection = _index(tmp_path, 2)
    budget = context_budget_characters(2048, 256)
    grounding = find_grounding(index.conn, [collection], "What is the secret word?", budget_characters=budget)
    assert grounding.mode == "whole" and [p.file_name for p in grounding.passages] == ["note_00.txt",
                                                                                      "note_01.txt"]
    history = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"},
               {"role": "assistant", "content": "Hi"}, {"role": "user", "content": "What is the secret word?"}]
    messages = grounded_messages(history, grounding)
    assert messages[:3] == history[:3]  # only the question being asked carries the passages
    assert "[1] (note_00.txt, line 1) Note 0." in messages[3]["content"]
    assert "[2] (note_01.txt, line 1)" in messages[3]["content"]
    assert messages[3]["content"].endswith("Question: What is the secret word?")


def test_large_collection_is_searched_within_the_budget(tmp_path):
    index, collection = _index(tmp_path, 30)
    budget = context_budget_characters(1024, 256)
    grounding = find_grounding(index.conn, [collection], "Which note has marmalade17?", budget_characters=budget)
    assert grounding.mode == "search" and grounding.passages[0].file_name == "note_17.txt"
    assert sum(len(p.text) + 40 for p in grounding.passages) <= budget


def test_nothing_relevant_tells_the_model(tmp_path):
    index, collection = _index(tmp_path, 30)
    grounding = find_grounding(index.conn, [collection], "Who won the 1966 World Cup?", budget_characters=2000)
    assert grounding.mode == "none" and grounding.passages == []
    content = grounded_messages([{"role": "user", "content": "Who won the 1966 World Cup?"}], grounding)[0]["content"]
    assert content.startswith("No passage in my documents is relevant")


def test_search_brings_the_neighbouring_passages_in_reading_order(tmp_path):
    """The question's words are in the middle passage of a long file; the answer reads across
    the passages beside it, so they come too, in the file's order, before the other file's."""
    from slmdesk.core.documents.grounding import searched_grounding

    folder = tmp_path / "docs"
    folder.mkdir()
    parts = [f"Part {n}. " + "The harbour was quiet that week and the boats stayed in. " * 9 for n in range(5)]
    parts[2] = parts[2] + "The lighthouse keeper is called Orla Finnegan."
    (folder / "harbour.txt").write_text("\n\n".join(parts), encoding="utf-8")
    (folder / "other.txt").write_text("Another lighthouse stands on the cape, long unmanned.", encoding="utf-8")
    index = DocumentIndex(db.connect(app_paths().database))
    collection = index.create("notes", [folder])
    index.update("notes")
    chunks = index.conn.execute("SELECT c.ordinal, c.text FROM doc_chunks c JOIN doc_files f ON f.id = c.file_id "
                                "WHERE f.path LIKE '%harbour.txt' ORDER BY c.ordinal").fetchall()
    keeper = next(ordinal for ordinal, text in chunks if "Orla Finnegan" in text)
    assert 0 < keeper < len(chunks) - 1
    grounding = searched_grounding(index.conn, [collection.id], "Who is the lighthouse keeper?",
                                   limit=2, budget_characters=10_000)
    texts = [p.text for p in grounding.passages]
    harbour = [p for p in grounding.passages if p.file_name == "harbour.txt"]
    assert [p.text for p in harbour] == [chunks[keeper - 1][1], chunks[keeper][1], chunks[keeper + 1][1]]
    assert grounding.passages[-1].file_name == "other.txt" and len(texts) == 4
    # Within a tight budget the hits come first and a neighbour that does not fit stays out.
    tight = searched_grounding(index.conn, [collection.id], "Who is the lighthouse keeper?", limit=1,
                               budget_characters=len(chunks[keeper][1]) + 40)
    assert [p.text for p in tight.passages] == [chunks[keeper][1]]
