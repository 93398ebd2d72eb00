"""Sentence splitting: abbreviations, initials, decimals, times, ellipses and line-based notes."""

from __future__ import annotations

import pytest

from slmdesk.core.knowledge import split_sentences
from slmdesk.core.knowledge.sentences import split_units


@pytest.mark.parametrize("text, expected", [
    ("Dr. Lund met Mr. Hale at St. Olaf College. They talked.",
     ["Dr. Lund met Mr. Hale at St. Olaf College.", "They talked."]),
    ("We used e.g. pine and i.e. soft wood. Then we stopped.",
     ["We used e.g. pine and i.e. soft wood.", "Then we stopped."]),
    ("J. R. Smith wrote it. J.R. Smith signed it.",
     ["J. R. Smith wrote it.", "J.R. Smith signed it."]),
    ("It was plan B. The rest followed.", ["It was plan B.", "The rest followed."]),
    ("The walk is 3.5 km. We start at 7.30 sharp.",
     ["The walk is 3.5 km.", "We start at 7.30 sharp."]),
    ("We waited... Then Anna came. It went on... and on.",
     ["We waited...", "Then Anna came.", "It went on... and on."]),
    ("Is it far? Yes! “Quite far.” Then (later) we left.",
     ["Is it far?", "Yes!", "“Quite far.”", "Then (later) we left."]),
    ("He lives at no. 5 on Elm Road. No. It was no. 7.",
     ["He lives at no. 5 on Elm Road.", "No.", "It was no. 7."]),
    ("Costs were $1,200.50 in total. Fine.", ["Costs were $1,200.50 in total.", "Fine."]),
])
def test_prose_splits_at_sentence_ends_only(text, expected):
    assert split_sentences(text) == expected


def test_line_based_notes_keep_each_line_and_bullet_apart():
    text = ("Reunion plan\n\nWe need:\n- 42 chairs from Hansen Rentals\n- 6 tables\n"
            "  (folding ones)\n* cake\n3) plates\nCall Anna Berg about the boat\n")
    assert split_sentences(text) == ["Reunion plan", "We need:", "42 chairs from Hansen Rentals",
                                     "6 tables (folding ones)", "cake", "plates",
                                     "Call Anna Berg about the boat"]


def test_wrapped_prose_lines_are_joined_and_whitespace_normalised():
    text = ("My aunt   lives in\nTromsø now, and she\nkeeps bees.\n\n  Second   paragraph "
            "here.\r\nThird line.")
    assert split_sentences(text) == ["My aunt lives in Tromsø now, and she keeps bees.",
                                     "Second paragraph here.", "Third line."]


def test_units_say_which_sentences_were_list_items_or_bare_lines():
    units = split_units("Shopping\n- 42 chairs\nWe paid.")
    assert [(u.text, u.bullet, u.line) for u in units] == [
        ("Shopping", False, True), ("42 chairs", True, True), ("We paid.", False, False)]


def test_empty_text_has_no_sentences():
    assert split_sentences("") == [] and split_sentences("  \n\n ") == []
