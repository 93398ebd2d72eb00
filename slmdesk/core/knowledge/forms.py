"""The names of span kinds, training forms and quiz forms, in one place.

They are :class:`enum.StrEnum` members, so each still equals (and hashes like) the plain string
it replaced: ``SpanKind.PERSON == "person"``, and code outside this package that compares forms
with strings, keys dicts by them or writes them to JSON keeps working. :data:`TRAINING_FORMS`
and :data:`QUIZ_FORMS` list every form in the order reports show them, each with a one-line
description, so that other code (the wizard's form titles) can check it names every one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class SpanKind(StrEnum):
    """What a fact-bearing piece of a sentence is, which decides its question word."""

    PERSON = "person"
    PLACE = "place"
    DATE = "date"
    NUMBER = "number"
    NAME = "name"
    LIST = "list"


class TrainingForm(StrEnum):
    """A form in which :func:`.augment.augment_documents` states a fact for training."""

    ASK_SPAN = "ask_span"
    ASK_EMBEDDED = "ask_embedded"
    NOTES_ABOUT = "notes_about"
    FACTS_ABOUT = "facts_about"
    RESTATE = "restate"


class QuizForm(StrEnum):
    """A form in which :func:`.quiz.make_quiz` asks about a fact (never used in training)."""

    DIRECT_QUESTION = "direct_question"
    FILL_BLANK = "fill_blank"
    REQUEST = "request"


#: Every training form, in report order, with what its questions do.
TRAINING_FORMS: Mapping[TrainingForm, str] = MappingProxyType({
    TrainingForm.ASK_SPAN: "an echo question for each name, place, date or number of a sentence",
    TrainingForm.ASK_EMBEDDED: "the same question, question words first, inside a request",
    TrainingForm.NOTES_ABOUT: "what the notes say about a person, place or name",
    TrainingForm.FACTS_ABOUT: "the facts about a person or name, as a bullet list",
    TrainingForm.RESTATE: "a sentence told back with its clauses in another order",
})

#: Every quiz form, the preferred one first, with what its questions do.
QUIZ_FORMS: Mapping[QuizForm, str] = MappingProxyType({
    QuizForm.DIRECT_QUESTION: "a real question, inverted with did, does, was or will",
    QuizForm.FILL_BLANK: "a sentence of the notes with the answer blanked out",
    QuizForm.REQUEST: "a question inside a request, about a sentence held back from training",
})
