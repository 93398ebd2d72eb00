"""Found passages as a small model reads them best: with their neighbours, grouped by file, in
reading order.

Search ranks passages best first, but a 135M model given the top three in that order answered 4
of 10 questions where the same note pasted whole answered 6 (``bench/rag_bench.py``): the passage
that matched the question's words was often not the one holding the answer (a name in one, what
it was in the next), and passages of one file came in reverse order. So each hit brings the
passages just after and before it (best hit first, as long as the budget allows), and the
passages of each file are put back in reading order, files in the order of their best hit: 7 of
10. Joining a file's passages into one excerpt (the overlap said once) was measured too and
lost (3 of 10): the model answered "1", the only number it was shown, where separate numbered
passages gave it something to point at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from slmdesk.core.documents.search import PASSAGE_QUERY, Passage, passage_from_row

#: Characters each passage costs in the prompt beyond its text (its number and citation).
PASSAGE_OVERHEAD = 40


def excerpts(conn: sqlite3.Connection, found: Sequence[Passage], budget_characters: int) -> list[Passage]:
    """``found`` (best first) with their neighbouring passages, files in the order of their best
    hit, each file's passages in reading order, all within the budget."""
    if not found:
        return []
    places = _places(conn, [passage.chunk_id for passage in found])
    chosen: dict[int, Passage] = {}
    used = 0
    for passage in found:  # the hits themselves first, best first, as long as they fit
        if used + len(passage.text) + PASSAGE_OVERHEAD > budget_characters:
            break
        chosen[passage.chunk_id] = passage
        used += len(passage.text) + PASSAGE_OVERHEAD
    for passage in [p for p in found if p.chunk_id in chosen]:  # then their neighbours
        if passage.chunk_id not in places:
            continue
        file_id, ordinal = places[passage.chunk_id]
        for neighbour in _neighbours(conn, file_id, ordinal):
            if neighbour.chunk_id in chosen:
                continue
            if used + len(neighbour.text) + PASSAGE_OVERHEAD > budget_characters:
                continue
            chosen[neighbour.chunk_id] = neighbour
            used += len(neighbour.text) + PASSAGE_OVERHEAD
    places.update(_places(conn, [chunk_id for chunk_id in chosen if chunk_id not in places]))
    file_rank: dict[int, int] = {}
    for passage in found:
        if passage.chunk_id in chosen and passage.chunk_id in places:
            file_rank.setdefault(places[passage.chunk_id][0], len(file_rank))
    return sorted((p for p in chosen.values() if p.chunk_id in places),
                  key=lambda p: (file_rank.get(places[p.chunk_id][0], len(file_rank)), places[p.chunk_id][1]))


def _places(conn: sqlite3.Connection, chunk_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    return {row[0]: (row[1], row[2]) for row in conn.execute(
        f"SELECT id, file_id, ordinal FROM doc_chunks WHERE id IN ({marks})", list(chunk_ids))}


def _neighbours(conn: sqlite3.Connection, file_id: int, ordinal: int) -> list[Passage]:
    """The passages just before and after a hit in its file (the one after first: a passage more
    often names a thing the next one explains)."""
    rows = conn.execute(f"{PASSAGE_QUERY} WHERE c.file_id = ? AND c.ordinal IN (?, ?) ORDER BY c.ordinal DESC",
                        (file_id, ordinal + 1, ordinal - 1))
    return [passage_from_row(row) for row in rows]
