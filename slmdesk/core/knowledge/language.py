"""Which language a document is in, as far as the question rules care.

The rules only know English; run on German or French they would take every capitalised noun
for a name and ask nonsense. English prose is about one third function words ("the", "and",
"of", "was"), and other languages share few of them, so the share of words from a short English
list tells the two apart without any model.
"""

from __future__ import annotations

import re

from . import rules_en as rules

ENGLISH, OTHER, UNKNOWN = rules.LANGUAGE, "other", "unknown"

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def detect_language(text: str) -> str:
    """"en" for English, "other" for another language, "unknown" when too short to tell."""
    words = [word.casefold() for word in _WORD.findall(text)]
    if len(words) < rules.MIN_WORDS_TO_DETECT:
        return UNKNOWN
    share = sum(word in rules.STOP_WORDS for word in words) / len(words)
    return ENGLISH if share >= rules.ENGLISH_STOP_WORD_SHARE else OTHER


def english_stop_word_share(text: str) -> float:
    """The share of words from the English list, for tuning the threshold on real notes."""
    words = [word.casefold() for word in _WORD.findall(text)]
    return sum(word in rules.STOP_WORDS for word in words) / len(words) if words else 0.0
