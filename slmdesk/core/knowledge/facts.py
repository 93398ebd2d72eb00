"""Sentences that state facts, and the people, places and names they are about.

A fact here is a sentence with at least one span a question can ask for. Headings, lead-in lines
("We need:"), questions and very short fragments are not facts: a question made from them would
be broken or empty. Names are read twice: once to learn what the whole document shows about them
(who is a person, which words are places), then again with that knowledge, so "Anna" alone
after "Anna Berg" is known to be her. Each fact remembers its document's language, so the
rules that ask about it later read it with the same words (:attr:`Fact.rules`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .forms import SpanKind
from .language import DEFAULT_LANGUAGE, DEFAULT_RULES, Rules, rules_for
from .names import NAME, PERSON, PLACE, learn_names, name_key
from .sentences import SentenceUnit, split_units
from .spans import LIST, Span, find_spans_in_context, fixed_ranges

#: Fewer words than this is a fragment ("42 chairs"), not a statement.
MIN_WORDS_IN_FACT = 4
#: Longer sentences make unreadable questions.
MAX_WORDS_IN_FACT = 45
#: Sentences looked back over for what a pronoun points to.
MAX_LEAD_UP_SENTENCES = 2
_NAMING = (PERSON, NAME, PLACE)
#: Code, markup and web addresses: questions made from them would be noise (Python's keywords
#: are the same whatever the language of the notes).
_CODE_OR_MARKUP = re.compile(r"[`{}<>|\\=]|\*\*|__|://|^#|\w\(|\w_\w"
                             r"|^(?:import|from \S+ import|raise|return|def|class) ")
#: A line without a full stop and at most this many words is a heading.
MAX_WORDS_IN_HEADING = 6


@dataclass(frozen=True)
class Fact:
    """One sentence of a document and the spans a question can ask for."""

    sentence: str
    spans: tuple[Span, ...]
    document: int
    #: The sentences before it back to one that names someone or something (none for the
    #: first), and the spans of each, in order: what a pronoun in it may point to.
    earlier_sentences: tuple[str, ...] = ()
    earlier_spans: tuple[tuple[Span, ...], ...] = ()
    #: The code of the document's language (:mod:`.language`).
    language: str = DEFAULT_LANGUAGE

    @property
    def previous(self) -> str:
        """The earlier sentences as one text ("" for the first)."""
        return " ".join(self.earlier_sentences)

    @property
    def rules(self) -> Rules:
        """The rules of the fact's language, for every question asked about it."""
        return rules_for(self.language)


@dataclass
class Entity:
    """A person, place or name and the facts (indices into a fact list) that mention it."""

    name: str
    kind: SpanKind
    facts: list[int] = field(default_factory=list)


def extract_facts(text: str, document: int = 0, rules: Rules = DEFAULT_RULES) -> list[Fact]:
    """The fact sentences of one document in the language of ``rules``, in order."""
    units = split_units(text, rules)
    sentences = [unit.text for index, unit in enumerate(units)
                 if is_statement(unit, rules) and not (index == 0 and unit.line)]  # a title
    context = learn_names(sentences, [fixed_ranges(sentence, rules) for sentence in sentences],
                          rules)
    found = [find_spans_in_context(sentence, context, rules) for sentence in sentences]
    facts = []
    for index, (sentence, spans) in enumerate(zip(sentences, found)):
        if spans and _says_something_besides(sentence, spans):
            lead_up = _lead_up_start(found, index)
            facts.append(Fact(sentence, tuple(spans), document,
                              tuple(sentences[lead_up:index]),
                              tuple(tuple(found[i]) for i in range(lead_up, index)),
                              rules.LANGUAGE))
    return facts


def _lead_up_start(found: list[list[Span]], index: int) -> int:
    """Where the sentences before ``index`` start, back to the nearest one that names someone
    or something (at most :data:`MAX_LEAD_UP_SENTENCES`): what a pronoun in it may point to."""
    start = index
    while start > 0 and index - start < MAX_LEAD_UP_SENTENCES:
        start -= 1
        if any(span.kind in _NAMING for span in found[start]):
            break
    return start


def leans_on_previous(fact: Fact) -> bool:
    """Whether ``fact`` says something of what a sentence before it named ("Their account
    manager is Carla Brennan." after "Our wax comes from Brennan & Sons."): a pronoun before
    any name of its own, which it could point to. ("The current price is £2.40 per kilo" leans
    on the sentence before too, but a sentence opening with "the" as often starts something new:
    "The seed swap is on 12 April".)"""
    return leaning_pronoun(fact) is not None


