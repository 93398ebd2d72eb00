"""Pronouns replaced by what they point to, so that a sentence can stand on its own.

"We switched to them in 2022" says nothing about Vandermeer Supply until one has read the
sentence before it; a person asks "When did we start using Vandermeer?". A question made from
the sentence as written ("when we switched to them") never names the firm, so the model cannot
tie the two. So a sentence that leans on the one before it (:func:`.facts.leans_on_previous`)
is restated with its first pronoun replaced by the one name it can point to:

- "they", "them", "their" point to a firm or other name (never a town: "Leeds" is not "they");
- "he", "she", "him", "his", "her" point to a person;
- "it" and "its" are left alone (too often a thing that has no name).

The name must be the only one of its kind in the nearest sentence before that names one, or
nothing is replaced: a wrong guess would teach a wrong fact. Within a sentence, a clause that
opens with "she" or "he" after a comma ("..., and she prefers orders by email") is asked with
the person named just before it in place of the pronoun.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

from . import rules_en as rules
from .facts import Fact, leans_on_previous
from .names import NAME, PERSON, PLACE
from .spans import Span

_PRONOUN = re.compile(rf"\b(?:{'|'.join(sorted(rules.BACK_POINTING_PRONOUNS))})\b",
                      re.IGNORECASE)
_CLAUSE_SUBJECT = re.compile(
    rf",\s+(?:(?:{'|'.join(sorted(rules.CLAUSE_JOINERS))})\s+)?"
    rf"\b({'|'.join(sorted(rules.PERSON_SUBJECT_PRONOUNS))})\b(?=\s+[a-z])")


def stand_alone(fact: Fact) -> Fact | None:
    """``fact`` with the pronoun it leans on replaced by the name it points to ("We switched
    to them in 2022" -> "We switched to Vandermeer Supply in 2022"), or None when it does not
    lean on an earlier sentence or the name is not certain."""
    if not leans_on_previous(fact):
        return None
    first_name = min((s.start for s in fact.spans if s.kind in (PERSON, NAME, PLACE)),
                     default=len(fact.sentence))
    pronoun = next((m for m in _PRONOUN.finditer(fact.sentence) if m.start() < first_name), None)
    if pronoun is None:
        return None
    word = pronoun.group().casefold()
    kind = PERSON if word in rules.PERSON_PRONOUNS else NAME if word in rules.NAME_PRONOUNS else None
    if kind is None:
        return None
    antecedent = _only_name(fact.earlier_names, kind)
    if antecedent is None:
        return None
    possessive = _is_possessive(word, fact.sentence[pronoun.end():])
    return _replaced(fact, pronoun.start(), pronoun.end(), antecedent.text, antecedent.kind,
                     possessive)


def clause_subjects_named(fact: Fact) -> Fact:
    """``fact`` with each "she" or "he" opening a later clause replaced by the person named
    last before it in the sentence ("..., Carla Brennan, and she prefers" -> "and Carla Brennan
    prefers"), for the questions asked about that clause; unchanged when there is none."""
    for match in reversed(list(_CLAUSE_SUBJECT.finditer(fact.sentence))):
        people = [s for s in fact.spans if s.kind == PERSON and s.end <= match.start(1)]
        if people:
            fact = _replaced(fact, match.start(1), match.end(1), people[-1].text, PERSON, False)
    return fact


def _only_name(earlier: Sequence[Sequence[Span]], kind: str) -> Span | None:
    """The one name ``kind`` of pronoun can point to in the last earlier sentence naming any,
    else None. "They" points to a firm or other name, or else to a place of several words
    (firms read as places after "from": "comes from Brennan & Sons in Leeds"), never a town."""
    for spans in reversed(earlier):
        if kind == PERSON:
            found = [span for span in spans if span.kind == PERSON]
        else:
            found = ([span for span in spans if span.kind == NAME]
                     or [span for span in spans if span.kind == PLACE and " " in span.text])
        if found:
            return found[0] if len({span.text for span in found}) == 1 else None
    return None


def _is_possessive(word: str, after: str) -> bool:
    if word in rules.POSSESSIVE_PRONOUNS:
        return True
    if word != "her":
        return False
    following = re.match(r"\s+([a-z]+)", after)  # "her name" is hers; "ask her about" is her
    return bool(following) and following.group(1) not in rules.STOP_WORDS


def _replaced(fact: Fact, start: int, end: int, name: str, kind: str,
              possessive: bool) -> Fact:
    """``fact`` with ``sentence[start:end]`` replaced by ``name`` (or its possessive), the
    spans after it moved and the name made a span of its own (not its possessive)."""
    said = name + (rules.POSSESSIVE_AFTER_S if name.endswith("s") else rules.POSSESSIVE_SUFFIX
                   ) if possessive else name
    sentence = fact.sentence[:start] + said + fact.sentence[end:]
    shift = len(said) - (end - start)
    spans = [s if s.end <= start else Span(s.text, s.kind, s.start + shift, s.end + shift)
             for s in fact.spans]
    if not possessive:  # "Brennan & Sons’ account manager" is not asked "where ’ account ..."
        spans.append(Span(name, kind, start, start + len(name)))
    return replace(fact, sentence=sentence, spans=tuple(sorted(spans, key=lambda s: s.start)))
