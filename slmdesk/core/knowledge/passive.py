"""Active questions for passive sentences: "The club was founded by Henrik Salo." -> "Who founded
the club?".

Notes say who did something in the passive as often as in the active ("cooked by Felix Marr",
"designed by Lucy"), and people ask in the active ("Who cooked the dinner?"). An echo question
keeps the note's own order ("The club was founded by who?"); this form turns the predicate round
so that the fact is also tied to the verb as people use it. Only a regular past participle
("founded", "cooked") or an irregular one that is also the past tense ("built", "made") is
turned, with the noun phrase it belongs to: the subject before "was"/"is"/"will be", or the
phrase after the last "be" ("Dinner will be a lamb roast cooked by Felix Marr" -> "Who cooked a
lamb roast?"). Anything else is left out.
"""

from __future__ import annotations

import re
from typing import Sequence

from . import rules_en as rules
from .echo import lowercase_opening, person_replacement
from .names import PERSON
from .spans import Span

_PARTICIPLE_BY = re.compile(r"(\w+)\s+by\s+$", re.IGNORECASE)
_LAST_BE = re.compile(rf"\b(?:{'|'.join(sorted(rules.PASSIVE_AUXILIARIES))})\b\s*", re.IGNORECASE)
_MODAL_AT_END = re.compile(rf"\s+(?:{'|'.join(sorted(rules.MODAL_AUXILIARIES))})$",
                           re.IGNORECASE)
_CLAUSE_START = re.compile(r"^.*(?:[,;:]|\b(?:and|but|so|that|which|who)\b)\s*", re.IGNORECASE)
#: A noun phrase longer than this is probably not one.
MAX_OBJECT_WORDS = 6


def passive_questions(sentence: str, candidates: Sequence[Span]) -> list[tuple[Span, str]]:
    """"who founded the club" for each person a passive clause of ``sentence`` names as the doer."""
    questions = []
    for span in candidates:
        if span.kind != PERSON:
            continue
        question = active_question(sentence, span)
        if question:
            questions.append((span, question))
    return questions


def active_question(sentence: str, span: Span) -> str | None:
    """The active "who ..." question for the person ``span`` after "<participle> by", or None."""
    start, _, _ = person_replacement(sentence, span.start, span.end)  # "by my uncle Olav"
    before = sentence[:start]
    match = _PARTICIPLE_BY.search(before)
    if not match or not _is_past_too(match.group(1).casefold()):
        return None
    head = _CLAUSE_START.sub("", before[:match.start()]).strip()
    forms_of_be = list(_LAST_BE.finditer(head))
    if not forms_of_be:
        return None
    thing = head[forms_of_be[-1].end():].strip()  # "a lamb roast" after "will be"
    if not thing:  # "The club" before "was"
        thing = _MODAL_AT_END.sub("", head[:forms_of_be[0].start()]).strip()
    words = thing.split()
    if not words or len(words) > MAX_OBJECT_WORDS:
        return None
    if words[0].casefold() not in rules.DETERMINERS and any(
            word.casefold() in rules.STOP_WORDS for word in words):
        return None  # not a plain noun phrase: "In 2020 the shop"
    thing = lowercase_opening(" ".join(words), ())  # "The club" -> "the club"
    return f"{rules.WH_PERSON} {match.group(1).casefold()} {thing}"


def _is_past_too(participle: str) -> bool:
    """True when ``participle`` is also the past tense ("founded", "built"), so that "who
    <participle> X" is a sentence."""
    if participle in rules.IRREGULAR_PAST:
        return True
    return participle.endswith("ed") and rules.verb_base_form(participle) is not None
