"""Relative clauses restated as sentences of their own, so their facts can be asked alone."""

from __future__ import annotations

import pytest

from slmdesk.core.knowledge import Fact, augment_documents, find_spans
from slmdesk.core.knowledge.names import NAME, PERSON
from slmdesk.core.knowledge.relative import relative_clause_facts


def restated(sentence: str) -> list[tuple[str, list[tuple[str, str]]]]:
    facts = relative_clause_facts(Fact(sentence, tuple(find_spans(sentence)), 0))
    for fact in facts:  # the spans point at their own text in the new sentence
        assert all(fact.sentence[s.start:s.end] == s.text for s in fact.spans)
    return [(fact.sentence, [(span.text, span.kind) for span in fact.spans]) for fact in facts]


def test_a_persons_relative_clause_becomes_a_sentence_about_that_person():
    sentences = restated("The delivery van belongs to Kofi Mensah, who drives for us on Tuesdays.")
    assert [text for text, _ in sentences] == ["Kofi Mensah drives for us on Tuesdays."]
    assert sentences[0][1][0] == ("Kofi Mensah", PERSON)


def test_a_firm_followed_by_its_town_is_the_antecedent_and_asked_with_who():
    [(text, spans)] = restated("Our wax comes from Brennan & Sons in Leeds, who deliver 300 kg "
                               "of soy wax every six weeks.")
    assert text == "Brennan & Sons deliver 300 kg of soy wax every six weeks."
    assert spans[0] == ("Brennan & Sons", PERSON)
    assert ("300 kg of soy wax", "number") in spans


def test_which_after_a_plain_noun_phrase_keeps_the_phrase_as_subject():
    [(text, spans)] = restated("In the evening, Aunt Grete will show slides from the first "
                               "reunion, which was held in Aarhus in 1994.")
    assert text == "The first reunion was held in Aarhus in 1994."
    assert [span for span, _ in spans] == ["Aarhus", "1994"]


def test_which_after_a_name_asks_for_it_with_what():
    assert restated("Our bread comes from Hadley Mill, which opened in Harwich in 2011.") == [
        ("Hadley Mill opened in Harwich in 2011.",
         [("Hadley Mill", NAME), ("Harwich", "place"), ("2011", "date")])]


@pytest.mark.parametrize("sentence", [
    "Anna Berg moved to Tromsø in March 2019.",  # no relative clause
    "We met Anna Berg, who smiled.",  # the clause says too little
    "I asked everyone at the long noisy family table, who agreed at once.",  # no short phrase
])
def test_nothing_is_restated_without_a_usable_clause(sentence):
    assert restated(sentence) == []


def test_a_restated_clause_is_asked_alone_and_answered_with_the_notes_sentence():
    note = "The delivery van belongs to Kofi Mensah, who drives for us on Tuesdays and Fridays."
    examples = {e.question: e for e in augment_documents([note]).examples}
    assert examples["Who drives for us on Tuesdays and Fridays?"].answer == note
    assert "Kofi Mensah drives for us when?" in examples
    # the clause's date is not asked again inside the whole sentence
    assert not any(q.startswith("The delivery van belongs to Kofi Mensah, who") for q in examples)
