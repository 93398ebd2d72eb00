"""English verb forms for direct questions."""

from __future__ import annotations

import pytest

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
