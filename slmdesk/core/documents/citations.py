"""Which passages a reply's sources list shows: the ones it cites, else the relevant ones.

A model is given numbered passages and asked to cite them as ``[1]``; a small one cites numbers
it was never given (``[2]`` when only ``[1]`` was listed) and, when a small collection went in
whole, every passage of it was listed as a source of every reply, also of a question it has
nothing to do with. So after the reply: the numbers it cites that name a passage are its
sources (under the numbers it used); a number that names no passage is listed as such, never as
a link; a reply that cites nothing shows the passages that passed the relevance floor for the
question (:data:`slmdesk.core.documents.search.VECTOR_FLOOR`, or a shared content word), and
none when nothing was relevant. The passages the model was given are kept too (``given``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# [1], [1, 3], [1][2]; a footnote-like number up to 999, not a year in brackets ([2024]).
_CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")


def cited_numbers(reply: str) -> list[int]:
    """The citation numbers in a reply, in order of first use, each once."""
    numbers = (int(n) for group in _CITATION.findall(reply) for n in re.split(r"[,;]", group))
    return list(dict.fromkeys(numbers))


def reply_sources(reply: str, given: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a reply's metadata keeps about its sources.

    ``given`` is the passages the model was given, numbered from 1 in that order (each the JSON
    of a :class:`~slmdesk.core.documents.search.Passage`, with ``relevant``). Returns
    ``sources`` (each with its ``number``), ``sources_basis`` ('cited', 'relevant' or 'none'),
    ``invented_citations`` (numbers the reply cites that name no passage) and ``given``.
    """
    numbers = cited_numbers(reply)
    valid = [n for n in numbers if 1 <= n <= len(given)]
    invented = [n for n in numbers if not 1 <= n <= len(given)]
    if valid:
        sources = [{**given[n - 1], "number": n} for n in valid]
        basis = "cited"
    else:
        sources = [{**passage, "number": n} for n, passage in enumerate(given, start=1) if passage.get("relevant")]
        basis = "relevant" if sources else "none"
    return {"sources": sources, "sources_basis": basis, "invented_citations": invented, "given": list(given)}
