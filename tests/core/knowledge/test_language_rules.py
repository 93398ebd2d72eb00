"""The rules registry: each document read with its language's rules, and a second language
plugging in as one more rules module."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from slmdesk.core.knowledge import (
    augment_documents,
    detect_language,
    make_quiz,
    rules_en,
    rules_for,
    supported_languages,
)
from slmdesk.core.knowledge import language as language_module
from slmdesk.core.knowledge.language import missing_names, register_rules, rule_names

PACKAGE = Path(language_module.__file__).parent
NOTE = ("Anna Berg moved to Tromsø in March 2019. She opened a café called Nordlys with her "
        "sister Kari. Anna bought 42 chairs for the café.")
ENGLISH = ("My uncle Tobias Ferrand moved to Quebec City in 1987 and opened a bakery called The "
           "Blue Kettle there.")
GERMAN = ("Meine Großmutter Astrid wurde am 14. März 1931 in Kvarnholm geboren. Sie arbeitete "
          "dreißig Jahre lang als Leuchtturmwärterin auf Hallskär.")


def test_english_is_the_only_language_today():
    assert supported_languages() == ("en",)
    assert rules_for("en") is rules_en
    with pytest.raises(KeyError, match="'de'"):
        rules_for("de")


def test_english_defines_every_rule_name():
    names = rule_names()
    assert missing_names(rules_en) == []
    assert {"LANGUAGE", "STOP_WORDS", "DATE_PATTERNS", "KINSHIP_BEFORE", "verb_base_form",
            "month_named"} <= set(names)
    assert not {"re", "alternation", "annotations"} & set(names)  # imports are not rules


def test_an_incomplete_rules_module_is_refused(monkeypatch):
    monkeypatch.setattr(language_module, "_REGISTRY", dict(language_module._REGISTRY))
    with pytest.raises(ValueError, match="DATE_PATTERNS"):
        register_rules(SimpleNamespace(LANGUAGE="xx", STOP_WORDS=frozenset()))
    assert supported_languages() == ("en",)


def test_only_the_registry_imports_the_english_rules():
    importers = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (
                    (node.module or "").endswith("rules_en")
                    or any(alias.name == "rules_en" for alias in node.names)):
                importers.append(path.name)
    assert importers == ["language.py"]


@pytest.fixture
def pseudo_german(monkeypatch):
    """English rules with German question words and templates, registered as "xx", whose
    function words include the names of :data:`NOTE` (so that NOTE is detected as "xx")."""
    monkeypatch.setattr(language_module, "_REGISTRY", dict(language_module._REGISTRY))
    rules = SimpleNamespace(**{name: getattr(rules_en, name) for name in rule_names()})
    rules.LANGUAGE = "xx"
    rules.STOP_WORDS = rules_en.STOP_WORDS | {"anna", "berg", "tromsø", "nordlys", "kari", "café"}
    rules.WH_PERSON, rules.WH_PLACE, rules.WH_DATE, rules.WH_THING = "wer", "wo", "wann", "was"
    rules.NOTES_ABOUT_TEMPLATE = "Was sagen meine Notizen über {name}?"
    rules.TELL_ME_ABOUT_TEMPLATE = "Erzähl mir von {name}."
    rules.EMBEDDED_QUESTION_TEMPLATES = ("Weißt du, {question}?",)
    rules.FILL_BLANK_TEMPLATE = "In meinen Notizen: „{sentence}“ Was fehlt?"
    register_rules(rules)
    return rules


def test_a_second_language_is_detected_per_document(pseudo_german):
    assert supported_languages() == ("en", "xx")
    assert detect_language(NOTE) == "xx"
    assert detect_language(ENGLISH) == "en"  # a tie goes to the language registered first
    assert detect_language(GERMAN) == "other"


def test_each_document_is_asked_in_its_own_language(pseudo_german):
    augmentation = augment_documents([NOTE, ENGLISH, GERMAN], ["a.txt", "b.txt", "c.txt"])
    assert {fact.document: fact.language for fact in augmentation.facts} == {0: "xx", 1: "en"}
    by_document: dict[int, set[str]] = {0: set(), 1: set()}
    for example in augmentation.examples:
        from_english = any(word in example.source for word in ("Tobias", "Quebec", "Kettle"))
        by_document[1 if from_english else 0].add(example.question)
    assert "Wer moved to Tromsø in March 2019?" in by_document[0]
    assert "Was sagen meine Notizen über Anna Berg?" in by_document[0]
    assert any(question.startswith("Weißt du, ") for question in by_document[0])
    english_openings = ("Who ", "Where ", "When ", "What do my notes", "Do you know")
    assert not any(question.startswith(english_openings) for question in by_document[0])
    assert "What do my notes say about Tobias Ferrand?" in by_document[1]
    # notes for the user stay in the app's language
    assert augmentation.notes == [
        "“c.txt” looks like it is not in English: it is trained as raw text only, without "
        "questions."]


def test_the_quiz_of_a_second_language_uses_its_rules(pseudo_german):
    quiz = make_quiz([NOTE], 100)
    assert quiz and all("Who" not in item.question for item in quiz)
    blanks = [item.question for item in quiz if item.form == "fill_blank"]
    assert blanks and all(question.startswith("In meinen Notizen: „") for question in blanks)
