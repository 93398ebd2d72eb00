"""Active "who" questions for what a passive clause says a person did."""

from __future__ import annotations

import pytest

from slmdesk.core.knowledge import find_spans
from slmdesk.core.knowledge.passive import passive_questions


def asked(sentence: str) -> list[tuple[str, str]]:
    return [(span.text, question)
            for span, question in passive_questions(sentence, find_spans(sentence))]


@pytest.mark.parametrize("sentence, person, question", [
    ("The club was founded by Henrik Salo in 1994.", "Henrik Salo", "who founded the club"),
    ("Our labels are designed by Lucy Farrow.", "Lucy Farrow", "who designed our labels"),
    ("The house was built by my grandfather Olav Berg in 1931.", "Olav Berg",
     "who built the house"),
    ("Dinner will be a lamb roast cooked by Felix Marr, who runs a café.", "Felix Marr",
     "who cooked a lamb roast"),
])
def test_a_passive_clause_is_asked_in_the_active(sentence, person, question):
    assert asked(sentence) == [(person, question)]


@pytest.mark.parametrize("sentence", [
    "Henrik Salo founded the club in 1994.",  # already active: the echo question covers it
    "In 2020 the shop was bought by Anna Berg.",  # not a plain noun phrase before "was"
    "The old barn, which was painted by Anna Berg, burned down.",  # inside a relative clause
    "The cake was eaten by Anna Berg.",  # "eaten" is not also a past tense
    "We travelled by train with Anna Berg.",  # "by" not after a participle of a doer
])
def test_no_question_where_the_shape_does_not_fit(sentence):
    assert asked(sentence) == []
