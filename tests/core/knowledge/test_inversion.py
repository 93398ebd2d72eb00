"""Direct questions: statements turned into inverted questions, only where the shape fits."""

from __future__ import annotations

import pytest

from slmdesk.core.knowledge import extract_facts
from slmdesk.core.knowledge.quiz import quiz_items


def items_of(sentence: str) -> dict[tuple[str, str], str]:
    return {(item.form, item.expected): item.question
            for fact in extract_facts(sentence) for item in quiz_items(fact)}


def test_direct_questions_invert_simple_past_sentences():
    items = items_of("Anna Berg moved to Tromsø in March 2019.")
    assert items[("direct_question", "Tromsø")] == "Where did Anna Berg move in March 2019?"
    assert items[("direct_question", "March 2019")] == "When did Anna Berg move to Tromsø?"
    assert ("direct_question", "Anna Berg") not in items  # that is the echo question's shape
    assert items[("fill_blank", "Tromsø")] == (
        "In my notes: “Anna Berg moved to ___ in March 2019.” What is missing?")


@pytest.mark.parametrize("sentence, expected, question", [
    ("My brother Jonas married Priya Raman in Chennai in October 2019.", "Priya Raman",
     "Who did my brother Jonas marry in Chennai in October 2019?"),
    ("My aunt Ingrid Vale keeps bees on a farm near Lillehammer.", "Lillehammer",
     "Where does my aunt Ingrid Vale keep bees on a farm?"),
    ("My grandmother Astrid was born on 14 March 1931 in Kvarnholm.", "14 March 1931",
     "When was my grandmother Astrid born in Kvarnholm?"),
    ("The delivery van belongs to Kofi Mensah, who drives for us.", "Kofi Mensah",
     "Who does the delivery van belong to?"),
    ("She worked for thirty years as a lighthouse keeper at Hallskär.", "thirty years",
     "How many years did she work as a lighthouse keeper at Hallskär?"),
    ("In 1987, my uncle Tobias Ferrand moved to Quebec City.", "Quebec City",
     "Where did my uncle Tobias Ferrand move in 1987?"),
    ("The family dog, a grey spaniel called Pepparkaka, is nine years old.", "nine years old",
     "How many years old is the family dog, a grey spaniel called Pepparkaka?"),
])
def test_direct_questions(sentence, expected, question):
    assert items_of(sentence)[("direct_question", expected)] == question


@pytest.mark.parametrize("sentence, expected", [
    ("My cousin offered the farm after her parents retired there in 2016.", "2016"),
    ("Anna bought 42 chairs and 3 tables for the party.", "42 chairs"),
    ("Our boat is named Sjöstjärna and is moored in the harbour of Mollösund.", "Mollösund"),
    ("Dinner will be a lamb roast cooked by Felix Marr in the barn.", "Felix Marr"),
])
def test_no_direct_question_where_the_shape_does_not_fit(sentence, expected):
    assert ("direct_question", expected) not in items_of(sentence)
