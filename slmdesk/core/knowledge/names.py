"""Capitalised names in a sentence, and whether each is a person, a place or another name.

English capitalises names, so a run of capitalised words ("Anna Berg", "St. Olaf College",
"Conservatoire de Lévis") is a name, except for the ordinary word that starts a sentence ("The",
"We", "Last"). What kind of name it is decides the question word ("who", "where", "what"), so
the evidence is weighed in order: a title or a kinship word ("Dr. Lund", "my cousin Elin") makes
a person; "called"/"named" makes a plain name; a place preposition ("moved to Tromsø") or a
geographic word ("Lake Tahoe") makes a place; a business word ("Hansen Rentals") a plain name;
a following verb ("Anna Berg moved") or the First Last shape a person. What the rest of the
document shows (:class:`NameContext`) settles names a single sentence leaves open, such as the
"Anna" that starts "Anna moved to Oslo." after "Anna Berg" was met elsewhere. The titles,
kinship words, place and business words come from the rules of the sentence's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .forms import SpanKind
from .language import DEFAULT_RULES, Rules

#: Short names for the kinds of name, as the rules use them.
PERSON, PLACE, NAME = SpanKind.PERSON, SpanKind.PLACE, SpanKind.NAME

_TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|[^\w\s]")
_OPENERS = frozenset(":;\"“‘(—–[")


@dataclass(frozen=True)
class NameContext:
    """What a whole document shows about its names (all keys casefolded)."""

    persons: frozenset[str] = frozenset()       # strong evidence: a title, a kinship word, a verb
    weak_persons: frozenset[str] = frozenset()  # only the First Last shape or a possessive
    places: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()  # businesses and things called something, and their
    # first words ("Vandermeer" of "Vandermeer Supply")
    capitalised_words: frozenset[str] = frozenset()  # seen capitalised inside a sentence


EMPTY_CONTEXT = NameContext()


@dataclass
class NameCandidate:
    """A run of capitalised words and the evidence about what it names."""

    start: int
    end: int
    words: list[str]
    key: str  # the words as :func:`name_key` compares them
    evidence: set[str] = field(default_factory=set)


def name_key(name: str, rules: Rules = DEFAULT_RULES) -> str:
    """A name as compared across sentences: casefolded, without a title or a leading "the"."""
    words = [w.strip(".").casefold() for w in name.split()]
    while len(words) > 1 and (words[0] in rules.PERSON_TITLES
                              or words[0] == rules.DEFINITE_ARTICLE):
        words = words[1:]
    return " ".join(words)


def find_names(sentence: str, taken: list[tuple[int, int]],
               context: NameContext = EMPTY_CONTEXT,
               rules: Rules = DEFAULT_RULES) -> list[tuple[int, int, SpanKind]]:
    """(start, end, kind) of each name in ``sentence`` outside the ``taken`` ranges."""
    return [(c.start, c.end, resolve_kind(c, context))
            for c in name_candidates(sentence, taken, context, rules)]


def name_candidates(sentence: str, taken: list[tuple[int, int]],
                    context: NameContext = EMPTY_CONTEXT,
                    rules: Rules = DEFAULT_RULES) -> list[NameCandidate]:
    tokens = list(_TOKEN.finditer(sentence))
    free = [not any(t.start() < end and start < t.end() for start, end in taken) for t in tokens]
    candidates = []
    i = 0
    while i < len(tokens):
        if not (free[i] and _starts_name(tokens, i, rules)):
            i += 1
            continue
        j = _name_run_end(tokens, free, i, rules)
        candidate = _candidate(sentence, tokens, i, j, context, rules)
        if candidate:
            candidates.append(candidate)
        i = j
    return candidates


def _starts_name(tokens: list[re.Match[str]], i: int, rules: Rules) -> bool:
    word = tokens[i].group()
    return word[0].isupper() and word.casefold() not in rules.NEVER_NAMES and word[0].isalpha()


def _name_run_end(tokens: list[re.Match[str]], free: list[bool], i: int, rules: Rules) -> int:
    """Index after the last token of the capitalised run starting at ``i``."""
    j = i + 1
    while j < len(tokens) and free[j]:
        word = tokens[j].group()
        previous = tokens[j - 1].group()
        if word == "." and previous.casefold() in rules.TITLE_ABBREVIATIONS and \
                tokens[j - 1].end() == tokens[j].start():
            j += 1  # "St." "Dr."
        elif _starts_name(tokens, j, rules) and (not rules.POSSESSIVE_END.search(previous)
                                                 or _is_place_word(word, rules)):
            j += 1  # "Anna Berg", and "St. Brendan's Hall" but not "Anna's Tromsø"
        elif (word.casefold() in rules.NAME_CONNECTORS and j + 1 < len(tokens) and free[j + 1]
              and _starts_name(tokens, j + 1, rules)
              and not rules.POSSESSIVE_END.search(previous)):
            j += 2
        else:
            break
    return j


def _candidate(sentence: str, tokens: list[re.Match[str]], i: int, j: int,
               context: NameContext, rules: Rules) -> NameCandidate | None:
    words = [t.group() for t in tokens[i:j] if t.group() != "."]
    first_in_sentence = i == 0 or tokens[i - 1].group() in _OPENERS
    known = {w.casefold() for w in words} & (context.capitalised_words | context.persons
                                              | context.places)
    if first_in_sentence:
        if words[0].casefold() in rules.COMMON_CAPITALISED and words[0].casefold() not in known:
            if len(words) == 1:
                return None
            return _candidate(sentence, tokens, _next_word(tokens, i), j, context, rules) \
                if _next_word(tokens, i) < j else None
        possessive = rules.POSSESSIVE_END.search(words[0]) and \
            rules.POSSESSIVE_END.sub("", words[0]).casefold() not in rules.COMMON_CAPITALISED
        if (len(words) == 1 and not known and not _is_title(words[0], rules)
                and not possessive):
            return None  # "Dinner was at 7": a capital word that may be no name at all
    start, end = tokens[i].start(), tokens[j - 1].end()
    evidence: set[str] = set()
    if rules.POSSESSIVE_END.search(words[-1]):
        words[-1] = rules.POSSESSIVE_END.sub("", words[-1])
        end -= 2
        evidence.add("possessive")
    if start >= end or not words[-1] or (len(words) == 1 and len(words[0]) < 2):
        return None  # a lone initial ("plan B") names nothing a question could ask for
    candidate = NameCandidate(start, end, words, name_key(" ".join(words), rules), evidence)
    _gather_evidence(candidate, tokens, i, j, rules)
    adjectival = _is_adjectival(tokens, i, j, rules)
    if adjectival and len(words) == 1 and not evidence & {"title", "kinship", "naming",
                                                          "possessive"} and (
            adjectival == "after article" or not (candidate.key in context.persons
                                                   or candidate.key in context.places)):
        return None  # "the Norwegian coast", "the Lindqvist family", "Anna's Oslo office"
    return candidate


def _is_place_word(word: str, rules: Rules) -> bool:
    lower = word.casefold()
    return lower in rules.GEOGRAPHIC_WORDS or lower in rules.ORGANISATION_WORDS


def _next_word(tokens: list[re.Match[str]], i: int) -> int:
    i += 1
    while i < len(tokens) and tokens[i].group() == ".":
        i += 1
    return i


def _is_title(word: str, rules: Rules) -> bool:
    return word.casefold() in rules.PERSON_TITLES or word.casefold() + "." in rules.PERSON_TITLES


def _gather_evidence(candidate: NameCandidate, tokens: list[re.Match[str]], i: int, j: int,
                     rules: Rules) -> None:
    words = [w.strip(".").casefold() for w in candidate.words]
    evidence = candidate.evidence
    before = [t.group().casefold() for t in tokens[max(0, i - 6):i]]
    after = tokens[j].group() if j < len(tokens) else ""
    if _is_title(candidate.words[0], rules):
        evidence.add("title")
    previous = before[-1] if before else ""
    kinship = [rules.GREAT_PREFIXES.sub("", word) for word in before[-2:]]
    if kinship[-1:] and kinship[-1] in rules.KINSHIP_WORDS or (
            previous == "," and len(kinship) > 1 and kinship[-2] in rules.KINSHIP_WORDS):
        evidence.add("kinship")
    if previous in rules.NAMING_WORDS:
        evidence.add("naming")
    if previous in rules.PERSON_OBJECT_VERBS:
        evidence.add("verb")  # "met Tom"
    if previous == rules.DEFINITE_ARTICLE:
        evidence.add("article")  # "the Blue Kettle": people are not "the Anna Berg"
    if any(w in rules.GEOGRAPHIC_WORDS for w in words):
        evidence.add("geographic")
    if any(w in rules.ORGANISATION_WORDS for w in words[1:]) or (
            len(words) == 1 and words[0] in rules.ORGANISATION_WORDS):
        evidence.add("organisation")
    if _after_place_preposition(before, candidate, rules):
        evidence.add("place_preposition")
    if after and after[0].islower() and _is_verb_after_name(after.casefold(), rules):
        evidence.add("verb")
    if (2 <= len(candidate.words) <= 3 and previous != rules.DEFINITE_ARTICLE
            and all(w.isalpha() and w[0].isupper() and not w.isupper() for w in candidate.words)
            and not evidence & {"geographic", "organisation"}):
        evidence.add("first_last")


def _after_place_preposition(before: list[str], candidate: NameCandidate, rules: Rules) -> bool:
    """"in Oslo", "at the Old Mill", "in the village of Kvarnholm"; "to"/"from" need motion."""
    words = list(before)
    if words and words[-1] == rules.DEFINITE_ARTICLE:
        words.pop()
    if (len(words) >= 2 and words[-1] == rules.LINKING_PREPOSITION
            and words[-2] in rules.PLACE_NOUNS):
        return True
    if not words or words[-1] not in rules.PLACE_PREPOSITIONS:
        return False
    if words[-1] in rules.MOTION_PREPOSITIONS and not any(w in rules.MOTION_WORDS
                                                          for w in words[-5:-1]):
        looks_like_a_person = 2 <= len(candidate.words) <= 3 and not any(
            w.strip(".").casefold() in rules.GEOGRAPHIC_WORDS | rules.ORGANISATION_WORDS
            for w in candidate.words)
        return not looks_like_a_person  # "sold the boat to Tom Hale"
    return True


def _is_verb_after_name(word: str, rules: Rules) -> bool:
    return (word in rules.AUXILIARIES or rules.verb_base_form(word) is not None
            or (rules.present_base_form(word) is not None and word not in rules.STOP_WORDS))


def _is_adjectival(tokens: list[re.Match[str]], i: int, j: int, rules: Rules) -> str:
    """Whether a capitalised word is used as an adjective, followed by a plain noun: "after
    article" ("the Lindqvist family"), "before noun" ("Oslo office"), or "" when it is not."""
    if j >= len(tokens):
        return ""
    following = tokens[j].group()
    if not following[0].islower() or following in rules.STOP_WORDS:
        return ""
    adverb = rules.looks_like_adverb(following)
    if (_is_verb_after_name(following, rules) or adverb
            or following in rules.COMMON_CAPITALISED):
        return ""
    if i > 0 and tokens[i - 1].group().casefold() in rules.ARTICLES:
        return "after article"
    return "before noun"


