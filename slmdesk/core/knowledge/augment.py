"""Documents to question-and-answer training examples, each fact stated in several forms.

A small model trained on the raw text of a note learns to continue the note, not to answer
questions about it in a chat; stating each fact in several forms, as questions and answers in
the chat format, is what teaches it to (Allen-Zhu and Li, "Physics of Language Models 3.1";
measured here: 3/10 natural questions answered on raw text, 7/10 with simple questions added).
The forms, all made by rules from the note itself, with no other model:

- ``ask_span``: an echo question for each span ("Anna Berg moved to where in March 2019?"),
  answered with the note's sentence (see :func:`echo_examples` for why); also asked of each
  relative clause restated as a sentence (:mod:`.relative`), and in the active for a passive
  clause (:mod:`.passive`);
- ``ask_embedded``: the same question with the question words in front, inside a request
  ("Can you tell me who the delivery van belongs to?"), since natural questions start with
  them, and shortened to one cue ("when the reunion will take place", without "at Birchwood
  Farm near Hexham"), as people ask; answered the same way;
- ``notes_about``: "What do my notes say about X?" for each person, place and name, answered
  by every sentence that mentions it;
- ``facts_about``: "List the facts about X." for people and names with two or more facts,
  answered as a bullet list;
- ``restate``: "Tell me about X." answered by the sentence with its clauses reordered.

A sentence that leans on an earlier one ("We switched to them in 2022") is asked and answered
with the name its pronoun points to, where :mod:`.coreference` can tell it for sure, so that
the question names what a person would name ("Vandermeer Supply").

Each document is read with the rules of its language (:func:`.language.rules_for_text`), and
every question about one of its facts is worded by those rules (:attr:`.facts.Fact.rules`).
Documents in a language without rules are left out (the caller still trains their raw text) and
said so in :attr:`Augmentation.notes`, in words meant for the person whose documents they are
(in the app's language, :data:`.language.DEFAULT_RULES`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Sequence

from .coreference import clause_subjects_named, stand_alone
from .echo import echo_questions, embedded_questions
from .facts import (
    Entity,
    Fact,
    extract_facts,
    group_entities,
    leans_on_previous,
    spans_outside_lists,
)
from .forms import TRAINING_FORMS, TrainingForm
from .held_back import fact_key, held_back_keys
from .language import DEFAULT_RULES, Rules, rules_for_text
from .names import NAME, PERSON, PLACE
from .passive import passive_questions
from .relative import relative_clause_facts
from .reorder import restate
from .spans import DATE, LIST, NUMBER, Span

#: The user's notes are written in the app's language, whatever the documents' language.
_NOTES = DEFAULT_RULES
#: At most this many questions of one form per sentence (chosen by the seed when there are
#: more), so a long sentence does not outweigh the rest.
MAX_ECHO_QUESTIONS_PER_SENTENCE = 5
#: Answers listing sentences stop after this many, to stay within a training window.
MAX_SENTENCES_PER_ANSWER = 8
#: Which span a "Tell me about" question names, most telling first.
_TOPIC_PREFERENCE = (PERSON, NAME, PLACE, LIST, NUMBER, DATE)


@dataclass(frozen=True)
class QAExample:
    """One training example: a user question and the assistant's answer."""

    form: TrainingForm
    question: str
    answer: str
    source: str  # the sentence(s) it restates


@dataclass(frozen=True)
class Augmentation:
    """The training examples made from a set of documents, and what the user should know."""

    examples: list[QAExample]
    facts: list[Fact]
    notes: list[str]
    skipped_documents: list[int]  # trained as raw text only: other language or no usable fact
    #: Sentences given no questions of their own, for the quiz to ask (:mod:`.held_back`).
    held_back: list[Fact] = field(default_factory=list)

    def counts(self) -> dict[TrainingForm, int]:
        """Examples per form, every form listed (in :data:`.forms.TRAINING_FORMS` order)."""
        counts = dict.fromkeys(TRAINING_FORMS, 0)
        for example in self.examples:
            counts[example.form] += 1
        return counts


