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
the person named just before it in place of the pronoun. The pronouns are those of the fact's
language (:attr:`.facts.Fact.rules`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

from .facts import Fact, leaning_pronoun
from .forms import SpanKind
from .language import Rules
from .names import NAME, PERSON, PLACE
from .patterns import alternation
from .spans import NUMBER, Span, is_money, number_parts


def stand_alone(fact: Fact) -> Fact | None:
    """``fact`` with the pronoun it leans on replaced by the name it points to ("We switched
    to them in 2022" -> "We switched to Vandermeer Supply in 2022"), or None when it does not
    lean on an earlier sentence or the name is not certain."""
    pronoun = leaning_pronoun(fact)
    if pronoun is None:
        return None
    rules = fact.rules
    word = pronoun.group().casefold()
    kind = (PERSON if word in rules.PERSON_PRONOUNS
            else NAME if word in rules.NAME_PRONOUNS else None)
    opening_only = word in rules.SENTENCE_OPENING_POSSESSIVES
    if (kind is None or _in_quotes(fact.sentence, pronoun.start())
            or rules.CONTRACTION_AFTER.match(fact.sentence[pronoun.end():])  # "they're"
            or (opening_only and pronoun.start() > 0)):  # "sent her flowers": hers or her?
        return None
    antecedent = _only_name(fact.earlier_spans, fact.earlier_sentences, kind, rules)
    if antecedent is None:
        return None
    possessive = word in rules.POSSESSIVE_PRONOUNS or opening_only
    following = re.match(r"\s+(\S+)(?:\s+(\S+))?", fact.sentence[pronoun.end():])
    if possessive and following and (
            following.group(1)[0].isdigit()
            or (following.group(1).casefold() in rules.KINSHIP_WORDS
                and (following.group(2) or "")[:1].isupper())):
        return None  # "His sister Ruth" names her; "Her 3 dogs" would ask "Carla's how many"
    # "They deliver" is the firm, asked "who" or "what", never "where": a name, not a place
    return _replaced(fact, pronoun.start(), pronoun.end(), antecedent.text,
                     NAME if kind == NAME else PERSON, possessive)


def clause_subjects_named(fact: Fact) -> Fact:
    """``fact`` with each "she" or "he" opening a later clause replaced by the one person named
    before it in the sentence ("..., Carla Brennan, and she prefers" -> "and Carla Brennan
    prefers"), for the questions asked about that clause; unchanged where two people (or one
    person's sister: "Tom Hale's sister runs a bakery, and she opens") come before it."""
    rules = fact.rules
    for match in reversed(list(rules.CLAUSE_SUBJECT_PRONOUN.finditer(fact.sentence))):
        before = fact.sentence[:match.start(1)]
        people = {s.text for s in fact.spans if s.kind == PERSON and s.end <= match.start(1)}
        if len(people) == 1 and not _names_others(before, rules, list(people)):
            fact = _replaced(fact, match.start(1), match.end(1), people.pop(), PERSON, False)
    return fact


def _only_name(earlier: Sequence[Sequence[Span]], sentences: Sequence[str],
               kind: SpanKind, rules: Rules) -> Span | None:
    """The one name ``kind`` of pronoun can point to in the last earlier sentence naming any,
    else None (a wrong guess teaches a wrong fact, so any doubt is None):

    - "she" and "he": the one person of that sentence, when it names no one else who could
      be meant ("a new accountant", "his sister", "Carla Brennan's daughter");
    - "they": the one firm or other name, or else a place of several words (firms read as
      places after "from": "comes from Brennan & Sons in Leeds"), never a town; and not when
      the sentence names people or counts things ("40 tins"), which "they" may just as well be.
    """
    for spans, sentence in zip(reversed(earlier), reversed(sentences)):
        if kind == PERSON:
            found = [span for span in spans if span.kind == PERSON]
            if found and _names_others(sentence, rules, [span.text for span in found]):
                return None
        else:
            if any(span.kind == PERSON for span in spans) or _counts_things(spans, rules):
                return None
            found = ([span for span in spans if span.kind == NAME]
                     or [span for span in spans if span.kind == PLACE and " " in span.text])
        if found:
            return found[0] if len({span.text for span in found}) == 1 else None
        if any(span.kind in (PERSON, NAME, PLACE) for span in spans):
            return None  # the nearest sentence naming anyone names no one "they" or "she" is
    return None


def _names_others(text: str, rules: Rules, people: Sequence[str] = ()) -> bool:
    """Whether ``text`` speaks of people it does not name ("a new accountant", "his sister"),
    leaving out the words of the names ``people`` ("Grandma Esther") and a noun that a form of
    "be" makes one of them ("Their account manager is Carla Brennan")."""
    copula = alternation(rules.IDENTIFYING_COPULAS)
    for name in people:
        text = re.sub(rf"\b[a-z]+\s+{copula}\s+{re.escape(name)}", " ", text)
        text = text.replace(name, " ")
    words = re.findall(r"[^\W\d_]+", text.casefold())
    return any(word in rules.KINSHIP_WORDS or word in rules.UNNAMED_PERSON_NOUNS
               for word in words)


def _counts_things(spans: Sequence[Span], rules: Rules) -> bool:
    """Whether ``spans`` count something "they" could be: "40 tins", not "six weeks"."""
    for span in spans:
        if span.kind == NUMBER and not is_money(span.text, rules):
            noun = number_parts(span.text, rules)[1].split()
            if noun and noun[0].casefold() not in rules.DURATION_NOUNS and (
                    noun[0].casefold() not in rules.MASS_AND_VOLUME_UNITS):
                return True
    return False


def _in_quotes(text: str, index: int) -> bool:
    before = text[:index]
    return before.count('"') % 2 == 1 or before.count("“") > before.count("”")


def _replaced(fact: Fact, start: int, end: int, name: str, kind: SpanKind,
              possessive: bool) -> Fact:
    """``fact`` with ``sentence[start:end]`` replaced by ``name`` (or its possessive), the
    spans after it moved and the name made a span of its own (not its possessive)."""
    said = fact.rules.possessive_of(name) if possessive else name
    sentence = fact.sentence[:start] + said + fact.sentence[end:]
    shift = len(said) - (end - start)
    spans = [s if s.end <= start else Span(s.text, s.kind, s.start + shift, s.end + shift)
             for s in fact.spans if s.end <= start or s.start >= end]
    if not possessive:  # "Brennan & Sons’ account manager" is not asked "where ’ account ..."
        spans.append(Span(name, kind, start, start + len(name)))
    return replace(fact, sentence=sentence, spans=tuple(sorted(spans, key=lambda s: s.start)))
