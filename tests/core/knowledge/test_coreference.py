"""Pronouns replaced by the one name they can point to, or left alone."""

from __future__ import annotations

import pytest

from slmdesk.core.knowledge import augment_documents, extract_facts
from slmdesk.core.knowledge.coreference import clause_subjects_named, stand_alone


def standing(note: str) -> dict[str, str | None]:
    """Each fact sentence of ``note`` and what :func:`stand_alone` makes of it."""
    out = {}
    for fact in extract_facts(note):
        alone = stand_alone(fact)
        out[fact.sentence] = alone.sentence if alone else None
    return out


@pytest.mark.parametrize("note, expected", [
    # a firm named before: "them" and "their" are that firm
    ("Wicks come from a small firm in Rotterdam called Vandermeer Supply. We switched to them "
     "in 2022.", "We switched to Vandermeer Supply in 2022."),
    ("Our wax comes from Brennan & Sons in Leeds. The current price is £2.40 per kilo. Their "
     "account manager is Carla Brennan.", "Brennan & Sons’ account manager is Carla Brennan."),
    # a person: "she" and "her" (possessive before a noun)
    ("Grandma Esther lives in Hexham. She turns 90 in July.", "Grandma Esther turns 90 in July."),
    ("Tom Quigley has a nursery in Ashford. Her cousin sells 120 tulip bulbs there.",
     "Tom Quigley’s cousin sells 120 tulip bulbs there."),
])
def test_a_pronoun_is_replaced_by_the_only_name_it_can_point_to(note, expected):
    assert expected in standing(note).values()


@pytest.mark.parametrize("note", [
    # two people before: which one "she" is cannot be told
    "Anna Berg met Lisa Moe in Oslo. She moved to Tromsø in 2019.",
    # people "she" may be who are not named
    "Tom Hale introduced us to a new accountant. She starts on 3 May and charges £90 per hour.",
    "Carla Brennan’s daughter lives in York. She teaches piano at Fulford School since 2019.",
    # "they" may be the people, or the things counted
    "Kofi Mensah and Priya Nair run Greenleaf Catering. They met at college in Leeds in 2009.",
    "We ordered 40 tins from Hartley & Sons in March. They arrived dented on 3 April.",
    # inside a quotation, a contraction, "her" mid-sentence ("sent her flowers"), a name after
    'Vandermeer Supply emailed us on Monday. "We can ship them by 3 May," wrote the manager.',
    "Our wax comes from Hartley & Sons in Sheffield. They’re based in Leeds since 2019.",
    "Carla Brennan lives in York. We bought her Volvo in 2021 for £3,000.",
    "Tom Hale lives in Kendal. His sister Ruth runs a bakery there since 2019.",
    "Carla Brennan lives in York. Her 3 dogs sleep in the shop every afternoon.",
    # "they" never points to a town
    "We spent a week in Leeds last summer. They opened 3 new parks in 2021.",
    # "it" is left alone: too often a thing without a name
    "We bought a van from Kofi Mensah. It cost £4,000 in 2023.",
    # a name of its own before the pronoun: nothing leans on the sentence before
    "Our wax comes from Brennan & Sons. Hilltop Apiary sells honey, and their prices are low.",
])
def test_nothing_is_replaced_when_the_name_is_not_certain(note):
    assert all(alone is None for alone in standing(note).values())


@pytest.mark.parametrize("sentence", [
    "Tom Hale emailed Carla Brennan on Monday, but he forgot the invoice for £400.",
    "Tom Hale’s sister runs a bakery in Kendal, and she opens at 8 am every day.",
])
def test_a_clause_subject_is_left_alone_when_two_people_could_be_meant(sentence):
    fact = extract_facts(sentence)[0]
    assert clause_subjects_named(fact).sentence == sentence


def test_a_clause_opening_with_she_is_asked_with_the_person_named_before_it():
    fact = extract_facts("Their account manager is Carla Brennan, and she prefers orders by "
                         "email before Wednesday noon.")[0]
    named = clause_subjects_named(fact)
    assert named.sentence == ("Their account manager is Carla Brennan, and Carla Brennan "
                              "prefers orders by email before Wednesday noon.")
    assert [s.text for s in named.spans if s.kind == "person"] == ["Carla Brennan"] * 2


def test_the_firm_is_named_in_questions_and_answers_about_a_sentence_leaning_on_it():
    note = ("Wicks and tins come from a small firm in Rotterdam called Vandermeer Supply. We "
            "switched to them in 2022 after the old supplier closed.")
    examples = augment_documents([note]).examples
    about_2022 = [e for e in examples if "2022" in e.answer and e.form.startswith("ask_")]
    assert about_2022 and all("Vandermeer Supply" in e.question or e.question.startswith("Who")
                              or "what" in e.question for e in about_2022)
    assert {e.answer for e in about_2022} == {
        "We switched to Vandermeer Supply in 2022 after the old supplier closed."}