def resolve_kind(candidate: NameCandidate, context: NameContext = EMPTY_CONTEXT) -> SpanKind:
    """Person, place or name, weighing the evidence strongest first (see the module docstring)."""
    evidence, key = candidate.evidence, candidate.key
    if evidence & {"title", "kinship"}:
        return PERSON
    if "naming" in evidence:
        return NAME
    if key in context.persons:
        return PERSON
    if key in context.places:
        return PLACE
    if evidence & {"geographic", "place_preposition"}:
        return PLACE
    if key in context.names:
        return NAME
    if "organisation" in evidence:
        return NAME
    if "article" in evidence:
        return NAME
    if "verb" in evidence or "possessive" in evidence or key in context.weak_persons:
        return PERSON
    if "first_last" in evidence:
        return PERSON
    return NAME


def learn_names(sentences: list[str], taken_by_sentence: list[list[tuple[int, int]]],
                rules: Rules = DEFAULT_RULES) -> NameContext:
    """What the sentences of one document show about its names, for :func:`find_names`."""
    persons: set[str] = set()
    weak: set[str] = set()
    places: set[str] = set()
    names: set[str] = set()
    capitalised: set[str] = set()
    for sentence, taken in zip(sentences, taken_by_sentence):
        for candidate in name_candidates(sentence, list(taken), rules=rules):
            key, evidence = candidate.key, candidate.evidence
            kind = resolve_kind(candidate)
            if candidate.start > 0 or len(candidate.words) > 1:
                capitalised.update(w.strip(".").casefold() for w in candidate.words)
            if kind == PERSON and (evidence & {"title", "kinship"} or (
                    "verb" in evidence and len(key.split()) > 1)):
                persons.add(key)
                words = key.split()
                if len(words) > 1:
                    persons.update((words[0], words[-1]))
            elif kind == PERSON:
                weak.add(key)
            elif kind == PLACE and evidence & {"place_preposition", "geographic"}:
                places.add(key)
            if evidence & {"organisation", "naming"} and not evidence & {"title", "kinship"}:
                names.update((key, key.split()[0]))
    capitalised -= rules.COMMON_CAPITALISED
    return NameContext(frozenset(persons), frozenset(weak - persons), frozenset(places - persons),
                       frozenset(names - persons), frozenset(capitalised))
