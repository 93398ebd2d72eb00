"""Regular-expression building blocks that hold no word of any language.

:func:`alternation` is the one way a word list becomes part of a pattern in this package (the
rules modules build theirs with it): each word escaped, so that "e.g." or "km/h" matches only
itself, and the longest first, so that "into" is tried before "in" wherever what follows the
group would let either match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A group that never matches: the alternation of no words.
NOTHING = "(?!)"


def alternation(words: Iterable[str]) -> str:
    """A non-capturing group matching any one of ``words``: ``(?:into|at|in)``.

    Longest first, ties in alphabetical order, so the pattern is the same whatever the order
    (or the set) the words come in; duplicates are dropped. No words give :data:`NOTHING`
    rather than an empty group, which would match everywhere.
    """
    unique = sorted(set(words), key=lambda word: (-len(word), word))
    if not unique:
        return NOTHING
    return "(?:" + "|".join(re.escape(word) for word in unique) + ")"
