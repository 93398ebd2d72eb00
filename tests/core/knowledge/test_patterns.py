"""The one helper that turns word lists into regex alternations."""

from __future__ import annotations

import re

from slmdesk.core.knowledge.patterns import NOTHING, alternation


def test_longest_first_then_alphabetical_whatever_the_input_order():
    assert alternation(["in", "at", "into"]) == "(?:into|at|in)"
    assert alternation({"into", "in", "at"}) == alternation(("at", "into", "in"))


def test_words_are_escaped():
    pattern = re.compile(rf"^{alternation(['e.g.', 'km/h', 'mid-'])}$")
    assert pattern.match("e.g.") and pattern.match("km/h") and pattern.match("mid-")
    assert not pattern.match("eXgX")


def test_the_longer_word_wins_where_both_would_match():
    assert re.match(alternation(["in", "into"]), "into the barn").group() == "into"


def test_duplicates_are_dropped():
    assert alternation(["may", "may", "june"]) == "(?:june|may)"


def test_no_words_match_nothing():
    assert alternation([]) == NOTHING
    assert re.search(alternation([]), "anything at all") is None


def test_the_group_does_not_capture():
    assert re.match(rf"({alternation(['who', 'which'])}) ran", "who ran").groups() == ("who",)
