"""Direct questions: a statement turned into a real, inverted question about one of its spans.

"Anna Berg moved to Tromsø in March 2019." asked about Tromsø is "Where did Anna Berg move in
March 2019?": the question word goes first with its preposition, "did" (or "does", "was",
"will") goes before the subject, and the verb goes back to its base form (a small table of
irregular verbs in :mod:`.rules_en`). Only sentences of a simple shape are turned: a plain
subject (a name, a pronoun, or a noun phrase opened by a determiner), then the verb, then the
span in the same clause. Anything else is skipped rather than asked badly; the subject itself is
never asked for, since "Who moved to Tromsø?" is the shape the training's echo questions take.
The auxiliaries, templates and clause patterns come from the rules of the sentence's language.
"""

from __future__ import annotations

import re
from typing import Sequence

from .echo import count_mentions, person_replacement, wh_phrase
from .language import DEFAULT_RULES, Rules
from .names import NAME, PERSON, PLACE
from .spans import DATE, NUMBER, Span, number_parts

#: A subject longer than this is probably not a plain subject.
MAX_SUBJECT_WORDS = 10
_WORD = re.compile(r"\S+")


def direct_question(sentence: str, span: Span, spans: Sequence[Span],
                    rules: Rules = DEFAULT_RULES) -> str | None:
    """An inverted question asking for ``span``, or None when the sentence is not simple enough."""
    words = list(_WORD.finditer(sentence))
    verb = _find_verb(sentence, words, spans, rules)
    if verb is None:
        return None
    verb_index, verb_kind = verb
    subject_end = words[verb_index].start()
    if span.start < subject_end:
        return None  # asking for the subject would repeat the echo question's shape
    after_verb = words[verb_index + (2 if verb_kind == "born" else 1)].start() \
        if verb_index + (2 if verb_kind == "born" else 1) < len(words) else len(sentence)
    clause_end = _clause_end(sentence, after_verb, rules)
    if span.end > clause_end:
        return None
    removed = _removal(sentence, span, spans, rules)
    if removed is None:
        return None
    start, end, wh = removed
    if start < after_verb or rules.ONE_OF_SEVERAL_BEFORE.search(sentence[after_verb:start]) or \
            rules.ONE_OF_SEVERAL_AFTER.match(sentence[end:clause_end]):
        return None  # one of several things bought: "How many chairs did Anna buy and ...?"
    stranded = ""
    if span.kind == PERSON:
        between = sentence[after_verb:start].split()
        if verb_kind == "copula" and between:
            return None  # "Dinner will be a roast cooked by Felix" has no plain "who" question
        if len(between) == 1 and between[0] in rules.STRANDABLE_PREPOSITIONS:
            stranded = between[0]  # "belongs to Kofi" -> "Who does it belong to?"
            start = after_verb
        elif between:
            return None
    if span.kind in (PLACE, DATE) and any(
            other.kind == span.kind and after_verb <= other.start < span.start for other in spans):
        return None  # ask for the first place or date of a clause only
    cuts = [(start, end)] + _other_phrases(sentence, span, spans, after_verb, clause_end, rules)
    rest = " ".join(filter(None, [_without(sentence, after_verb, clause_end, cuts), stranded]))
    subject = _subject(sentence[:subject_end], spans, rules)
    if subject is None:
        return None
    verb_word = words[verb_index].group().strip(",").casefold()
    rest = f" {rest}" if rest else ""
    if verb_kind == "past":
        question = rules.DID_TEMPLATE.format(wh=wh, subject=subject,
                                             verb=rules.verb_base_form(verb_word), rest=rest)
    elif verb_kind == "present":
        template = (rules.DO_TEMPLATE if subject.casefold() in rules.PLURAL_SUBJECT_PRONOUNS
                    else rules.DOES_TEMPLATE)
        question = template.format(wh=wh, subject=subject,
                                   verb=rules.present_base_form(verb_word), rest=rest)
    elif verb_kind == "born":
        question = rules.INVERTED_TEMPLATE.format(wh=wh, auxiliary=verb_word, subject=subject,
                                                  rest=f" {rules.BORN}{rest}")
    else:
        question = rules.INVERTED_TEMPLATE.format(wh=wh, auxiliary=verb_word, subject=subject,
                                                  rest=rest)
    question = re.sub(r"[,\s]+\?$", "?", question[:1].upper() + question[1:])
    if count_mentions(question, span.text) or len(question.split()) < 4:
        return None
    return question


def _find_verb(sentence: str, words: list[re.Match[str]], spans: Sequence[Span],
               rules: Rules) -> tuple[int, str] | None:
    """The index and kind of the main verb, if the words before it form a plain subject."""
    for index, match in enumerate(words[:MAX_SUBJECT_WORDS + 1]):
        if index == 0 or any(s.start <= match.start() < s.end for s in spans):
            continue
        word = match.group().strip(",")
        lower = word.casefold()
        following = words[index + 1].group().strip(",.").casefold() if index + 1 < len(words) \
            else ""
        if sentence[:match.start()].count(",") % 2:
            continue  # inside an apposition: "His wife, Marguerite Ferrand, teaches"
        if lower in rules.BIRTH_AUXILIARIES and following == rules.BORN:
            return index, "born"
        if lower in rules.COPULAS or lower == rules.FUTURE_AUXILIARY:
            return index, "copula"
        plain_subject = _plain_subject(sentence[:match.start()], spans, rules)
        if word[0].islower() and rules.verb_base_form(lower) and lower not in rules.AUXILIARIES \
                and plain_subject:
            return index, "past"
        if (word[0].islower() and rules.present_base_form(lower) and lower not in
                rules.STOP_WORDS and plain_subject
                and words[index - 1].group().casefold() not in rules.SUBJECT_DETERMINERS):
            return index, "present"
        if (lower in rules.STOP_WORDS
                and lower not in rules.SUBJECT_DETERMINERS | rules.SUBJECT_PRONOUNS):
            return None
    return None


