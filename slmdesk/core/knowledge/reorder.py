"""The same sentence with its parts in another order, word for word.

"In March 2019, Anna Berg moved to Tromsø." and "Anna Berg moved to Tromsø in March 2019." state
one fact in two forms. Only moves that keep the meaning are made, and only where they are safe:

- a leading phrase that ends in a comma goes to the end ("In 1987, we ..." -> "We ... in 1987.");
- an apposition swaps ("His wife, Marguerite Ferrand, teaches" -> "Marguerite Ferrand, his
  wife, teaches"), and "My aunt Ingrid Vale keeps" becomes "Ingrid Vale, my aunt, keeps";
- a date phrase goes to the front ("... born on 14 March 1931 in Kvarnholm." -> "On 14 March
  1931, ... born in Kvarnholm.");
- a place phrase ending the sentence goes to the front ("... at Hallskär." -> "At Hallskär, ...").

A date or place is not moved past words that could change what it belongs to ("that", "when",
"and", "said"). Every word is kept; only capitals of first words and commas change. Which words
open a phrase that may move, and which words stop a move, come from the rules of the sentence's
language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .language import DEFAULT_RULES, Rules
from .names import PERSON, PLACE
from .spans import DATE, Span

_FINAL = re.compile(r"[.!]+[\"”’')]*$")
#: A leading phrase longer than this is probably a clause of its own.
MAX_LEADING_WORDS = 8
MIN_MAIN_CLAUSE_WORDS = 3


@dataclass(frozen=True)
class Reordered:
    """A reordered sentence and those of the original spans that survived the move."""

    text: str
    spans: tuple[Span, ...]


def restate(sentence: str, spans: Sequence[Span],
            rules: Rules = DEFAULT_RULES) -> Reordered | None:
    """The sentence reordered by the first safe move, or None when no safe move exists."""
    for move in (leading_phrase_to_end, swap_apposition, date_phrase_to_front,
                 name_before_kinship, place_phrase_to_front):
        reordered = move(sentence, spans, rules)
        if reordered:
            return reordered
    return None


def leading_phrase_to_end(sentence: str, spans: Sequence[Span],
                          rules: Rules = DEFAULT_RULES) -> Reordered | None:
    """"In March 2019, Anna Berg moved to Tromsø." -> "Anna Berg moved to Tromsø in March
    2019."."""
    final = _FINAL.search(sentence)
    if not final:
        return None
    first_word = sentence.split()[0].casefold()
    starts_with_date = any(s.kind == DATE and s.start == 0 for s in spans)
    if first_word not in rules.LEADING_PHRASE_STARTERS and not starts_with_date:
        return None
    comma = _first_comma_outside(sentence, spans)
    date_end = _leading_date_end(sentence, spans, rules)
    if date_end is not None:
        comma = date_end  # "In 1911 the family emigrated ...": the date phrase needs no comma
    if comma is None:
        return None
    main_start = comma + (sentence[comma] == ",") if comma < len(sentence) else comma
    main_start += len(sentence[main_start:]) - len(sentence[main_start:].lstrip())
    main = sentence[main_start:final.start()]
    leading = sentence[:comma].split()
    if (len(leading) > MAX_LEADING_WORDS
            or len(main.split()) < MIN_MAIN_CLAUSE_WORDS or "," in main
            or main.split()[0].casefold() in rules.MAIN_CLAUSE_OPENERS_KEPT):
        return None
    if first_word not in rules.SUBORDINATORS and any(_is_verb(word, rules)
                                                      for word in leading[1:]):
        return None  # "In 1911 the family emigrated to Minnesota, where ..." is a clause
    return _assemble(sentence, spans, [(main_start, final.start()), (0, comma)], [" "], final,
                     rules)


def _leading_date_end(sentence: str, spans: Sequence[Span], rules: Rules) -> int | None:
    """Where an opening date phrase without a comma ends ("In 1911 the family ..."), or None."""
    opening = re.match(r"(?:(\w+)\s+)?", sentence)
    assert opening is not None  # everything in the pattern is optional: it always matches
    first = opening.group(1).casefold() if opening.group(1) else ""
    for span in spans:
        if span.kind == DATE and (span.start == 0 or (
                span.start == opening.end() and first in rules.LEADING_PHRASE_STARTERS)):
            following = re.match(r"\s+([\w']+)", sentence[span.end:])
            if following and (following.group(1).casefold() in rules.APPOSITION_DETERMINERS
                              or following.group(1).casefold() in rules.SUBJECT_PRONOUNS):
                return span.end
    return None


def swap_apposition(sentence: str, spans: Sequence[Span],
                    rules: Rules = DEFAULT_RULES) -> Reordered | None:
    """"His wife, Marguerite Ferrand, teaches" -> "Marguerite Ferrand, his wife, teaches"."""
    match = rules.APPOSITION.match(sentence)
    final = _FINAL.search(sentence)
    if not match or not final or len(match.group(1).split()) > 4 or \
            not sentence[match.end():match.end() + 1].islower():
        return None
    second = match.group(2)
    if not (second[:1].isupper()
            or second.split()[0].casefold() in rules.APPOSITION_DETERMINERS):
        return None
    if any(_is_verb(word, rules) for word in match.group(1).split()[1:]):
        return None
    return _assemble(sentence, spans,
                     [match.span(2), match.span(1), (match.end(), final.start())],
                     [", ", ", "], final, rules)


