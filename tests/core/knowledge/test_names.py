"""Names in context: what the rest of a document shows settles what one sentence leaves open."""

from __future__ import annotations

from slmdesk.core.knowledge import extract_facts, find_spans


def kinds(text: str) -> list[list[tuple[str, str]]]:
    return [[(s.text, s.kind) for s in fact.spans] for fact in extract_facts(text)]


def test_a_first_name_alone_is_known_from_the_full_name_elsewhere():
    assert find_spans("Anna moved to Oslo in 2019.")[0].text == "Oslo"  # alone: unknown
    text = "Our neighbour Anna Berg keeps bees. Anna moved to Oslo in 2019."
    assert kinds(text)[1] == [("Anna", "person"), ("Oslo", "place"), ("2019", "date")]


def test_a_known_person_after_to_is_not_a_place():
    text = "My friend Tom Hale lives in Bergen. I sold the boat to Tom Hale last week."
    assert ("Tom Hale", "person") in kinds(text)[1]


def test_a_known_place_stays_a_place_before_a_verb():
    assert find_spans("Tromsø has a long winter.") == []
    text = "Anna Berg moved to Tromsø in 2019. Tromsø has a long winter and a big harbour."
    assert kinds(text)[1] == [("Tromsø", "place")]


def test_a_business_name_alone_stays_a_business():
    text = ("Wicks come from a small firm called Vandermeer Supply. "
            "In 2024, Vandermeer refunded €410 within a week.")
    assert ("Vandermeer", "name") in kinds(text)[1]


def test_names_used_as_adjectives_are_not_spans():
    assert kinds("Notes on the Lindqvist family. My grandmother Astrid Lindqvist was born in "
                 "Kvarnholm.")[0] == [("Astrid Lindqvist", "person"), ("Kvarnholm", "place")]
