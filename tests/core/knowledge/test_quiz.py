"""Quiz items: other forms than training, spread over facts, never answering themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmdesk.core.knowledge import (
    QUIZ_FORMS,
    TRAINING_FORMS,
    QuizItem,
    answer_matches,
    augment_documents,
    extract_facts,
    make_quiz,
)
from slmdesk.core.knowledge.forms import QuizForm
from slmdesk.core.knowledge.quiz import quiz_items

BENCH = Path(__file__).parents[3] / "bench" / "knowledge_notes"
SAMPLE = Path(__file__).parents[3] / "slmdesk" / "resources" / "sample_note.txt"
NOTES = [BENCH / "note_1.txt", BENCH / "note_2.txt", BENCH / "note_3.txt", SAMPLE]


def items_of(sentence: str) -> dict[tuple[str, str], str]:
    return {(item.form, item.expected): item.question
            for fact in extract_facts(sentence) for item in quiz_items(fact)}


def test_quiz_forms_differ_from_training_forms():
    assert set(QUIZ_FORMS).isdisjoint(TRAINING_FORMS)


def test_fill_blank_hides_only_the_number_of_a_count():
    items = items_of("We need 8 bags of compost for the beds.")
    assert items[("fill_blank", "8 bags of compost")] == (
        "In my notes: “We need ___ bags of compost for the beds.” What is missing?")


@pytest.mark.parametrize("path", NOTES, ids=lambda p: p.name)
def test_quiz_never_repeats_a_training_question(path):
    text = path.read_text(encoding="utf-8")
    training = {example.question for seed in range(3)
                for example in augment_documents([text], seed=seed).examples}
    for seed in range(3):
        quiz = make_quiz([text], count=40, seed=seed)
        assert quiz and not {item.question for item in quiz} & training


@pytest.mark.parametrize("path", NOTES, ids=lambda p: p.name)
def test_a_question_never_counts_as_its_own_answer(path):
    for item in make_quiz([path.read_text(encoding="utf-8")], count=40):
        assert not answer_matches(item.question, item)
        assert answer_matches(f"It says {item.expected}.", item)


@pytest.mark.parametrize("path", NOTES[:3], ids=lambda p: p.name)
def test_bench_notes_give_a_full_quiz_spread_over_sentences(path):
    quiz = make_quiz([path.read_text(encoding="utf-8")])
    assert len(quiz) >= 10
    assert len({item.source for item in quiz}) >= 10  # one per sentence first
    assert {item.form for item in quiz} == set(QUIZ_FORMS) - {QuizForm.REQUEST}  # no holding back
    assert all(isinstance(item, QuizItem) and item.expected in item.source for item in quiz)


def test_quiz_is_deterministic_by_seed_and_bounded_by_count():
    text = NOTES[0].read_text(encoding="utf-8")
    assert make_quiz([text], seed=5) == make_quiz([text], seed=5)
    assert make_quiz([text], seed=5) != make_quiz([text], seed=6)
    assert len(make_quiz([text], count=3)) == 3


def test_no_quiz_about_other_languages_or_factless_text():
    assert make_quiz(["Meine Großmutter wurde 1931 in Kvarnholm geboren und arbeitete dreißig "
                      "Jahre lang als Leuchtturmwärterin auf der Insel."]) == []
    assert make_quiz(["We stayed at home all day and read a book."]) == []
