"""Echo questions: a sentence with one span replaced by the question word for it.

"Anna Berg moved to Tromsø in March 2019." asked about Tromsø becomes "Anna Berg moved to where
in March 2019?", and about Anna Berg "Who moved to Tromsø in March 2019?". The replaced stretch
is sometimes wider than the span so the question reads right: "my cousin Elin" is one "who",
"in 1987" one "when", "in the village of Kvarnholm" becomes "in which village", and "Anna's" is
"whose". A span the question would still contain elsewhere is not asked. The question words,
and the words and clause patterns around a span, come from the rules of the sentence's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from typing import Sequence, cast

from .language import DEFAULT_RULES, Rules
from .names import NAME, PERSON, PLACE
from .reorder import Reordered, excerpt, leading_phrase_to_end
from .spans import DATE, LIST, NUMBER, Span, is_money, number_parts

_WORD_BEFORE = re.compile(r"\b(\w+)\s+$")
_TRAILING = re.compile(r"[\s.!;:,]*[\"”’')]*[\s.!;:,]*$")
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|\([^)]*\)")
#: A shortened embedded question keeps at least this many words that are not function words.
MIN_CUE_WORDS = 2


def echo_questions(sentence: str, spans: Sequence[Span], candidates: Sequence[Span],
                   rules: Rules = DEFAULT_RULES) -> list[tuple[Span, str]]:
    """An echo question for each of ``candidates`` (spans of ``sentence``) that allows one.

    Each question is made from the clause holding its span, with an opening phrase moved to
    the end ("In March 2024, a pallet arrived cracked, and ..." asked for the date becomes "A
    pallet arrived cracked when?"), so it stays short and the question word sits where English
    puts it.
    """
    return _questions_by_clause(sentence, spans, candidates, echo_question, rules)


def embedded_questions(sentence: str, spans: Sequence[Span], candidates: Sequence[Span],
                       rules: Rules = DEFAULT_RULES) -> list[tuple[Span, str]]:
    """The same clauses as :func:`echo_questions`, asked with the question words in front, as
    a question embedded in "Can you tell me ...?": "who the delivery van belongs to".

    Natural questions put the question word first; echo questions put it where the span was.
    Training both ties a fact to either order, and the embedded form needs no "did" or "does"
    (which :mod:`.inversion` can add only for simple sentences), so every clause allows it.
    """
    return _questions_by_clause(sentence, spans, candidates, embedded_question, rules)


#: :func:`echo_question` or :func:`embedded_question`: (clause, span, its spans, rules) -> question.
_Ask = Callable[[str, Span, tuple[Span, ...], Rules], str | None]


def _questions_by_clause(sentence: str, spans: Sequence[Span], candidates: Sequence[Span],
                         ask: _Ask, rules: Rules) -> list[tuple[Span, str]]:
    questions: list[tuple[Span, str]] = []
    for span in candidates:
        clause = clause_around(sentence, spans, span, rules)
        target = _same_span(clause.spans, span)
        reordered = leading_phrase_to_end(clause.text, clause.spans, rules)
        if reordered and target and _same_span(reordered.spans, target):
            clause, target = reordered, _same_span(reordered.spans, target)
        question = ask(clause.text, target, clause.spans, rules) if target else None
        if question:
            questions.append((span, question))
    return questions


def clause_around(sentence: str, spans: Sequence[Span], span: Span,
                  rules: Rules = DEFAULT_RULES) -> Reordered:
    """The clause of ``sentence`` holding ``span``, without relative clauses that do not."""
    start, end = 0, len(sentence.rstrip(".!?"))
    for match in rules.COORDINATION.finditer(sentence):
        if match.start() >= span.end:
            end = min(end, match.start())
        elif match.end() <= span.start:
            start = max(start, match.end())
    for match in rules.SUBORDINATION.finditer(sentence):
        if (match.start() >= span.end
                and not rules.EMBEDDED_RELATIVE.match(sentence, match.start())):
            end = min(end, match.start())
    ranges = [(start, end)]
    for match in rules.EMBEDDED_RELATIVE.finditer(sentence, start, end):
        if not match.start() <= span.start < match.end():
            last_start, last_end = ranges.pop()
            ranges += [(last_start, match.start()), (match.end(), last_end)]
    return excerpt(sentence, spans, [r for r in ranges if r[1] > r[0]])


def _same_span(spans: Sequence[Span], span: Span) -> Span | None:
    return next((s for s in spans if s.kind == span.kind
                 and s.text.casefold() == span.text.casefold()), None)


def echo_question(sentence: str, span: Span, spans: tuple[Span, ...] | list[Span],
                  rules: Rules = DEFAULT_RULES) -> str | None:
    """The echo question asking for ``span`` of ``sentence``, or None when it would read wrong."""
    around = _around_question_words(sentence, span, spans, rules)
    if around is None:
        return None
    before, wh, after = around
    if (not before.strip() and span.kind in (PLACE, DATE, NUMBER)
            and not _starts_with_verb(after, rules)):
        return None  # "In 1911 the family emigrated" cannot become "When the family emigrated?"
    if not before.strip():
        wh = wh[:1].upper() + wh[1:]
        after = after.lstrip(",")  # "His wife, Marguerite Ferrand, teaches" -> "Who teaches"
    question = _TRAILING.sub("", before + wh + after) + "?"
    question = re.sub(r"\s+([,?])", r"\1", " ".join(question.split()))
    if len(question.split()) < 3 or count_mentions(question, span.text):
        return None
    return question


def embedded_question(sentence: str, span: Span, spans: tuple[Span, ...] | list[Span],
                      rules: Rules = DEFAULT_RULES) -> str | None:
    """The clause asking for ``span`` with its question words first, or None when it would read
    wrong: "The delivery van belongs to Kofi Mensah." -> "who the delivery van belongs to"."""
    around = _around_question_words(sentence, span, spans, rules)
    if around is None:
        return None
    before, wh, after = around
    if "," in before:  # the span sits in a later clause, which would read as part of the first
        return None
    if span.kind == NAME and re.match(r"\s+[a-z]", after):
        return None  # "the Copper Pot café": "what" would leave "café" behind
    if (wh in (rules.WH_PLACE, rules.WH_DATE)
            and rules.STRANDED_AFTER_WHERE_OR_WHEN.search(before)):
        return None  # "where the reunion will take place near"
    last_before = re.search(r"(\w+)\W*$", before)
    if (last_before and last_before.group(1).casefold() in rules.NOT_STRANDED_MID_CLAUSE
            and re.search(r"\w", after)):
        return None  # a preposition stranded mid-clause: "the back room of on Wexley Road"
    first_before = re.match(r"\W*(\w+)", before)
    if first_before and first_before.group(1).casefold() in rules.IMPERATIVE_OPENERS:
        return None
    if before.strip():
        before = lowercase_opening(before, spans, rules)
    else:
        after = after.lstrip(",")
    after = after[:_short_end(f"{wh} {before}", after, len(sentence) - len(after), span, spans,
                              rules)]
    question = _TRAILING.sub("", f"{wh} {before} {after}")
    question = re.sub(r"\s+([,?])", r"\1", " ".join(question.split())).rstrip(",")
    if len(question.split()) < 3 or count_mentions(question, span.text):
        return None
    return question


def _short_end(asked: str, after: str, offset: int, span: Span, spans: Sequence[Span],
               rules: Rules) -> int:
    """Where the words after the question words may stop: before the first comma or clause
    joined by "and" ("who designs our labels", not "... and charges £150 per design"), or
    before a phrase naming another span ("when the reunion will take place", not "... at
    Birchwood Farm near Hexham"). Natural questions carry one cue, not the whole sentence; a
    question holding every other span of it teaches the model to need them all."""
    others = [s for s in spans if s is not span and s.start >= offset]
    ends: list[int] = [match.start() for match in rules.SHORT_QUESTION_CUT.finditer(after)
                       if match.group() == "," or _starts_with_verb(after[match.end():], rules)]
    for other in others:
        lead_in = rules.PHRASE_BEFORE_SPAN.search(after[:other.start - offset])
        if lead_in:
            ends.append(lead_in.start())
    if rules.NEGATION.search(asked + after):
        return len(after)  # "who does not work for X after 2023" is not "who does not work"
    inside = [(s.start - offset, s.end - offset) for s in others]
    inside += [match.span() for match in _QUOTED.finditer(after)]
    for end in sorted(end for end in ends if not any(a < end < b for a, b in inside)):
        kept = re.findall(r"[^\W\d_]+|\d+", asked + " " + after[:end])
        if sum(word.casefold() not in rules.STOP_WORDS for word in kept) >= MIN_CUE_WORDS:
            return end  # "who is flying" says too little: keep "in from Halifax"
    return len(after)


def _around_question_words(sentence: str, span: Span, spans: Sequence[Span],
                           rules: Rules) -> tuple[str, str, str] | None:
    """What comes before the words a question word replaces, that question word, and what comes
    after; None when ``span`` is mentioned more than once or has no question word."""
    if count_mentions(sentence, span.text) != 1:
        return None
    replaced = _replacement(sentence, span, spans, rules)
    if replaced is None:
        return None
    start, end, wh = replaced
    return sentence[:start], wh, sentence[end:]


def lowercase_opening(text: str, spans: Sequence[Span], rules: Rules = DEFAULT_RULES) -> str:
    """``text`` with its first word lowercased when it is a common function word ("Our wax"
    -> "our wax"); any other capitalised opening may be a name the spans missed ("Vandermeer")."""
    stripped = text.lstrip()
    offset = len(text) - len(stripped)
    word = re.match(r"\w+", stripped)
    if (not word or rules.keeps_capital(word.group())
            or word.group().casefold() not in rules.STOP_WORDS
            or any(s.start <= offset < s.end for s in spans)):
        return text
    return text[:offset] + stripped[:1].lower() + stripped[1:]


def _starts_with_verb(text: str, rules: Rules) -> bool:
    word = re.match(r"\W*(\w+)", text)
    if not word:
        return False
    lower = word.group(1).casefold()
    return (lower in rules.AUXILIARIES or rules.verb_base_form(lower) is not None
            or rules.present_base_form(lower) is not None)


def count_mentions(text: str, phrase: str) -> int:
    """How often ``phrase`` occurs in ``text`` as whole words, ignoring case."""
    return len(re.findall(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE))


def wh_phrase(sentence: str, span: Span, spans: Sequence[Span],
              rules: Rules = DEFAULT_RULES) -> str | None:
    """The question words that stand for ``span`` ("who", "how many chairs", ...)."""
    replaced = _replacement(sentence, span, spans, rules)
    return replaced[2] if replaced else None


def _replacement(sentence: str, span: Span, spans: Sequence[Span],
                 rules: Rules) -> tuple[int, int, str] | None:
    """The stretch of ``sentence`` to replace and the question words that replace it."""
    start, end = span.start, span.end
    before = sentence[:start]
    if span.kind == PERSON:
        return person_replacement(sentence, start, end, rules)
    if span.kind == PLACE:
        if rules.POSSESSIVE_AFTER.match(sentence[end:]):
            return None
        place_noun = rules.PLACE_NOUN_BEFORE.search(before)
        if place_noun:
            return place_noun.start(), end, rules.WH_PLACE_NOUN.format(
                noun=place_noun.group(1).lower())
        start = _with_dropped_preposition(sentence, before, start,
                                          rules.PLACE_PREPOSITIONS_DROPPED_FOR_WHERE, rules)
        return start, end, rules.WH_PLACE
    if span.kind == DATE:
        start = _with_dropped_preposition(sentence, before, start,
                                          rules.DATE_PREPOSITIONS_DROPPED_FOR_WHEN, rules)
        return start, end, rules.WH_DATE
    if span.kind == NUMBER:
        wh = _amount_wh(span.text, rules)
        start = _with_approximator(before, start, rules)  # "about 46 guests": "how many guests"
        return (start, end, wh) if wh else None
    if span.kind == LIST:
        people = [s for s in spans if s.kind == PERSON and span.start <= s.start < span.end]
        if people and len(people) >= span.text.count(",") + 1:
            return start, end, rules.WH_PEOPLE_LIST if start == 0 else rules.WH_PERSON
        return start, end, rules.WH_THING
    return _absorb_article(before, start, rules), end, rules.WH_THING


def _with_approximator(before: str, start: int, rules: Rules) -> int:
    """Where a number's question words start: before "nearly" in "nearly 46 guests", and before
    "about" only where it cannot be a preposition (:data:`rules_en.LOOSE_APPROXIMATORS`)."""
    word = _WORD_BEFORE.search(before)
    if not word:
        return start
    lower = word.group(1).casefold()
    if lower in rules.APPROXIMATORS:
        return word.start(1)
    if lower in rules.LOOSE_APPROXIMATORS:
        earlier = _WORD_BEFORE.search(before[:word.start(1)])
        if not before[:word.start(1)].strip() or (
                earlier and earlier.group(1).casefold() in rules.APPROXIMATE_AFTER):
            return word.start(1)
    return start


def person_replacement(sentence: str, start: int, end: int,
                       rules: Rules = DEFAULT_RULES) -> tuple[int, int, str]:
    """The stretch a person's question word takes: "my cousin Elin" -> "who", "Anna's" ->
    "whose"."""
    possessive = rules.POSSESSIVE_AFTER.match(sentence[end:])
    if possessive:
        return start, end + possessive.end(), rules.WH_POSSESSIVE
    kinship = rules.KINSHIP_BEFORE.search(sentence[:start])
    if kinship:
        consumed_comma = "," in kinship.group()
        start = kinship.start()
        if consumed_comma and sentence[end:end + 1] == ",":
            end += 1  # the closing comma of "his wife, Marguerite Ferrand,"
    return start, end, rules.WH_PERSON


def _absorb_article(before: str, start: int, rules: Rules) -> int:
    match = rules.ARTICLE_BEFORE.search(before)
    return match.start() if match else start


def _amount_wh(text: str, rules: Rules) -> str | None:
    """"how many chairs", "how much flour", "how much", "what percentage", or "what"."""
    numeral, noun = number_parts(text, rules)
    if is_money(text, rules):
        return cast(str, rules.WH_AMOUNT).format(noun="").strip()
    if numeral.endswith("%") or noun.casefold().startswith(tuple(rules.PERCENT_WORDS)):
        return cast(str, rules.WH_PERCENT)
    if not noun:
        return cast(str, rules.WH_THING)
    words = noun.split()
    if words[0].casefold() in rules.MASS_AND_VOLUME_UNITS:
        of = noun.split(f" {rules.LINKING_PREPOSITION} ", 1)
        return cast(str, rules.WH_AMOUNT).format(noun=of[1] if len(of) > 1 else "").strip()
    return cast(str, rules.WH_COUNT).format(noun=noun)


def _with_dropped_preposition(sentence: str, before: str, start: int, dropped: Container[str],
                              rules: Rules) -> int:
    """Where the replaced words start: the span with its article, and the preposition before
    it when the wh-word replaces that too ("moved to Oslo" -> "moved where")."""
    start = _absorb_article(before, start, rules)
    previous = _WORD_BEFORE.search(sentence[:start])
    if previous and previous.group(1).casefold() in dropped:
        start = previous.start(1)
    return start