def augment_documents(texts: Sequence[str], titles: Sequence[str] = (), *,
                      seed: int = 0, hold_back: bool = False) -> Augmentation:
    """Training examples for ``texts`` (deterministic for a given ``seed``).

    ``hold_back`` leaves a few sentences without questions of their own, chosen by ``seed``
    as :func:`.quiz.make_quiz` chooses them (:mod:`.held_back`); they are still in the answers
    about the people and names they mention."""
    facts, notes, skipped = collect_facts(texts, titles)
    held = held_back_keys(facts, seed) if hold_back else frozenset()
    rng = random.Random(seed)
    examples: list[QAExample] = []
    asked: set[str] = set()

    def add(example: QAExample) -> None:
        if example.question not in asked:
            asked.add(example.question)
            examples.append(example)

    topics_used: set[str] = set()
    standing = [stand_alone(fact) or fact for fact in facts]
    for fact, alone in zip(facts, standing):
        if fact_key(fact) in held:
            continue
        told = alone if alone is not fact else with_context(fact)
        for said, candidates in _statements(clause_subjects_named(alone)):
            for example in (echo_examples(said, rng, told, candidates)
                            + embedded_examples(said, rng, told, candidates)):
                add(example)
        restated = restate_example(alone, topics_used)
        if restated:
            add(restated)
    for entity in group_entities(standing):
        for example in entity_examples(entity, standing):
            add(example)
    return Augmentation(examples, facts, notes, skipped,
                        [fact for fact in facts if fact_key(fact) in held])


def collect_facts(texts: Sequence[str], titles: Sequence[str] = ()
                  ) -> tuple[list[Fact], list[str], list[int]]:
    """The facts of the documents in a language with rules, each read with its language's rules;
    the notes for the user; the documents left out."""
    facts: list[Fact] = []
    notes: list[str] = []
    skipped: list[int] = []
    without_facts: list[str] = []
    readable = 0
    for index, text in enumerate(texts):
        title = (titles[index] if index < len(titles) and titles[index]
                 else _NOTES.DOCUMENT_FALLBACK_TITLE.format(number=index + 1))
        rules = rules_for_text(text)
        if rules is None:
            skipped.append(index)
            notes.append(_NOTES.NOTE_OTHER_LANGUAGE.format(title=title))
            continue
        readable += 1
        document_facts = extract_facts(text, index, rules)
        if not document_facts:
            skipped.append(index)
            without_facts.append(title)
        facts.extend(document_facts)
    if readable and not facts:
        notes.append(_NOTES.NOTE_NO_FACTS_AT_ALL)
    else:
        notes.extend(_NOTES.NOTE_NO_FACTS_IN_DOCUMENT.format(title=title)
                     for title in without_facts)
    return facts, notes, sorted(skipped)


def with_context(fact: Fact) -> Fact:
    """``fact`` as its questions' answer quotes it when it leans on a sentence before it
    (:func:`.facts.leans_on_previous`) and :func:`.coreference.stand_alone` cannot say for sure
    what its pronoun points to: with that sentence before it, so the reply says it too."""
    if not leans_on_previous(fact):
        return fact
    return replace(fact, sentence=f"{fact.previous} {fact.sentence}")


def _statements(fact: Fact) -> list[tuple[Fact, list[Span]]]:
    """``fact`` and each of its relative clauses restated as a sentence (:mod:`.relative`), with
    the spans to ask about in each: a span of a restated clause is asked there only."""
    restated = relative_clause_facts(fact)
    in_clauses = {span.text for said in restated for span in said.spans if span.start > 0}
    main = [span for span in spans_outside_lists(fact) if span.text not in in_clauses]
    return [(fact, main)] + [(said, spans_outside_lists(said)) for said in restated]


def echo_examples(fact: Fact, rng: random.Random, told: Fact | None = None,
                  candidates: Sequence[Span] | None = None) -> list[QAExample]:
    """``ask_span`` examples: one echo question per span of ``fact`` (or of ``candidates``), and
    a "Who ...?" for what a passive clause says a person did; at most a few per sentence.

    The answer is ``told``, the note's own sentence (the one ``fact`` restates, for a relative
    clause), not the span first: a small model that must name the span before anything else
    often names a wrong one and then quotes the right sentence after it ("Samuel. Dinner will
    be ... cooked by Felix Marr"); quoting the sentence lets it find the fact first, and the
    reply never contradicts itself."""
    told = told or fact
    rules = fact.rules
    candidates = spans_outside_lists(fact) if candidates is None else candidates
    asked = echo_questions(fact.sentence, fact.spans, candidates, rules) + [
        (span, _capitalise(question) + "?")
        for span, question in passive_questions(fact.sentence, candidates, rules)]
    return [QAExample(TrainingForm.ASK_SPAN, question, told.sentence, told.sentence)
            for _, question in _at_most_a_few(asked, rng)]


