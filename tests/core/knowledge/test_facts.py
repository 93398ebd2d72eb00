"""Fact sentences and the people, places and names they mention."""

from __future__ import annotations

from slmdesk.core.knowledge import Fact, extract_facts
from slmdesk.core.knowledge.facts import group_entities


def test_headings_lead_ins_questions_and_fragments_are_not_facts():
    text = ("Family Reunion Plan 2025\n\nWe need:\n- 42 chairs\n"
            "- 6 tables from Hansen Rentals in Oslo\nDid Anna Berg call in May?\n"
            "Anna Berg moved to Tromsø in 2019.")
    assert [fact.sentence for fact in extract_facts(text)] == [
        "6 tables from Hansen Rentals in Oslo", "Anna Berg moved to Tromsø in 2019."]


def test_sentences_without_spans_are_not_facts():
    assert extract_facts("The weather was nice. We stayed at home and read all day.") == []


def test_facts_remember_their_document():
    facts = extract_facts("Anna Berg moved to Tromsø in 2019.", document=3)
    assert facts == [Fact("Anna Berg moved to Tromsø in 2019.", facts[0].spans, 3)]


def test_entities_merge_first_names_and_titles_into_the_full_name():
    facts = extract_facts("My aunt Ingrid Vale keeps bees near Lillehammer. Aunt Ingrid sold "
                          "honey at the market in Hamar. Ingrid Vale was born in 1950.")
    entities = {entity.name: (entity.kind, entity.facts) for entity in group_entities(facts)}
    assert entities["Ingrid Vale"] == ("person", [0, 1, 2])
    assert entities["Lillehammer"] == ("place", [0]) and entities["Hamar"] == ("place", [1])


def test_a_sentence_pointing_back_is_answered_with_what_it_points_to():
    from slmdesk.core.knowledge import augment_documents
    from slmdesk.core.knowledge.facts import leans_on_previous

    note = ("Our wax comes from Brennan & Sons in Leeds. The current price is £2.40 per kilo. "
            "Their account manager is Carla Brennan. Next spring we want beeswax from Hilltop "
            "Apiary, if their prices stay low.")
    facts = {fact.sentence: fact for fact in extract_facts(note)}
    manager = facts["Their account manager is Carla Brennan."]
    # back over the sentence naming nothing to the one that names the firm
    assert manager.previous == ("Our wax comes from Brennan & Sons in Leeds. "
                                "The current price is £2.40 per kilo.")
    assert leans_on_previous(manager)
    # "their" after a name of its own points to that name
    assert not leans_on_previous(facts["Next spring we want beeswax from Hilltop Apiary, if "
                                       "their prices stay low."])
    # the answer names the firm "their" points to (test_coreference); where that cannot be
    # told for sure, it quotes the sentences before it
    answers = {e.answer for e in augment_documents([note]).examples
               if e.form == "ask_span" and "Carla Brennan" in e.answer}
    assert answers == {"Brennan & Sons’ account manager is Carla Brennan."}
    unsure = note.replace("in Leeds", "and Hilltop Apiary")
    answers = {e.answer for e in augment_documents([unsure]).examples
               if e.form == "ask_span" and "Carla Brennan" in e.answer}
    assert answers == {"Our wax comes from Brennan & Sons and Hilltop Apiary. The current price "
                       "is £2.40 per kilo. Their account manager is Carla Brennan."}
