"""Sentences held back from training for the quiz: the same ones in the training and the quiz,
no training question about them, and quiz questions the training never asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmdesk.core.knowledge import answer_matches, augment_documents, make_quiz
from slmdesk.core.knowledge.augment import collect_facts
from slmdesk.core.knowledge.forms import TrainingForm
from slmdesk.core.knowledge.held_back import (
    MAX_HELD_BACK,
    MIN_HELD_BACK,
    fact_key,
    held_back_keys,
)

ROOT = Path(__file__).parents[3] / "bench"
DOCUMENTS = sorted((ROOT / "knowledge_notes").glob("note_*.txt")) + sorted(
    (ROOT / "natural" / "dev").glob("doc_*.txt"))
#: Forms whose answers quote every sentence about a person or name: they may include a
#: held-back sentence, as its raw text does.
ABOUT_FORMS = {TrainingForm.NOTES_ABOUT, TrainingForm.FACTS_ABOUT}


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_training_asks_nothing_about_the_sentences_the_quiz_asks_about(path):
    text = path.read_text(encoding="utf-8")
    augmentation = augment_documents([text], seed=3, hold_back=True)
    held = {fact.sentence for fact in augmentation.held_back}
    assert MIN_HELD_BACK <= len(held) <= MAX_HELD_BACK
    for example in augmentation.examples:
        if example.form not in ABOUT_FORMS:
            assert not any(sentence in example.source for sentence in held), example

    quiz = make_quiz([text], seed=3, hold_back=True)
    untaught = [item for item in quiz if not item.taught]
    assert untaught and {item.source for item in untaught} <= held
    assert all(item.source not in held for item in quiz if item.taught)
    trained = {example.question for example in augmentation.examples}
    for item in untaught:
        assert item.question not in trained
        assert item.expected in item.source
        assert not answer_matches(item.question, item)
    assert quiz[-len(untaught):] == untaught  # the taught ones first, as reports list them


def test_the_choice_depends_on_the_seed_only_and_spares_short_documents():
    text = DOCUMENTS[0].read_text(encoding="utf-8")
    facts, _, _ = collect_facts([text])
    assert held_back_keys(facts, 1) == held_back_keys(collect_facts([text])[0], 1)
    assert len({held_back_keys(facts, seed) for seed in range(6)}) > 1
    assert held_back_keys(facts[:5], 1) == frozenset()  # five sentences: none to spare
    assert {key for key in held_back_keys(facts, 1)} <= {fact_key(fact) for fact in facts}


def test_without_holding_back_the_training_and_the_quiz_are_as_before():
    text = DOCUMENTS[0].read_text(encoding="utf-8")
    plain = augment_documents([text], seed=2)
    assert plain.held_back == [] and all(item.taught for item in make_quiz([text], seed=2))
    held = augment_documents([text], seed=2, hold_back=True)
    assert len(held.examples) < len(plain.examples)


def test_the_job_estimate_counts_every_question_about_held_back_sentences():
    from slmdesk.core.knowledge.held_back import MAX_HELD_BACK
    from slmdesk.core.knowledge.quiz import QUESTIONS_PER_HELD_BACK
    from slmdesk.core.training.job import HELD_BACK_QUESTIONS

    assert HELD_BACK_QUESTIONS == MAX_HELD_BACK * QUESTIONS_PER_HELD_BACK