def leaning_pronoun(fact: Fact) -> re.Match[str] | None:
    """The pronoun by which ``fact`` leans on an earlier sentence (the first one before any name
    of its own), or None (:func:`leans_on_previous`)."""
    if not fact.earlier_sentences:
        return None
    first_name = min((span.start for span in fact.spans if span.kind in _NAMING),
                     default=len(fact.sentence))
    return next((match for match in fact.rules.BACK_POINTING_PRONOUN.finditer(fact.sentence)
                 if match.start() < first_name), None)


def is_statement(unit: SentenceUnit, rules: Rules = DEFAULT_RULES) -> bool:
    """Whether a sentence can state a fact: not a heading, a lead-in, a question or a fragment."""
    words = unit.text.split()
    if not MIN_WORDS_IN_FACT <= len(words) <= MAX_WORDS_IN_FACT:
        return False
    if unit.text.rstrip("\"”’')").endswith(("?", ":")) or _CODE_OR_MARKUP.search(unit.text):
        return False
    if unit.bullet or unit.ends_with_punctuation:
        return True
    title_case = all(w[:1].isupper() or w.casefold() in rules.NAME_CONNECTORS
                     or w.casefold() in rules.STOP_WORDS for w in words)
    return not title_case and len(words) > MAX_WORDS_IN_HEADING


def _says_something_besides(sentence: str, spans: tuple[Span, ...] | list[Span]) -> bool:
    """A sentence that is nothing but its spans ("Anna Berg, 1987") asks nothing sensible."""
    rest = sentence
    for span in sorted(spans, key=lambda s: -s.start):
        rest = rest[:span.start] + " " + rest[span.end:]
    return len(re.findall(r"[^\W\d_]{2,}", rest)) >= 2


def group_entities(facts: list[Fact]) -> list[Entity]:
    """The people, places and names of ``facts``, each with the facts that mention it.

    A single-word person ("Anna") joins the one multi-word person whose first or last name it
    is ("Anna Berg"), and a title does not make a different person ("Aunt Ingrid").
    """
    forms: dict[str, dict[str, int]] = {}
    kinds: dict[str, SpanKind] = {}
    key_rules: dict[str, Rules] = {}
    mentions: dict[str, list[int]] = {}
    for index, fact in enumerate(facts):
        for span in fact.spans:
            if span.kind not in (PERSON, PLACE, NAME):
                continue
            key = name_key(span.text, fact.rules)
            kinds.setdefault(key, span.kind)
            key_rules.setdefault(key, fact.rules)
            forms.setdefault(key, {}).setdefault(span.text, 0)
            forms[key][span.text] += 1
            mentions.setdefault(key, []).append(index)
    _merge_short_names(forms, kinds, mentions)
    entities = []
    for key, texts in forms.items():
        rules = key_rules[key]
        name = max(texts, key=lambda text: (len(name_key(text, rules).split()), texts[text],
                                            -len(text)))
        indices = set(mentions[key]) | _facts_naming(facts, name)
        entities.append(Entity(name, kinds[key], sorted(indices)))
    entities.sort(key=lambda entity: entity.facts[0])
    return entities


def _merge_short_names(forms: dict[str, dict[str, int]], kinds: dict[str, SpanKind],
                       mentions: dict[str, list[int]]) -> None:
    """"Anna" into "Anna Berg" and "Vandermeer" into "Vandermeer Supply", when unambiguous."""
    long_names = [key for key in forms if kinds[key] in (PERSON, NAME) and len(key.split()) > 1]
    for key in [k for k in forms if len(k.split()) == 1 and kinds[k] in (PERSON, NAME)]:
        owners = [long for long in long_names if key == long.split()[0] or (
            kinds[long] == PERSON and key == long.split()[-1])]
        if len(owners) == 1:
            owner = owners[0]
            mentions[owner].extend(mentions.pop(key))
            forms.pop(key)
            kinds.pop(key)


def _facts_naming(facts: list[Fact], name: str) -> set[int]:
    pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
    return {index for index, fact in enumerate(facts) if pattern.search(fact.sentence)}


def spans_outside_lists(fact: Fact) -> list[Span]:
    """The spans a question may replace one at a time: a name inside a list is asked as the list."""
    lists = [span for span in fact.spans if span.kind == LIST]
    return [span for span in fact.spans if span.kind == LIST or not any(
        outer.start <= span.start and span.end <= outer.end for outer in lists)]
