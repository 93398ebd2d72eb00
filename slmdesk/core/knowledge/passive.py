"""Active questions for passive sentences: "The club was founded by Henrik Salo." -> "Who founded
the club?".

Notes say who did something in the passive as often as in the active ("cooked by Felix Marr",
"designed by Lucy"), and people ask in the active ("Who cooked the dinner?"). An echo question
keeps the note's own order ("The club was founded by who?"); this form turns the predicate round
so that the fact is also tied to the verb as people use it. Only a regular past participle
("founded", "cooked") or an irregular one that is also the past tense ("built", "made") is
turned, with the noun phrase it belongs to: the subject before "was"/"is"/"will be", or the
phrase after the last "be" ("Dinner will be a lamb roast cooked by Felix Marr" -> "Who cooked a
lamb roast?"). Anything else is left out. The forms of "be", the modals and "by" come from the
rules of the sentence's language.
"""

from __future__ import annotations

from typing import Sequence

from .echo import lowercase_opening, person_replacement
from .language import DEFAULT_RULES, Rules
from .names import PERSON
from .spans import Span

#: A noun phrase longer than this is probably not one.
MAX_OBJECT_WORDS = 6


def passive_questions(sentence: str, candidates: Sequence[Span],
                      rules: Rules = DEFAULT_RULES) -> list[tuple[Span, str]]:
    """"who founded the club" for each person a passive clause of ``sentence`` names as the doer."""
    questions = []
    for span in candidates:
        if span.kind != PERSON:
            continue
        question = active_question(sentence, span, rules)
        if question:
            questions.append((span, question))
    return questions


def active_question(sentence: str, span: Span, rules: Rules = DEFAULT_RULES) -> str | None:
    """The active "who ..." question for the person ``span`` after "<participle> by", or None.

    Only a participle that is also the past tense ("founded", "built") is turned, so that "who
    <participle> X" is a sentence.
    """
    start, _, _ = person_replacement(sentence, span.start, span.end, rules)  # "by my uncle Olav"
    before = sentence[:start]
    match = rules.PARTICIPLE_BY.search(before)
    if not match or not rules.is_past_tense(match.group(1).casefold()):
        return None
    head = rules.CLAUSE_START.sub("", before[:match.start()]).strip()
    forms_of_be = list(rules.FORM_OF_BE.finditer(head))
    if not forms_of_be:
        return None
    thing = head[forms_of_be[-1].end():].strip()  # "a lamb roast" after "will be"
    if not thing:  # "The club" before "was"
        thing = rules.MODAL_AT_END.sub("", head[:forms_of_be[0].start()]).strip()
    words = thing.split()
    if not words or len(words) > MAX_OBJECT_WORDS:
        return None
    if words[0].casefold() not in rules.DETERMINERS and any(
            word.casefold() in rules.STOP_WORDS for word in words):
        return None  # not a plain noun phrase: "In 2020 the shop"
    thing = lowercase_opening(" ".join(words), (), rules)  # "The club" -> "the club"
    return f"{rules.WH_PERSON} {match.group(1).casefold()} {thing}"
