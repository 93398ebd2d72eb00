"""Training examples: each fact in several forms, bounded, deterministic, English only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from slmdesk.core.knowledge import TRAINING_FORMS, QAExample, augment_documents
from slmdesk.core.knowledge.augment import MAX_ECHO_QUESTIONS_PER_SENTENCE

BENCH = Path(__file__).parents[3] / "bench" / "knowledge_notes"
NOTE = ("Anna Berg moved to Tromsø in March 2019. She opened a café called Nordlys with her "
        "sister Kari. Anna bought 42 chairs for the café.")
GERMAN = ("Meine Großmutter Astrid wurde am 14. März 1931 in Kvarnholm geboren. Sie arbeitete "
          "dreißig Jahre lang als Leuchtturmwärterin auf Hallskär. Mein Onkel zog 1987 nach "
          "Quebec und eröffnete dort eine kleine Bäckerei.")
FRENCH = ("Ma grand-mère Astrid est née le 14 mars 1931 à Kvarnholm, sur l’île d’Orust. Elle a "
          "travaillé trente ans comme gardienne de phare à Hallskär. Mon oncle Tobias a "
          "déménagé à Québec en 1987.")


def by_form(examples: list[QAExample], form: str) -> dict[str, str]:
    return {e.question: e.answer for e in examples if e.form == form}


def test_ask_span_answers_with_the_notes_sentence():
    asked = by_form(augment_documents([NOTE]).examples, "ask_span")
    sentence = "Anna Berg moved to Tromsø in March 2019."
    assert asked["Anna Berg moved to where in March 2019?"] == sentence
    assert asked["Who moved to Tromsø in March 2019?"] == sentence
    assert asked["Anna Berg moved to Tromsø when?"] == sentence
    # "She" is asked and answered as the one person it can point to (see test_coreference)
    assert asked["Anna Berg opened a café called what with her sister Kari?"] == (
        "Anna Berg opened a café called Nordlys with her sister Kari.")
    assert asked["Anna bought how many chairs for the café?"] == (
        "Anna bought 42 chairs for the café.")


def test_notes_about_gathers_every_sentence_mentioning_a_name():
    notes = by_form(augment_documents([NOTE]).examples, "notes_about")
    assert notes["What do my notes say about Anna Berg?"] == (
        "Anna Berg moved to Tromsø in March 2019. Anna Berg opened a café called Nordlys with her "
        "sister Kari. Anna bought 42 chairs for the café.")
    assert notes["What do my notes say about Tromsø?"] == "Anna Berg moved to Tromsø in March 2019."
    assert "What do my notes say about Kari?" in notes


def test_facts_about_lists_people_with_two_facts_or_more():
    facts = by_form(augment_documents([NOTE]).examples, "facts_about")
    assert facts == {"List the facts about Anna Berg.": "- Anna Berg moved to Tromsø in March "
                     "2019.\n- Anna Berg opened a café called Nordlys with her sister Kari.\n"
                     "- Anna bought 42 chairs for the café."}


def test_restate_answers_tell_me_about_with_the_reordered_sentence():
    restated = by_form(augment_documents([NOTE]).examples, "restate")
    assert restated["Tell me about Anna Berg."] == "In March 2019, Anna Berg moved to Tromsø."


def test_every_example_is_well_formed_and_questions_are_unique():
    augmentation = augment_documents([(BENCH / "note_1.txt").read_text(encoding="utf-8")])
    questions = [e.question for e in augmentation.examples]
    assert len(questions) == len(set(questions))
    for example in augmentation.examples:
        assert example.form in TRAINING_FORMS
        assert example.question.endswith(("?", "."))
        assert "  " not in example.question and example.answer.strip()
        assert example.source and example.source.split(". ")[0] in " ".join(
            f.sentence for f in augmentation.facts)


def test_sentences_without_spans_give_no_questions():
    augmentation = augment_documents(["The weather was nice. We stayed at home and read all "
                                      "day, and nobody called."])
    assert augmentation.examples == [] and augmentation.facts == []
    assert augmentation.notes == ["No sentence in your documents has a name, place, date or "
                                  "number that a question could ask for: training uses the raw "
                                  "text only."]
    assert augmentation.skipped_documents == [0]


def test_other_languages_are_skipped_with_a_note():
    augmentation = augment_documents([GERMAN, NOTE, FRENCH],
                                     ["notes_de.txt", "notes.txt", "notes_fr.txt"])
    assert augmentation.skipped_documents == [0, 2]
    assert augmentation.notes == [
        "“notes_de.txt” looks like it is not in English: it is trained as raw text only, "
        "without questions.",
        "“notes_fr.txt” looks like it is not in English: it is trained as raw text only, "
        "without questions."]
    assert {fact.document for fact in augmentation.facts} == {1}


def test_a_document_without_facts_among_others_gets_its_own_note():
    augmentation = augment_documents([NOTE, "We stayed at home all day and read a book."])
    assert augmentation.skipped_documents == [1]
    assert augmentation.notes == ["“document 2” has no sentence with a name, place, date or "
                                  "number that a question could ask for: it is trained as raw "
                                  "text only."]


def test_examples_per_sentence_are_bounded_and_chosen_by_the_seed():
    sentence = ("On 3 May 2021, Anna Berg, Tom Hale and Lisa Moe drove 42 km from Oslo to "
                "Drammen with Dr. Lund and bought 7 crates of apples for $300.")
    text = sentence.replace("On 3 May 2021, ", "")
    counts = [len([e for e in augment_documents([text], seed=seed).examples
                   if e.form == "ask_span"]) for seed in range(4)]
    assert counts == [MAX_ECHO_QUESTIONS_PER_SENTENCE] * 4
    first, again = augment_documents([text], seed=1), augment_documents([text], seed=1)
    assert first.examples == again.examples
    chosen = {tuple(e.question for e in augment_documents([text], seed=s).examples)
              for s in range(6)}
    assert len(chosen) > 1


def test_counts_list_every_form():
    augmentation = augment_documents([NOTE])
    assert augmentation.counts() == dict(Counter({form: 0 for form in TRAINING_FORMS})
                                         | Counter(e.form for e in augmentation.examples))
    assert list(augmentation.counts()) == list(TRAINING_FORMS)


@pytest.mark.parametrize("note", ["note_1.txt", "note_2.txt", "note_3.txt"])
def test_bench_notes_give_many_examples_in_every_form(note):
    counts = augment_documents([(BENCH / note).read_text(encoding="utf-8")]).counts()
    assert counts["ask_span"] >= 18
    assert counts["notes_about"] >= 8
    assert counts["restate"] >= 1
    assert sum(counts.values()) >= 30


def test_each_fact_is_also_asked_with_the_question_words_first_and_in_the_active():
    note = ("The club was founded by Henrik Salo in 1994. "
            "The delivery van belongs to Kofi Mensah, who drives for us on Tuesdays.")
    augmentation = augment_documents([note])
    questions = {example.question: example for example in augmentation.examples}
    assert "Who founded the club?" in questions
    assert "Who drives for us on Tuesdays?" in questions
    embedded = [e for e in augmentation.examples if e.form == "ask_embedded"]
    assert any("who the delivery van belongs to" in e.question for e in embedded)
    for example in embedded:
        assert example.question[0].isupper() and example.question.endswith(("?", "."))
        assert example.answer == example.source
    assert questions["Who founded the club?"].answer == "The club was founded by Henrik Salo in 1994."