def name_before_kinship(sentence: str, spans: Sequence[Span],
                        rules: Rules = DEFAULT_RULES) -> Reordered | None:
    """"My aunt Ingrid Vale keeps bees." -> "Ingrid Vale, my aunt, keeps bees."."""
    kinship = rules.KINSHIP_START.match(sentence)
    final = _FINAL.search(sentence)
    if not kinship or not final:
        return None
    person = next((s for s in spans if s.kind == PERSON and s.start == kinship.end()), None)
    if not person or not re.match(r" [a-z]", sentence[person.end:]):
        return None
    return _assemble(sentence, spans, [(person.start, person.end), (0, kinship.end() - 1),
                                       (person.end + 1, final.start())], [", ", ", "], final,
                     rules)


def date_phrase_to_front(sentence: str, spans: Sequence[Span],
                         rules: Rules = DEFAULT_RULES) -> Reordered | None:
    """"... married in Chennai in October 2019." -> "In October 2019, ... married in Chennai."."""
    final = _FINAL.search(sentence)
    if not final:
        return None
    for date in (s for s in spans if s.kind == DATE and s.end <= final.start()):
        before = re.search(r"(\w+)\s+$", sentence[:date.start])
        if before and before.group(1).casefold() in rules.TRAILING_DATE_PREPOSITIONS:
            start = before.start(1)
        elif date.text.split()[0].casefold() in rules.DATE_DETERMINERS:
            start = date.start
        else:
            continue
        if _safe_to_front(sentence[:start], rules):
            return _front(sentence, spans, start, date.end, final, rules)
    return None


def place_phrase_to_front(sentence: str, spans: Sequence[Span],
                          rules: Rules = DEFAULT_RULES) -> Reordered | None:
    """"She worked as a lighthouse keeper at Hallskär." -> "At Hallskär, she worked as ..."."""
    final = _FINAL.search(sentence)
    places = [s for s in spans if s.kind == PLACE and s.end == final.start()] if final else []
    if not final or not places:
        return None
    before = rules.FRONTED_PLACE_START.search(sentence[:places[0].start])
    if not before or not _safe_to_front(sentence[:before.start()], rules):
        return None
    *_, subject_end, last = sentence[:before.start()].split()
    if _is_verb(last, rules) and (subject_end[:1].isupper() or _is_verb(subject_end, rules)
                                  or subject_end.casefold() in rules.SUBJECT_PRONOUNS):
        return None  # "In Oslo, Anna Berg lives." and "In Oslo, she was born." say it oddly
    return _front(sentence, spans, before.start(), places[0].end, final, rules)


def _safe_to_front(before: str, rules: Rules) -> bool:
    words = [w.strip(",;:").casefold() for w in before.split()]
    return (len(words) >= MIN_MAIN_CLAUSE_WORDS and not set(words) & rules.SCOPE_WORDS
            and not any(mark in before for mark in ",;:()\"“"))


def _front(sentence: str, spans: Sequence[Span], start: int, end: int,
           final: re.Match[str], rules: Rules) -> Reordered:
    """The phrase from ``start`` to ``end`` moved to the front, followed by a comma."""
    main_end = len(sentence[:start].rstrip())
    if end == final.start():
        return _assemble(sentence, spans, [(start, end), (0, main_end)], [", "], final, rules)
    return _assemble(sentence, spans, [(start, end), (0, main_end), (end, final.start())],
                     [", ", ""], final, rules)


def _assemble(sentence: str, spans: Sequence[Span], ranges: list[tuple[int, int]],
              joiners: list[str], final: re.Match[str], rules: Rules) -> Reordered:
    """Pieces of ``sentence`` in a new order: the first capitalised, the others lowercased where
    they start with an ordinary word."""
    text = ""
    pieces = []
    for index, (start, end) in enumerate(ranges):
        piece = sentence[start:end]
        piece = piece[:1].upper() + piece[1:] if index == 0 else _lower_first(piece, rules)
        pieces.append((start, end, len(text)))
        text += piece + (joiners[index] if index < len(joiners) else "")
    text += final.group()
    return Reordered(text, _moved_spans(spans, pieces, text))


def excerpt(sentence: str, spans: Sequence[Span], ranges: list[tuple[int, int]]) -> Reordered:
    """The pieces of ``sentence`` in ``ranges``, joined, capitalised, ending in a full stop."""
    text = ""
    pieces = []
    for start, end in ranges:
        pieces.append((start, end, len(text)))
        text += sentence[start:end]
    text = text[:1].upper() + text[1:].rstrip(" ,;:") + "."
    return Reordered(text, _moved_spans(spans, pieces, text))


def _first_comma_outside(sentence: str, spans: Sequence[Span]) -> int | None:
    for match in re.finditer(",", sentence):
        if not any(s.start <= match.start() < s.end for s in spans):
            return match.start()
    return None


def _moved_spans(spans: Sequence[Span], pieces: list[tuple[int, int, int]],
                 text: str) -> tuple[Span, ...]:
    moved = []
    for span in spans:
        for old_start, old_end, new_start in pieces:
            if old_start <= span.start and span.end <= old_end:
                start = new_start + span.start - old_start
                end = start + span.end - span.start
                if text[start:end].casefold() == span.text.casefold():
                    moved.append(Span(text[start:end], span.kind, start, end))
    return tuple(sorted(moved, key=lambda s: (s.start, -s.end)))


def _is_verb(word: str, rules: Rules) -> bool:
    lower = word.strip(",.").casefold()
    return (lower in rules.AUXILIARIES or rules.verb_base_form(lower) is not None
            or (rules.present_base_form(lower) is not None and lower not in rules.STOP_WORDS))


def _lower_first(text: str, rules: Rules) -> str:
    """Lowercase an ordinary first word ("In", "The", "My"), never a name or "I"."""
    first = text.split()[0] if text.split() else ""
    if first.casefold() in rules.COMMON_CAPITALISED and not rules.keeps_capital(first):
        return text[:1].lower() + text[1:]
    return text