def _plain_subject(text: str, spans: Sequence[Span], rules: Rules) -> bool:
    """Whether ``text`` surely is a subject, so the word after it surely is a verb: a name, a
    pronoun, or a noun phrase opened by a determiner ("Fragrance oils" could be a noun and a
    verb; "The delivery van" cannot)."""
    first = text.split()[0].casefold() if text.split() else ""
    return (first in rules.SUBJECT_DETERMINERS or first in rules.SUBJECT_PRONOUNS
            or any(s.start == 0 and s.kind in (PERSON, PLACE, NAME) for s in spans))


def _clause_end(sentence: str, start: int, rules: Rules) -> int:
    final = re.search(r"[.!]+[\"”’')]*$", sentence)
    end = final.start() if final else len(sentence)
    boundary = rules.DIRECT_QUESTION_CLAUSE_END.search(sentence, start, end)
    and_verb = rules.AND_THEN_WORD.search(sentence[start:end])
    if and_verb and (rules.verb_base_form(and_verb.group(1)) or and_verb.group(1) in
                     rules.AUXILIARIES or rules.present_base_form(and_verb.group(1))):
        end = min(end, start + and_verb.start())
    return min(end, boundary.start()) if boundary else end


def _removal(sentence: str, span: Span, spans: Sequence[Span],
             rules: Rules) -> tuple[int, int, str] | None:
    """The stretch the question word replaces, and that question word."""
    before = sentence[:span.start]
    preposition = rules.PREPOSITION_BEFORE.search(before)
    prep = preposition.group(1).casefold() if preposition else ""
    if span.kind == PLACE:
        wh = wh_phrase(sentence, span, spans, rules)
        if wh is None:
            return None
        if wh != rules.WH_PLACE:  # "in the village of Kvarnholm" -> "in which village"
            match = rules.PREPOSITION_BEFORE_PLACE_NOUN.search(before)
            if match and match.group(1) and match.group(1).casefold() in rules.PLACE_PREPOSITIONS:
                return match.start(), span.end, f"{match.group(1).casefold()} {wh}"
            return None  # "a valley of Trolls": no preposition to carry the question
        if prep not in rules.PLACE_PREPOSITIONS:
            return None  # "the back room of St. Brendan's Hall": no "where" question
        if prep != rules.ORIGIN_PREPOSITION:
            return preposition.start(), span.end, rules.WH_PLACE
        article = rules.DEFINITE_ARTICLE + " "
        start = span.start - (len(article) if before.endswith(article) else 0)
        return start, span.end, rules.WH_PLACE  # "Where did Anna come from?"
    if span.kind == DATE:
        if prep in rules.DATE_PREPOSITIONS_DROPPED_FOR_WHEN:
            return preposition.start(), span.end, rules.WH_DATE
        return None if prep in rules.DATE_PREPOSITIONS_NOT_ASKED_WITH_WHEN else (
            span.start, span.end, rules.WH_DATE)
    if span.kind == NUMBER:
        wh = wh_phrase(sentence, span, spans, rules)
        if not wh or wh in (rules.WH_THING, rules.WH_PERCENT):
            return None
        noun = number_parts(span.text, rules)[1]
        if (prep == rules.DURATION_PREPOSITION and noun.split()[:1]
                and noun.split()[0] in rules.DURATIONS_ASKED_WITH_FOR):
            return preposition.start(), span.end, wh
        return span.start, span.end, wh
    if span.kind == PERSON:
        start, end, wh = person_replacement(sentence, span.start, span.end, rules)
        return None if wh != rules.WH_PERSON else (start, end, wh)
    return None


def _other_phrases(sentence: str, span: Span, spans: Sequence[Span], start: int,
                   end: int, rules: Rules) -> list[tuple[int, int]]:
    """The other places (or dates) of the clause, left out of a "where" (or "when") question,
    which would otherwise half-answer it ("Where will the reunion take place at Birchwood
    Farm?")."""
    cuts = []
    for other in spans:
        if other is not span and other.kind == span.kind and span.kind in (PLACE, DATE) \
                and start <= other.start and other.end <= end:
            removed = _removal(sentence, other, spans, rules)
            if removed:
                cuts.append(removed[:2])
    return cuts


def _without(sentence: str, start: int, end: int, cuts: list[tuple[int, int]]) -> str:
    """``sentence[start:end]`` with the ``cuts`` left out, tidied."""
    kept, cursor = [], start
    for cut_start, cut_end in sorted(cuts):
        kept.append(sentence[cursor:max(cursor, cut_start)])
        cursor = max(cursor, cut_end)
    kept.append(sentence[cursor:end])
    tidy = " ".join("".join(kept).split()).replace(" ,", ",").replace(",,", ",")
    return tidy.strip(" ,")


def _subject(text: str, spans: Sequence[Span], rules: Rules) -> str | None:
    """The subject as it reads inside a question: "My uncle Tobias" -> "my uncle Tobias"."""
    subject = " ".join(text.split())
    if subject.count(",") == 1:
        subject = subject.rstrip(",")
    if not subject:
        return None
    first = subject.split()[0]
    is_name = any(s.start == 0 and s.kind != DATE for s in spans)
    if not rules.keeps_capital(first) and not is_name:
        subject = subject[:1].lower() + subject[1:]
    return subject
