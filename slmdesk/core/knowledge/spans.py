"""The fact-bearing pieces of a sentence: names, places, dates, numbers and lists.

These are what a question can ask for. Dates come first, then amounts, then names, each only
where the earlier ones left room, so every character belongs to at most one of them; a list
("apples, pears and plums") may overlap the names inside it, because it is one more thing to
ask for as a whole. The words that join list items and the shapes of numbers come from the
rules of the sentence's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import quantities
from .forms import SpanKind
from .language import DEFAULT_RULES, Rules
from .names import EMPTY_CONTEXT, PERSON, NameContext, find_names

#: Short names for the kinds, as the rules use them (PERSON, PLACE and NAME are in :mod:`.names`).
DATE, NUMBER, LIST = SpanKind.DATE, SpanKind.NUMBER, SpanKind.LIST
KINDS = tuple(SpanKind)


@dataclass(frozen=True)
class Span:
    """A fact-bearing piece of a sentence, with its character offsets in that sentence."""

    text: str
    kind: SpanKind
    start: int
    end: int


def find_spans(sentence: str, rules: Rules = DEFAULT_RULES) -> list[Span]:
    """The spans of one sentence read on its own, in the order they appear."""
    return find_spans_in_context(sentence, EMPTY_CONTEXT, rules)


def find_spans_in_context(sentence: str, context: NameContext,
                          rules: Rules = DEFAULT_RULES) -> list[Span]:
    """The spans of ``sentence``, with what the rest of its document shows about names."""
    taken: list[tuple[int, int]] = []
    dates = quantities.find_dates(sentence, taken, rules)
    spans = [_span(sentence, start, end, DATE)
             for start, end in join_coordinated(sentence, dates, rules)]
    spans += [_span(sentence, start, end, NUMBER)
              for start, end in quantities.find_amounts(sentence, taken, rules)]
    for start, end, kind in find_names(sentence, taken, context, rules):
        start, end = _with_house_number(sentence, start, end, kind, taken, rules)
        spans.append(_span(sentence, start, end, kind))
    spans += [_span(sentence, start, end, LIST) for start, end in find_lists(sentence, rules)]
    return sorted(set(spans), key=lambda span: (span.start, -span.end))


def join_coordinated(sentence: str, dates: list[tuple[int, int]],
                     rules: Rules = DEFAULT_RULES) -> list[tuple[int, int]]:
    """"Tuesdays and Fridays" is one answer to "when", not two."""
    joined: list[tuple[int, int]] = []
    for start, end in dates:
        if joined and rules.DATE_JOINER.fullmatch(sentence[joined[-1][1]:start]):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def fixed_ranges(sentence: str, rules: Rules = DEFAULT_RULES) -> list[tuple[int, int]]:
    """The date and amount ranges of ``sentence``, which names must not overlap."""
    taken: list[tuple[int, int]] = []
    quantities.find_dates(sentence, taken, rules)
    quantities.find_amounts(sentence, taken, rules)
    return taken


def _span(sentence: str, start: int, end: int, kind: SpanKind) -> Span:
    return Span(sentence[start:end], kind, start, end)


def _with_house_number(sentence: str, start: int, end: int, kind: SpanKind,
                       taken: list[tuple[int, int]], rules: Rules) -> tuple[int, int]:
    """"Storgatan 12" and "12 Elm Street" are one address."""
    if kind == PERSON:
        return start, end
    after = re.match(r" (\d{1,4}[A-Za-z]?)\b(?![.,]\d)", sentence[end:])
    if after and not any(t[0] < end + after.end() and end < t[1] for t in taken):
        end += after.end()
    before = re.search(r"\b(\d{1,4}[A-Za-z]?) $", sentence[:start])
    words = sentence[start:end].casefold().split()
    if before and any(w.strip(".") in rules.GEOGRAPHIC_WORDS for w in words):
        start -= len(before.group())
    return start, end


_ITEM_WORD = re.compile(r"[\w$€£'’.&-]+")


def find_lists(sentence: str, rules: Rules = DEFAULT_RULES) -> list[tuple[int, int]]:
    """Ranges of lists of three or more items: "apples, pears and plums", "A, B, and C"."""
    found: list[tuple[int, int]] = []
    for conjunction in rules.LIST_CONJUNCTION.finditer(sentence):
        span = _list_ending_at(sentence, conjunction, rules)
        if span and not any(s < span[1] and span[0] < e for s, e in found):
            found.append(span)
    return found


def _list_ending_at(sentence: str, conjunction: re.Match[str],
                    rules: Rules) -> tuple[int, int] | None:
    """The list whose last "and"/"or" is ``conjunction``, if the text before it is a list."""
    before = sentence[:conjunction.start()]
    segments = before.split(",")
    if len(segments) < 2:
        return None
    oxford = not segments[-1].strip()
    if oxford:
        segments = segments[:-1]
    read = [_item_words(segment, rules) for segment in segments[1:]]
    items = [item for item in read if item is not None]
    if not items or len(items) < len(read):  # none, or a segment that is no list item
        return None
    longest = max(len(item) for item in items)
    first = _tail_item(segments[0], longest, rules)
    last = _head_item(sentence, conjunction.end(), longest + 1, rules)
    if not first or not last:
        return None
    shapes = {_shape(first[0][0])} | {_shape(item[0]) for item in items}
    if last[0][0].casefold() not in rules.OBJECT_PRONOUNS:
        shapes.add(_shape(last[0][0]))
    if len(shapes) > 1:
        return None
    return first[0][1], last[-1][2]


def _item_words(segment: str, rules: Rules) -> list[str] | None:
    words = segment.split()
    if not 1 <= len(words) <= 4 or any(not _ITEM_WORD.fullmatch(w) for w in words):
        return None
    if any(_is_function(w, rules) for w in words[:1] + words[-1:]) or any(
            w.casefold() in rules.AUXILIARIES or w.casefold() in rules.IRREGULAR_PAST
            for w in words):
        return None
    inner = words[1:-1]
    if any(_is_function(w, rules) and w.casefold() not in rules.NAME_CONNECTORS for w in inner):
        return None
    return words


def _tail_item(segment: str, longest: int, rules: Rules) -> list[tuple[str, int, int]]:
    """The last words of ``segment`` (up to ``longest``) that can be a list item."""
    words = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", segment)]
    item: list[tuple[str, int, int]] = []
    for word in reversed(words):
        if (len(item) == longest or _is_function(word[0], rules)
                or not _ITEM_WORD.fullmatch(word[0])):
            break
        if word[0].casefold() in rules.AUXILIARIES or rules.verb_base_form(word[0]) or \
                word[0].casefold() in rules.COMMON_CAPITALISED:
            break
        item.insert(0, word)
    return item


def _head_item(sentence: str, position: int, longest: int,
               rules: Rules) -> list[tuple[str, int, int]]:
    """The first words after ``position`` (up to ``longest``) that can be a list item."""
    run = re.match(r"[^\s,;:!?()]+(?: [^\s,;:!?()]+)*", sentence[position:])
    item: list[tuple[str, int, int]] = []
    for match in re.finditer(r"\S+", run.group() if run else ""):
        word = match.group().rstrip(".")
        if not item and word.casefold() in rules.OBJECT_PRONOUNS:  # "Anna, Tom and me"
            return [(word, position + match.start(), position + match.start() + len(word))]
        if len(item) == longest or not word or _is_function(word, rules) or \
                word.casefold() in rules.AUXILIARIES:
            break
        if rules.verb_base_form(word) and not word[0].isupper():
            break
        item.append((word, position + match.start(), position + match.start() + len(word)))
    return item


def _is_function(word: str, rules: Rules) -> bool:
    return word.casefold() in rules.STOP_WORDS


def _shape(word: str) -> str:
    """Items of one list look alike: all capitalised names, or all lowercase words and numbers."""
    return "capitalised" if word[:1].isupper() else "plain"


def number_parts(text: str, rules: Rules = DEFAULT_RULES) -> tuple[str, str]:
    """The numeral and the counted noun of a number span: "42 folding chairs" -> ("42", ...)."""
    match = rules.NUMBER_PARTS.match(text)
    if not match:
        return text, ""
    return match.group(1), match.group(2)


def is_money(text: str, rules: Rules = DEFAULT_RULES) -> bool:
    numeral, noun = number_parts(text, rules)
    first = noun.split()[0].casefold() if noun.split() else ""
    return numeral[:1] in rules.CURRENCY_SYMBOLS or first in rules.CURRENCY_WORDS
