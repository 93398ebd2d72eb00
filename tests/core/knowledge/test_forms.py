"""Span kinds and forms: StrEnums that still behave as the strings they replaced."""

from __future__ import annotations

import json

import pytest

from slmdesk.core.knowledge import (
    QUIZ_FORMS,
    TRAINING_FORMS,
    QuizForm,
    SpanKind,
    TrainingForm,
    augment_documents,
    find_spans,
    make_quiz,
)

NOTE = ("Anna Berg moved to Tromsø in March 2019. She opened a café called Nordlys with her "
        "sister Kari. Anna bought 42 chairs for the café.")


@pytest.mark.parametrize("enum", [SpanKind, TrainingForm, QuizForm])
def test_members_equal_hash_and_serialise_as_their_strings(enum):
    for member in enum:
        assert member == member.value and f"{member}" == member.value
        assert {member.value: 1}[member] == 1  # a dict keyed by the old strings still works
        assert json.dumps({member: member}) == json.dumps({member.value: member.value})


def test_the_names_are_the_old_strings():
    assert [kind.value for kind in SpanKind] == ["person", "place", "date", "number", "name",
                                                 "list"]
    assert list(TRAINING_FORMS) == ["ask_span", "ask_embedded", "notes_about", "facts_about",
                                    "restate"]
    assert list(QUIZ_FORMS) == ["direct_question", "fill_blank", "request"]


@pytest.mark.parametrize("registry, enum", [(TRAINING_FORMS, TrainingForm),
                                            (QUIZ_FORMS, QuizForm)])
def test_each_registry_lists_every_form_once_with_a_one_line_description(registry, enum):
    assert list(registry) == list(enum)
    for description in registry.values():
        assert description and "\n" not in description


def test_registries_cannot_be_changed_by_accident():
    with pytest.raises(TypeError):
        TRAINING_FORMS["new_form"] = "..."  # type: ignore[index]


def test_the_package_hands_out_enum_members():
    augmentation = augment_documents([NOTE])
    assert {type(example.form) for example in augmentation.examples} == {TrainingForm}
    assert list(augmentation.counts()) == list(TrainingForm)
    assert {type(span.kind) for span in find_spans("Anna Berg moved to Tromsø in 2019.")} == {
        SpanKind}
    assert {type(item.form) for item in make_quiz([NOTE])} == {QuizForm}