def embedded_examples(fact: Fact, rng: random.Random, told: Fact | None = None,
                      candidates: Sequence[Span] | None = None) -> list[QAExample]:
    """``ask_embedded`` examples, like :func:`echo_examples`, each inside a lead-in chosen by
    ``rng``."""
    told = told or fact
    rules = fact.rules
    candidates = spans_outside_lists(fact) if candidates is None else candidates
    asked = (embedded_questions(fact.sentence, fact.spans, candidates, rules)
             + passive_questions(fact.sentence, candidates, rules))
    return [QAExample(TrainingForm.ASK_EMBEDDED,
                      rng.choice(rules.EMBEDDED_QUESTION_TEMPLATES).format(question=question),
                      told.sentence, told.sentence)
            for _, question in _at_most_a_few(asked, rng)]


def _at_most_a_few(asked: list[tuple[Span, str]], rng: random.Random) -> list[tuple[Span, str]]:
    """At most :data:`MAX_ECHO_QUESTIONS_PER_SENTENCE` of ``asked``, chosen by ``rng``, in order."""
    if len(asked) <= MAX_ECHO_QUESTIONS_PER_SENTENCE:
        return asked
    keep = sorted(rng.sample(range(len(asked)), MAX_ECHO_QUESTIONS_PER_SENTENCE))
    return [asked[i] for i in keep]


def restate_example(fact: Fact, topics_used: set[str]) -> QAExample | None:
    """A ``restate`` example about a span not yet used as a topic, or None."""
    rules = fact.rules
    reordered = restate(fact.sentence, fact.spans, rules)
    if not reordered:
        return None
    topic = _topic(fact.spans, topics_used, rules)
    if not topic:
        return None
    topics_used.add(topic.casefold())
    return QAExample(TrainingForm.RESTATE, rules.TELL_ME_ABOUT_TEMPLATE.format(name=topic),
                     reordered.text, fact.sentence)


def all_training_questions(facts: list[Fact]) -> set[str]:
    """Every question the training forms could ask about ``facts``, whatever the seed."""
    questions: set[str] = set()
    standing = [stand_alone(fact) or fact for fact in facts]
    for fact in facts + standing + [clause_subjects_named(fact) for fact in standing]:
        rules = fact.rules
        for said in [fact, *relative_clause_facts(fact)]:
            who = [question for _, question in
                   passive_questions(said.sentence, said.spans, rules)]
            questions.update(question for _, question in
                             echo_questions(said.sentence, said.spans, said.spans, rules))
            questions.update(_capitalise(question) + "?" for question in who)
            embedded = [question for _, question in
                        embedded_questions(said.sentence, said.spans, said.spans, rules)] + who
            questions.update(template.format(question=question) for question in embedded
                             for template in rules.EMBEDDED_QUESTION_TEMPLATES)
        for span in fact.spans:
            questions.add(rules.TELL_ME_ABOUT_TEMPLATE.format(
                name=_strip_article(span.text, rules)))
    for entity in group_entities(standing):
        questions.update(example.question for example in entity_examples(entity, standing))
    return questions


def _topic(spans: Sequence[Span], used: set[str], rules: Rules) -> str | None:
    ranked = sorted(spans, key=lambda span: (_TOPIC_PREFERENCE.index(span.kind), span.start))
    for span in ranked:
        text = _strip_article(span.text, rules)
        if text.casefold() not in used:
            return text
    return None


def entity_examples(entity: Entity, facts: list[Fact]) -> list[QAExample]:
    """``notes_about`` for every entity and ``facts_about`` for people and names with two facts."""
    unique = dict.fromkeys(facts[i].sentence for i in entity.facts)  # a sentence copied twice
    sentences = list(unique)[:MAX_SENTENCES_PER_ANSWER]
    rules = facts[entity.facts[0]].rules  # asked in the language of its first mention
    name = _strip_article(entity.name, rules)
    source = " ".join(sentences)
    examples = [QAExample(TrainingForm.NOTES_ABOUT, rules.NOTES_ABOUT_TEMPLATE.format(name=name),
                          source, source)]
    if entity.kind in (PERSON, NAME) and len(sentences) >= 2:
        answer = "\n".join(f"- {sentence}" for sentence in sentences)
        examples.append(QAExample(TrainingForm.FACTS_ABOUT,
                                  rules.FACTS_ABOUT_TEMPLATE.format(name=name), answer, source))
    return examples


def _strip_article(text: str, rules: Rules) -> str:
    """"the spring of 1998" reads better as a topic without "the"; "The Blue Kettle" keeps it."""
    article = rules.DEFINITE_ARTICLE + " "
    return text[len(article):] if text.startswith(article) else text


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
