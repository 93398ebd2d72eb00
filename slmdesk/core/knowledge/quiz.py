"""Quiz questions about a person's notes, in forms the training never used.

A model that learned its training questions by heart could pass a quiz made of the same
questions without knowing the facts; so the quiz asks in other forms:

- ``direct_question``: a real question, inverted with "did", "does", "was" or "will" ("Where did
  Anna Berg move in March 2019?"), made by :mod:`.inversion` from sentences of the simple
  shape "<subject> <verb> ... <span> ..." and skipped where the shape does not fit;
- ``fill_blank``: the sentence with the span blanked out, quoted from the notes;
- ``request``: for a sentence held back from training (:mod:`.held_back`) only, the question
  the training would have asked, inside a request ("Can you tell me who is on leave?").

Items about held-back sentences (``taught`` false) come after the others: they ask what the
model was never taught to answer, as a person's own questions mostly do, so their score is the
honest guide; the others say how well it remembers what it was taught.

Items are spread over different facts (one per sentence before any sentence gets a second),
never repeat a question :func:`.augment.augment_documents` makes, and never count their own
question as a right answer. Each item is worded, and its answer matched, with the rules of its
fact's language (:attr:`.facts.Fact.rules`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from .augment import all_training_questions, augment_documents, collect_facts
from .echo import count_mentions, embedded_questions
from .facts import Fact, spans_outside_lists
from .forms import QUIZ_FORMS, QuizForm
from .held_back import fact_key, held_back_keys
from .inversion import direct_question
from .language import DEFAULT_RULES, Rules
from .matching import answer_matches
from .reorder import leading_phrase_to_end
from .spans import NUMBER, Span, number_parts


@dataclass(frozen=True)
class QuizItem:
    """One quiz question and the span its answer must contain."""

    form: str  # a QuizForm (a plain string once read back from a run's quiz.json)
    question: str
    expected: str  # as written in the note
    source: str  # the sentence it comes from
    #: False for a sentence held back from training (:mod:`.held_back`).
    taught: bool = True


#: Questions about each held-back sentence (each asks for another of its spans).
QUESTIONS_PER_HELD_BACK = 2


def make_quiz(texts: Sequence[str], count: int = 12, *, seed: int = 0,
              hold_back: bool = False) -> list[QuizItem]:
    """Up to ``count`` quiz items about ``texts``, spread over facts, deterministic by ``seed``;
    with ``hold_back``, about the sentences training taught, then up to
    :data:`QUESTIONS_PER_HELD_BACK` about each it held back (chosen by ``seed`` as
    :func:`.augment.augment_documents` chose them)."""
    facts, _, _ = collect_facts(texts)
    held = held_back_keys(facts, seed) if hold_back else frozenset()
    taught = _taught_items([fact for fact in facts if fact_key(fact) not in held], count, seed)
    if not held:
        return taught
    trained = {example.question for example in
               augment_documents(texts, seed=seed, hold_back=True).examples}
    rng = random.Random(seed)
    untaught = []
    for fact in facts:
        if fact_key(fact) in held:
            untaught += _held_back_items(fact, trained, rng)
    return taught + untaught


def _held_back_items(fact: Fact, trained: set[str], rng: random.Random) -> list[QuizItem]:
    """Questions about a held-back sentence: a direct question where its shape allows one, else
    the embedded question inside a request; never one the training asked (about another
    sentence), nor one that holds its own answer."""
    rules = fact.rules
    direct = [item for item in quiz_items(fact) if item.form == QuizForm.DIRECT_QUESTION]
    requests = [QuizItem(QuizForm.REQUEST,
                         rng.choice(rules.EMBEDDED_QUESTION_TEMPLATES).format(question=question),
                         span.text, fact.sentence)
                for span, question in embedded_questions(fact.sentence, fact.spans,
                                                         spans_outside_lists(fact), rules)]
    chosen: list[QuizItem] = []
    for item in direct + requests:  # a direct question first: it reads as a person asks
        if len(chosen) >= QUESTIONS_PER_HELD_BACK:
            break
        if (item.question in trained or any(c.expected == item.expected for c in chosen)
                or answer_matches(item.question, item, rules)):
            continue
        chosen.append(QuizItem(item.form, item.question, item.expected, item.source, taught=False))
    return chosen


def _taught_items(facts: Sequence[Fact], count: int, seed: int) -> list[QuizItem]:
    training = all_training_questions(list(facts))
    by_fact = []
    for fact in facts:
        items = [item for item in quiz_items(fact) if item.question not in training
                 and not answer_matches(item.question, item, fact.rules)]
        if items:
            by_fact.append(items)
    rng = random.Random(seed)
    rng.shuffle(by_fact)
    chosen: list[QuizItem] = []
    while len(chosen) < count and any(by_fact):
        for items in by_fact:
            if not items or len(chosen) >= count:
                continue
            # a direct question where the sentence allows one (it reads like what a person
            # asks in chat), else a blank to fill
            preferred = next(form for form in QUIZ_FORMS if any(i.form == form for i in items))
            pool = [item for item in items if item.form == preferred]
            item = rng.choice(pool)
            items.remove(item)
            # a second item from one sentence asks for another span, in the other form
            items[:] = [other for other in items if other.expected != item.expected]
            chosen.append(item)
    return chosen


def quiz_items(fact: Fact) -> list[QuizItem]:
    """Every quiz item one fact allows."""
    rules = fact.rules
    items = []
    reordered = leading_phrase_to_end(fact.sentence, fact.spans, rules)  # "In 1987, we" -> "We"
    plain, plain_spans = (reordered.text, reordered.spans) if reordered else (fact.sentence,
                                                                            fact.spans)
    for span in spans_outside_lists(fact):
        moved = next((s for s in plain_spans if s.kind == span.kind and s.text == span.text), None)
        question = direct_question(plain, moved, plain_spans, rules) if moved else None
        if question:
            items.append(QuizItem(QuizForm.DIRECT_QUESTION, question, span.text, fact.sentence))
        blanked = fill_blank(fact.sentence, span, rules)
        if blanked:
            items.append(QuizItem(QuizForm.FILL_BLANK, blanked, span.text, fact.sentence))
    return items


def fill_blank(sentence: str, span: Span, rules: Rules = DEFAULT_RULES) -> str | None:
    """"In my notes: “Anna Berg moved to ___ in March 2019.” What is missing?"."""
    if count_mentions(sentence, span.text) != 1:
        return None
    start, end = span.start, span.end
    if span.kind == NUMBER:
        numeral, noun = number_parts(span.text, rules)
        if noun and span.text.startswith(numeral):
            end = start + len(numeral.rstrip())
    blanked = sentence[:start] + rules.BLANK + sentence[end:]
    template: str = rules.FILL_BLANK_TEMPLATE
    return template.format(sentence=blanked)
