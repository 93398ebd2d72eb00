"""English verb forms for direct questions, and the other small English rules."""

from __future__ import annotations

import pytest

from slmdesk.core.knowledge import rules_en
from slmdesk.core.knowledge.rules_en import present_base_form, verb_base_form


@pytest.mark.parametrize("past, base", [
    ("moved", "move"), ("opened", "open"), ("visited", "visit"), ("married", "marry"),
    ("planned", "plan"), ("added", "add"), ("called", "call"), ("travelled", "travel"),
    ("agreed", "agree"), ("named", "name"), ("baked", "bake"), ("decided", "decide"),
    ("managed", "manage"), ("shared", "share"), ("donated", "donate"), ("used", "use"),
    ("danced", "dance"), ("bottled", "bottle"), ("developed", "develop"), ("pruned", "prune"),
    ("changed", "change"), ("belonged", "belong"), ("invited", "invite"), ("went", "go"),
    ("bought", "buy"), ("taught", "teach"), ("met", "meet"),
])
def test_past_to_base(past, base):
    assert verb_base_form(past) == base


@pytest.mark.parametrize("word", ["need", "hundred", "bed", "red", "speed", "the", "chairs"])
def test_not_past(word):
    assert verb_base_form(word) is None


@pytest.mark.parametrize("verb, base", [
    ("teaches", "teach"), ("keeps", "keep"), ("studies", "study"), ("goes", "go"),
    ("has", "have"), ("fixes", "fix"), ("lives", "live"),
])
def test_present_to_base(verb, base):
    assert present_base_form(verb) == base


@pytest.mark.parametrize("word, past", [("founded", True), ("built", True), ("went", True),
                                        ("need", False), ("hundred", False), ("chairs", False)])
def test_past_tense(word, past):
    assert rules_en.is_past_tense(word) is past


@pytest.mark.parametrize("word, month", [
    ("mar", "march"), ("march", "march"), ("sept", "september"), ("sep", "september"),
    ("march.", "march"), ("may", "may"), ("marching", None), ("monday", None),
])
def test_month_named(word, month):
    assert rules_en.month_named(word) == month


def test_possessive_after_s_and_otherwise():
    assert rules_en.possessive_of("Carla Brennan") == "Carla Brennan’s"
    assert rules_en.possessive_of("Brennan & Sons") == "Brennan & Sons’"


@pytest.mark.parametrize("word, keeps", [("I", True), ("I'm", True), ("I’ve", True),
                                         ("In", False), ("It", False)])
def test_words_always_capitalised(word, keeps):
    assert rules_en.keeps_capital(word) is keeps


@pytest.mark.parametrize("word, plural", [("chairs", True), ("people", True), ("glass", False),
                                          ("bus", False), ("anna's", False), ("chair", False)])
def test_plural_nouns(word, plural):
    assert rules_en.is_plural(word) is plural


def test_adverbs_and_nouns_in_ly():
    assert rules_en.looks_like_adverb("fluently") and not rules_en.looks_like_adverb("family")
