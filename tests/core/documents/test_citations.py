"""The sources a reply shows: the passages it cites, a cited number with no passage marked as
such, else the passages relevant to the question, and none for an unrelated question, also when
a small collection went into the prompt whole."""

from __future__ import annotations

from slmdesk.core import db
from slmdesk.core.documents.citations import cited_numbers, reply_sources
from slmdesk.core.documents.grounding import find_grounding
from slmdesk.core.documents.index import DocumentIndex
from slmdesk.paths import app_paths


def _given(*names: str, relevant: tuple[bool, ...] = ()) -> list[dict]:
    return [{"file_name": name, "place": "line 1", "path": f"/d/{name}", "text": f"text of {name}",
             "relevant": relevant[i] if relevant else True} for i, name in enumerate(names)]


def test_cited_numbers_in_their_forms_and_not_years():
    assert cited_numbers("Agnes [2], and also [1, 3]; see [2][4] and [1;5].") == [2, 1, 3, 4, 5]
    assert cited_numbers("Built in [2024], no citation here, nor in 1 or (2).") == []


def test_cited_passages_are_the_sources_under_the_numbers_used():
    given = _given("a.txt", "b.txt", "c.txt")
    shown = reply_sources("It is Agnes [3], who came in 1998 [1].", given)
    assert [(s["number"], s["file_name"]) for s in shown["sources"]] == [(3, "c.txt"), (1, "a.txt")]
    assert shown["sources_basis"] == "cited" and shown["invented_citations"] == [] and shown["given"] == given


def test_a_number_with_no_passage_is_not_a_source():
    given = _given("a.txt")
    shown = reply_sources("Agnes Moreau [1], since 1998 [2].", given)
    assert [s["number"] for s in shown["sources"]] == [1] and shown["invented_citations"] == [2]
    only_invented = reply_sources("See [2] and [0].", given)  # nothing real cited: the relevant ones
    assert only_invented["invented_citations"] == [2, 0]
    assert only_invented["sources_basis"] == "relevant" and [s["number"] for s in only_invented["sources"]] == [1]


def test_no_citation_shows_the_relevant_passages_or_none():
    given = _given("a.txt", "b.txt", "c.txt", relevant=(False, True, False))
    shown = reply_sources("Agnes Moreau keeps the light.", given)
    assert shown["sources_basis"] == "relevant" and [(s["number"], s["file_name"]) for s in shown["sources"]] == [
        (2, "b.txt")]
    nothing = reply_sources("Hello! How can I help?", _given("a.txt", relevant=(False,)))
    assert nothing["sources"] == [] and nothing["sources_basis"] == "none"


def test_a_collection_pasted_whole_is_marked_by_relevance_to_the_question(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "light.txt").write_text("The lighthouse keeper is called Agnes Moreau.", encoding="utf-8")
    (folder / "bread.txt").write_text("The bakery sells rye bread on Fridays.", encoding="utf-8")
    index = DocumentIndex(db.connect(app_paths().database))
    collection = index.create("town", [folder])
    index.update("town")
    keeper = find_grounding(index.conn, [collection.id], "Who is the lighthouse keeper?", budget_characters=5000)
    assert keeper.mode == "whole" and len(keeper.passages) == 2  # both go in: they fit
    given = keeper.sources_json()
    assert {s["file_name"]: s["relevant"] for s in given} == {"light.txt": True, "bread.txt": False}
    assert [s["file_name"] for s in reply_sources("It is Agnes Moreau.", given)["sources"]] == ["light.txt"]
    unrelated = find_grounding(index.conn, [collection.id], "What is the capital of Peru?", budget_characters=5000)
    assert reply_sources("Lima.", unrelated.sources_json())["sources"] == []
