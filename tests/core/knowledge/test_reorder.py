"""Restating by reordering: the same words in another order, and only where that is safe."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from slmdesk.core.knowledge import find_spans
from slmdesk.core.knowledge.reorder import restate


def restated(sentence: str) -> str | None:
    reordered = restate(sentence, find_spans(sentence))
    return reordered.text if reordered else None


def words(text: str) -> Counter:
    return Counter(re.findall(r"[\w'’$€£.-]+", text.casefold().replace(".", " ")))


@pytest.mark.parametrize("sentence, expected", [
    ("In March 2019, Anna Berg moved to Tromsø.", "Anna Berg moved to Tromsø in March 2019."),
    ("Anna Berg moved to Tromsø in March 2019.", "In March 2019, Anna Berg moved to Tromsø."),
    ("His wife, Marguerite Ferrand, teaches violin at the Conservatoire de Lévis.",
     "Marguerite Ferrand, his wife, teaches violin at the Conservatoire de Lévis."),
    ("My aunt Ingrid Vale keeps bees on a farm near Lillehammer.",
     "Ingrid Vale, my aunt, keeps bees on a farm near Lillehammer."),
    ("My grandmother was born on 14 March 1931 in the village of Kvarnholm.",
     "On 14 March 1931, my grandmother was born in the village of Kvarnholm."),
    ("She worked for thirty years as a lighthouse keeper at Hallskär.",
     "At Hallskär, she worked for thirty years as a lighthouse keeper."),
    ("Last summer, I bought 42 chairs from Hansen Rentals.",
     "I bought 42 chairs from Hansen Rentals last summer."),
])
def test_restatements(sentence, expected):
    assert restated(sentence) == expected


@pytest.mark.parametrize("sentence", [
    "In March 2019, Anna Berg moved to Tromsø.",
    "My brother Jonas married Priya Raman in Chennai in October 2019.",
    "His wife, Marguerite Ferrand, teaches violin at the Conservatoire de Lévis.",
    "My aunt Ingrid Vale keeps bees on a farm near Lillehammer.",
    "My grandmother Astrid Lindqvist was born on 14 March 1931 in the village of Kvarnholm, "
    "on the island of Orust.",
    "The family dog, a grey spaniel called Pepparkaka, is nine years old.",
    "My father keeps the family archive in a green trunk in the attic at Storgatan 12 in "
    "Uddevalla.",
])
def test_restating_keeps_every_word(sentence):
    result = restated(sentence)
    assert result is not None and result != sentence
    assert words(result) == words(sentence)


@pytest.mark.parametrize("sentence", [
    "Anna said that Tom moved to Oslo in 2019.",  # the date could belong to either verb
    "Anna Berg lives in Oslo.",  # "In Oslo, Anna Berg lives." says it oddly
    "We moved to Oslo, where Anna opened a shop in 2019.",
    "The weather was nice.",
])
def test_no_reordering_where_it_is_not_safe(sentence):
    assert restated(sentence) is None


def test_the_spans_follow_the_words():
    sentence = "Anna Berg moved to Tromsø in March 2019."
    reordered = restate(sentence, find_spans(sentence))
    assert all(reordered.text[s.start:s.end] == s.text for s in reordered.spans)
    assert [s.text for s in reordered.spans] == ["March 2019", "Anna Berg", "Tromsø"]
