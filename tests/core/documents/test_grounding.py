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
