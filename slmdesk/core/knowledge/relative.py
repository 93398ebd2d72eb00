"""Relative clauses as sentences of their own: "... from Brennan & Sons in Leeds, who deliver
300 kg of soy wax every six weeks." also says "Brennan & Sons deliver 300 kg of soy wax every
six weeks.".

Prose puts many facts in relative clauses, and the question rules ask within one clause
(:func:`.echo.clause_around`), so a fact in "who deliver 300 kg" could only be asked with the
whole main clause around it ("Our wax comes from Brennan & Sons in Leeds, who deliver how much
soy wax every six weeks?"), which ties the answer to the wrong words. The clause restated with
its antecedent as the subject is asked like any other sentence. "who" marks a person or a firm
acting as one, so the antecedent is asked for with "who"; "which" with "what". The pronouns
are those of the fact's language (:data:`.rules_en.RELATIVE_CLAUSE`).
"""

from __future__ import annotations

from .facts import Fact
from .language import Rules
from .names import NAME, PERSON, PLACE
from .spans import Span

#: Spans that can be the antecedent of a relative pronoun.
_ANTECEDENT_KINDS = (PERSON, NAME, PLACE)
#: An antecedent without a name is a short noun phrase ("the first reunion").
MAX_NOUN_PHRASE_WORDS = 5
#: A clause of fewer words says too little to be asked about.
MIN_CLAUSE_WORDS = 2


def relative_clause_facts(fact: Fact) -> list[Fact]:
    """One fact per relative clause of ``fact`` that follows a name, as "<name> <clause>."."""
    rules = fact.rules
    facts = []
    for match in rules.RELATIVE_CLAUSE.finditer(fact.sentence):
        clause = match.group(2).rstrip()
        if len(clause.split()) < MIN_CLAUSE_WORDS:
            continue
        antecedent = _antecedent(fact, match.start())
        subject = antecedent.text if antecedent else _noun_phrase_before(fact.sentence,
                                                                         match.start(), rules)
        if not subject:
            continue
        text = f"{subject[:1].upper()}{subject[1:]} {clause}."
        shift = len(subject) + 1 - match.start(2)
        clause_end = match.start(2) + len(clause)
        spans = [Span(span.text, span.kind, span.start + shift, span.end + shift)
                 for span in fact.spans if match.start(2) <= span.start and span.end <= clause_end]
        if antecedent:
            kind = PERSON if match.group(1).casefold() == rules.PERSON_RELATIVE_PRONOUN else NAME
            spans.insert(0, Span(antecedent.text, kind, 0, len(antecedent.text)))
        if spans:
            facts.append(Fact(text, tuple(spans), fact.document, language=fact.language))
    return facts


def _noun_phrase_before(sentence: str, comma: int, rules: Rules) -> str | None:
    """"the first reunion" in "... slides from the first reunion, which ...": the words from the
    last determiner before ``comma``, when they are few and hold no verb-like word."""
    words = sentence[:comma].split()
    for back in range(1, min(MAX_NOUN_PHRASE_WORDS, len(words)) + 1):
        word = words[-back].casefold()
        if word in rules.DETERMINERS:
            phrase = words[-back:]
            if back == 1 or any(w.casefold() in rules.STOP_WORDS for w in phrase[1:]):
                return None
            return " ".join(phrase)
    return None


def _antecedent(fact: Fact, comma: int) -> Span | None:
    """The span the relative pronoun after ``comma`` refers to: the one just before it, or the
    name before a place that only says where it is ("Brennan & Sons in Leeds, who ...")."""
    before = [span for span in fact.spans if span.end <= comma
              and not fact.sentence[span.end:comma].strip()]
    if not before or before[-1].kind not in _ANTECEDENT_KINDS:
        return None
    nearest = before[-1]
    earlier = [span for span in fact.spans if span.end <= nearest.start]
    if (nearest.kind == PLACE and earlier and earlier[-1].kind in _ANTECEDENT_KINDS
            and fact.rules.PLACE_PREPOSITION_ONLY.match(
                fact.sentence[earlier[-1].end:nearest.start])):
        return earlier[-1]
    return nearest
