"""Echo questions: the sentence with one span replaced by the question word for it."""

from __future__ import annotations

import pytest

from slmdesk.core.knowledge import Fact, find_spans
from slmdesk.core.knowledge.echo import echo_questions, embedded_questions
from slmdesk.core.knowledge.facts import spans_outside_lists


def asked(sentence: str, ask=echo_questions) -> dict[str, str]:
    """The first question ``ask`` makes for each span, by the span's text."""
    spans = tuple(find_spans(sentence))
    candidates = spans_outside_lists(Fact(sentence, spans, 0))
    questions: dict[str, str] = {}
    for span, question in ask(sentence, spans, candidates):
        questions.setdefault(span.text, question)
    return questions


def all_asked(sentence: str, ask=echo_questions) -> list[tuple[str, str]]:
    spans = tuple(find_spans(sentence))
    candidates = spans_outside_lists(Fact(sentence, spans, 0))
    return [(span.text, question) for span, question in ask(sentence, spans, candidates)]


def test_one_question_per_span_with_the_right_question_word():
    assert asked("Anna Berg moved to Tromsø in March 2019.") == {
        "Anna Berg": "Who moved to Tromsø in March 2019?",
        "Tromsø": "Anna Berg moved to where in March 2019?",
        "March 2019": "Anna Berg moved to Tromsø when?",
    }


def test_a_leading_phrase_is_asked_at_the_end():
    assert asked("In March 2019, Anna Berg moved to Tromsø.") == {
        "March 2019": "Anna Berg moved to Tromsø when?",
        "Anna Berg": "Who moved to Tromsø in March 2019?",
        "Tromsø": "Anna Berg moved to where in March 2019?",
    }


@pytest.mark.parametrize("sentence, span, question", [
    ("My brother Jonas married Priya Raman in Chennai.", "Jonas",
     "Who married Priya Raman in Chennai?"),
    ("His wife, Marguerite Ferrand, teaches violin in Lévis.", "Marguerite Ferrand",
     "Who teaches violin in Lévis?"),
    ("Astrid was born in the village of Kvarnholm on Orust.", "Kvarnholm",
     "Astrid was born in which village on Orust?"),
    ("Anna's garden won a prize at the show in Hamar.", "Anna",
     "Whose garden won a prize at the show in Hamar?"),
    ("We bought 42 folding chairs for the party.", "42 folding chairs",
     "We bought how many folding chairs for the party?"),
    ("We used 3 kg of flour for the cakes.", "3 kg of flour",
     "We used how much flour for the cakes?"),
    ("The boat cost $1,200 in Bergen.", "$1,200", "The boat cost how much in Bergen?"),
    ("Tobias opened a bakery called The Blue Kettle in Lévis.", "The Blue Kettle",
     "Tobias opened a bakery called what in Lévis?"),
    ("We need apples, pears and plums for the pie.", "apples, pears and plums",
     "We need what for the pie?"),
    ("Our neighbour Carla Brennan runs the shop, and she prefers orders by email before "
     "Wednesday noon.", "Wednesday noon", "She prefers orders by email before when?"),
    ("Lucy Farrow, who owns the print studio, designs our labels in Leeds.", "Lucy Farrow",
     "Who designs our labels in Leeds?"),
])
def test_question_words_read_right(sentence, span, question):
    assert asked(sentence)[span] == question


def test_names_inside_a_list_are_asked_as_the_list():
    questions = asked("We invited Anna Berg, Tom Hale and Lisa Moe to the party.")
    assert questions == {"Anna Berg, Tom Hale and Lisa Moe": "We invited who to the party?"}


def test_a_span_written_twice_is_not_asked():
    assert "Oslo" not in asked("Anna moved from Oslo to Bergen and back to Oslo.")


@pytest.mark.parametrize("sentence, span, question", [
    ("The delivery van belongs to Kofi Mensah.", "Kofi Mensah", "who the delivery van belongs to"),
    ("Anna Berg moved to Tromsø in March 2019.", "Tromsø", "where Anna Berg moved to"),
    ("Anna Berg moved to Tromsø in March 2019.", "Anna Berg", "who moved to Tromsø"),
    ("In March 2024, a pallet of jars arrived cracked.", "March 2024",
     "when a pallet of jars arrived cracked"),
    ("Vandermeer refunded €410 within a week.", "€410", "how much Vandermeer refunded within a week"),
    ("We ordered 18 bottles from Juniper Lane.", "18 bottles",
     "how many bottles we ordered"),
])
def test_embedded_questions_put_the_question_words_first(sentence, span, question):
    assert asked(sentence, embedded_questions)[span] == question


@pytest.mark.parametrize("sentence, span, question", [
    # the phrase naming another span goes, as a person asking would leave it out
    ("The reunion will take place on Saturday 9 August 2025 at Birchwood Farm near Hexham.",
     "Saturday 9 August 2025", "when the reunion will take place"),
    # a clause joined by "and" goes; "Tuesdays and Fridays" is not a clause
    ("Lucy Farrow designs our labels and charges £150 per design.", "Lucy Farrow",
     "who designs our labels"),
    ("Kofi Mensah drives the van on Tuesdays and Fridays.", "Kofi Mensah", "who drives the van"),
    # never down to a single word that says something: "who is flying" keeps its place
    ("Uncle Rasmus Lindahl is flying in from Halifax with his wife Noor.", "Uncle Rasmus Lindahl",
     "who is flying in from Halifax"),
    # "about 46 guests" is asked as a whole, not "how many guests we expect about"
    ("We expect about 46 guests, including eleven children under ten.", "46 guests",
     "how many guests we expect"),
])
def test_embedded_questions_carry_one_cue_not_the_whole_sentence(sentence, span, question):
    assert asked(sentence, embedded_questions)[span] == question


def test_embedded_questions_keep_what_changes_their_meaning():
    # a negation stays whole: "who does not work for Greenleaf Catering" is another question
    assert asked("Tom Hale does not work for Greenleaf Catering after 2023.",
                 embedded_questions)["Tom Hale"] == (
        "who does not work for Greenleaf Catering after 2023")
    # "about" as a preposition is not "roughly": never "how many invoices we argued"
    questions = asked("We argued about 2 invoices with Hartley & Sons.", embedded_questions)
    assert questions.get("2 invoices") in (None, "how many invoices we argued about")


@pytest.mark.parametrize("sentence, span", [
    # a preposition would be stranded before more words
    ("Meetings are held in the back room of St. Brendan's Hall on Wexley Road.",
     "St. Brendan's Hall"),
    # "where ... near" reads wrong
    ("Next spring we want beeswax from Hilltop Apiary near Harrogate.", "Harrogate"),
    ("The reunion will take place at Birchwood Farm near Hexham in May.", "Hexham"),
    # an imperative has no subject to ask about
    ("Please send your replies to Tilda by 30 June.", "Tilda"),
    # "what" would leave the noun the name belongs to behind ("what Felix runs café")
    ("Felix Marr runs the Copper Pot café in Corbridge.", "Copper Pot"),
])
def test_no_embedded_question_where_it_would_read_wrong(sentence, span):
    assert span not in asked(sentence, embedded_questions)
