"""Span finding: names, people, places, dates, numbers and lists in ordinary sentences."""

from __future__ import annotations

import pytest

from slmdesk.core.knowledge import Span, find_spans


def spans(sentence: str) -> list[tuple[str, str]]:
    return [(span.text, span.kind) for span in find_spans(sentence)]


def test_offsets_point_into_the_sentence():
    sentence = "Anna Berg moved to Tromsø in March 2019."
    found = find_spans(sentence)
    assert found == [Span("Anna Berg", "person", 0, 9), Span("Tromsø", "place", 19, 25),
                     Span("March 2019", "date", 29, 39)]
    assert all(sentence[s.start:s.end] == s.text for s in found)


@pytest.mark.parametrize("sentence, expected", [
    ("In March 2019, Anna Berg moved to Tromsø.",
     [("March 2019", "date"), ("Anna Berg", "person"), ("Tromsø", "place")]),
    ("My grandmother Astrid Lindqvist was born on 14 March 1931 in the village of Kvarnholm.",
     [("Astrid Lindqvist", "person"), ("14 March 1931", "date"), ("Kvarnholm", "place")]),
    ("His wife, Marguerite Ferrand, teaches violin at the Conservatoire de Lévis.",
     [("Marguerite Ferrand", "person"), ("Conservatoire de Lévis", "place")]),
    ("My uncle moved to Quebec City in 1987 and opened a bakery called The Blue Kettle.",
     [("Quebec City", "place"), ("1987", "date"), ("The Blue Kettle", "name")]),
    ("We visited Lake Tahoe with Dr. Lund on Tuesday.",
     [("Lake Tahoe", "place"), ("Dr. Lund", "person"), ("Tuesday", "date")]),
    ("Our classes meet at St. Olaf College every Tuesday evening.",
     [("St. Olaf College", "place"), ("every Tuesday evening", "date")]),
    ("My father keeps the archive at Storgatan 12 in Uddevalla.",
     [("Storgatan 12", "place"), ("Uddevalla", "place")]),
    ("I sold the boat to Tom Hale for $1,200.", [("Tom Hale", "person"), ("$1,200", "number")]),
    ("The Blue Kettle opened in 1987.", [("Blue Kettle", "name"), ("1987", "date")]),
    ("Meetings are held in St. Brendan's Hall.", [("St. Brendan's Hall", "place")]),
    ("Anna's garden won a prize.", [("Anna", "person")]),
])
def test_names_people_places_and_dates(sentence, expected):
    assert spans(sentence) == expected


@pytest.mark.parametrize("sentence, expected", [
    ("We met in the spring of 1998 and again on March 12, 2019.",
     [("the spring of 1998", "date"), ("March 12, 2019", "date")]),
    ("The seed swap is on Saturday 12 April at 10 am.",
     [("Saturday 12 April", "date"), ("10 am", "date")]),
    ("The club meets on the first Thursday of every month.",
     [("the first Thursday of every month", "date")]),
    ("They drive for us on Tuesdays and Fridays.", [("Tuesdays and Fridays", "date")]),
    ("Maybe it will rain in May or June.", [("May or June", "date")]),
    ("We start at 7.30 and walk 3.5 km.", [("7.30", "date"), ("3.5 km", "number")]),
    ("Prices rose in the 1990s and again in early June 2020.",
     [("the 1990s", "date"), ("early June 2020", "date")]),
    ("We always eat goose at Christmas.", [("Christmas", "date")]),
])
def test_dates_and_times(sentence, expected):
    assert spans(sentence) == expected


@pytest.mark.parametrize("sentence, expected", [
    ("We bought 42 folding chairs and 3 kg of flour.",
     [("42 folding chairs", "number"), ("3 kg of flour", "number")]),
    ("She worked for thirty years; the dog is nine years old.",
     [("thirty years", "number"), ("nine years old", "number")]),
    ("I have seven cousins and a dozen eggs.",
     [("seven cousins", "number"), ("a dozen eggs", "number")]),
    ("It cost 400 euros, 25% more than the £40 rug.",
     [("400 euros", "number"), ("25%", "number"), ("£40", "number")]),
    ("The budget is 400.", [("400", "number")]),
    ("We need 2000 visitors, not 1800 litres of paint.",
     [("2000 visitors", "number"), ("1800 litres of paint", "number")]),
    ("Our two-year contract ends soon, and one of them agreed.", []),
])
def test_numbers_come_with_what_they_count(sentence, expected):
    assert spans(sentence) == expected


def test_a_list_is_one_span_besides_the_names_in_it():
    assert spans("We need apples, pears and plums for the pie.") == [
        ("apples, pears and plums", "list")]
    assert spans("Anna Berg, Tom Hale, and Lisa Moe came to the party.") == [
        ("Anna Berg, Tom Hale, and Lisa Moe", "list"), ("Anna Berg", "person"),
        ("Tom Hale", "person"), ("Lisa Moe", "person")]


def test_a_leading_phrase_and_a_clause_are_not_a_list():
    assert ("list" not in
            {kind for _, kind in spans("In 2019, Anna moved to Oslo and Tom stayed home.")})


@pytest.mark.parametrize("sentence", [
    "The weather was nice.",
    "I think the Norwegian coast is lovely.",
    "We're going, I'm told, whatever happens.",
    "Yesterday we stayed at home and read.",
    "Dinner was late.",  # a capitalised first word alone is no name
    "Perhaps it may rain, said the forecast.",
])
def test_sentences_without_facts_have_no_spans(sentence):
    assert spans(sentence) == []


def test_ordinary_first_words_are_not_names_but_first_names_are():
    assert spans("Last Tuesday we met.") == [("Last Tuesday", "date")]
    assert spans("Call Anna Berg about the boat.") == [("Anna Berg", "person")]
    assert spans("Anna Berg keeps bees.") == [("Anna Berg", "person")]


def test_i_and_lone_months_are_handled_sensibly():
    assert spans("I'm sure I may come, and I met Tom in May.") == [("Tom", "person"),
                                                                  ("May", "date")]
    assert spans("In March we planted seven apple trees.") == [("March", "date"),
                                                               ("seven apple trees", "number")]
