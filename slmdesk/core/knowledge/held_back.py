"""Sentences held back from the training questions, so the quiz can ask what training never asked.

The quiz's questions on taught sentences measure memory: the model was trained to answer
questions about those very sentences, and a blank to fill quotes the sentence. On documents
nobody on the team wrote (``bench/natural``, dev half) that quiz said 11 and 8 of 12 where the
same model answered 2 and 4 of 10 questions people wrote: it did not predict chat answers.

A person's own questions mostly ask about a sentence in words the training did not use. So a
few sentences get no question-and-answer examples at all (their text is still trained, as the
raw text of the document and inside the answers about the people and names they mention), and
the quiz asks about them with the questions the training would have asked had it not held them
back. How many of those the tuned model answers is the guide to a person's own questions.

The choice is deterministic for a seed, so that the training (:func:`.augment.augment_documents`)
and the quiz (:func:`.quiz.make_quiz`) made separately hold back the same sentences.
"""

from __future__ import annotations

import random
from typing import Sequence

from .echo import embedded_questions
from .facts import Fact, leans_on_previous, spans_outside_lists

#: About this share of the sentences with something to ask is held back...
HELD_BACK_SHARE = 0.25
#: ...at least two (one question alone says nothing), at most four: each one held back is a
#: sentence the model is not taught to answer questions about, which the user pays for.
MIN_HELD_BACK = 2
MAX_HELD_BACK = 4
#: Documents with fewer askable sentences than this hold nothing back: too little to spare.
MIN_FACTS_TO_HOLD_BACK = 6


def fact_key(fact: Fact) -> tuple[int, str]:
    """What identifies a sentence across separate reads of the same documents."""
    return fact.document, fact.sentence


def held_back_keys(facts: Sequence[Fact], seed: int = 0) -> frozenset[tuple[int, str]]:
    """The :func:`fact_key` of each sentence to hold back from the training questions: only
    sentences the quiz can ask about (a heading with a date in it may allow no question), and
    none that the answers about a later sentence quote as its context
    (:func:`.augment.with_context`): it would be taught there."""
    context = {(fact.document, sentence) for fact in facts if leans_on_previous(fact)
               for sentence in fact.earlier_sentences}
    askable = sorted({fact_key(fact) for fact in facts if fact_key(fact) not in context
                      and embedded_questions(fact.sentence, fact.spans,
                                             spans_outside_lists(fact), fact.rules)})
    if len(askable) < MIN_FACTS_TO_HOLD_BACK:
        return frozenset()
    count = min(MAX_HELD_BACK, max(MIN_HELD_BACK, round(HELD_BACK_SHARE * len(askable))))
    rng = random.Random(f"held back {seed}")  # a string seed: the same in every process
    return frozenset(rng.sample(askable, count))
