"""Dates, times and counted amounts in a sentence: the "when" and "how many" of a fact.

Dates are found before numbers and names, so "14 March 1931" is one date rather than a number,
a month name and a year. A bare four-digit number is a year only where a year reads naturally
("in 1987", "1987 was", "... 1987."), and a number is a count only together with what it counts
("42 chairs", "3.5 km", "$1,200", "seven cousins"): a number alone gives no useful question.
"""

from __future__ import annotations

import re

from . import rules_en as rules

Found = tuple[int, int]  # start and end offsets in the sentence


def _alternation(words) -> str:
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


def _capitalised(words) -> str:
    return _alternation(word.capitalize() for word in words)


_MONTH = rf"(?:{_capitalised(rules.MONTHS)}|(?:{_capitalised(rules.MONTH_ABBREVIATIONS)})\.?)"
_FULL_MONTH = rf"(?:{_capitalised(rules.MONTHS)})"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
_YEAR = r"(?:1[5-9]\d\d|20\d\d)\b"
_WEEKDAY = rf"(?:{_capitalised(rules.WEEKDAYS)})"
_QUALIFIER = rf"(?:(?:{_alternation(q for q in rules.DATE_QUALIFIERS if q != 'mid-')})\s+|mid-)?"
_DETERMINER = rf"(?:(?i:{_alternation(rules.DATE_DETERMINERS)})\s+)"
_SEASON = rf"(?:{_alternation(rules.SEASONS)})"
_TIME_SUFFIX = rf"(?:\s*(?:{_alternation(rules.TIME_SUFFIXES)})(?!\w))"

_DATE_PATTERNS = [re.compile(pattern) for pattern in (
    rf"(?:{_WEEKDAY},?\s+)?(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?",
    rf"(?:{_WEEKDAY},?\s+)?{_MONTH}\s+(?:the\s+)?{_DAY}(?:,?\s+{_YEAR})?",
    rf"{_QUALIFIER}{_MONTH}(?:\s+of)?,?\s+{_YEAR}",
    rf"(?:the\s+)?(?:first|second|third|fourth|last)\s+{_WEEKDAY}\s+of\s+(?:every|each|the)"
    rf"\s+month\b",
    rf"{_DETERMINER}?{_WEEKDAY}s?(?:\s+(?:morning|afternoon|evening|night|noon|lunchtime))?\b",
    rf"(?:the\s+)?{_QUALIFIER}{_SEASON}\s+(?:of\s+)?{_YEAR}",
    r"the\s+(?:early\s+|late\s+|mid-)?(?:1[5-9]|20)\d0s\b",
    rf"{_DETERMINER}?(?:{_alternation(rules.HOLIDAYS)})\b",
    r"\b\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})\b",
    r"\b\d{4}-\d{2}-\d{2}\b",
    rf"\b(?:[01]?\d|2[0-3]):[0-5]\d{_TIME_SUFFIX}?",
    rf"\b(?:1[0-2]|0?[1-9])(?:\.[0-5]\d)?{_TIME_SUFFIX}",
)]
_DOTTED_TIME = re.compile(r"\b(?:[01]?\d|2[0-3])\.[0-5]\d\b")
_TIME_PREPOSITIONS = frozenset("at by until till from before after around about".split())
_LONE_MONTH = re.compile(rf"{_QUALIFIER}{_DETERMINER}?{_FULL_MONTH}\b")
_LONE_MONTH_PREPOSITIONS = frozenset(
    "in since until till by during before after of from through early late mid every each "
    "next last this".split())
_QUALIFIED_YEAR = re.compile(rf"{_QUALIFIER}{_YEAR}")
_TIME_WORD = re.compile(rf"\b(?:{_alternation(rules.TIME_WORDS)})\b")

_NUMERAL = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MONEY_BEFORE = re.compile(
    rf"[{re.escape(rules.CURRENCY_SYMBOLS)}]\s?(?:{_NUMERAL})(?:\s?(?:million|thousand|bn|k)\b)?")
_MONEY_AFTER = re.compile(
    rf"\b(?:{_NUMERAL})\s?(?:(?:million|thousand)\s)?(?:{_alternation(rules.CURRENCY_WORDS)})\b",
    re.IGNORECASE)
_PERCENT = re.compile(rf"\b(?:{_NUMERAL})\s?(?:%|(?:{_alternation(rules.PERCENT_WORDS)})\b)")
_NUMERAL_WORD = re.compile(rf"(?<![\w.,$€£¥])(?:{_NUMERAL})(?![\w%])(?!\.\d)")
_SPELLED_TENS = _alternation(w for w, v in rules.NUMBER_WORDS.items() if 20 <= v < 100)
_SPELLED_UNITS = _alternation(w for w, v in rules.NUMBER_WORDS.items() if 2 <= v < 10)
_SPELLED = re.compile(
    rf"\b(?:a\s+(?:dozen|hundred|thousand)|(?:{_SPELLED_TENS})(?:-(?:{_SPELLED_UNITS}))?"
    rf"|(?:{_alternation(w for w, v in rules.NUMBER_WORDS.items() if v < 20)}))"
    rf"(?:\s+(?:hundred|thousand|dozen))?\b", re.IGNORECASE)
_WORD_AFTER = re.compile(r"[ -]?([^\W\d_][\w'’-]*)")
_PLURAL_WITHOUT_S = frozenset("people children men women geese sheep fish teeth feet mice kids "
                              "staff cattle deer police".split())


def find_dates(sentence: str, taken: list[Found]) -> list[Found]:
    """Dates and times in ``sentence`` that do not overlap ``taken``; adds them to ``taken``."""
    found: list[Found] = []
    for pattern in _DATE_PATTERNS:
        found.extend(match.span() for match in pattern.finditer(sentence))
    found.extend(_dotted_times(sentence))
    found.extend(_lone_months(sentence))
    found.extend(_years(sentence))
    found.extend(m.span() for m in _TIME_WORD.finditer(sentence)
                 if _word_before(sentence, m.start()) in _TIME_PREPOSITIONS)
    return _keep_longest(found, taken)


def find_amounts(sentence: str, taken: list[Found]) -> list[Found]:
    """Money, percentages and counted nouns in ``sentence`` not overlapping ``taken``."""
    found: list[Found] = []
    for pattern in (_MONEY_BEFORE, _MONEY_AFTER, _PERCENT):
        found.extend(match.span() for match in pattern.finditer(sentence))
    for pattern in (_NUMERAL_WORD, _SPELLED):
        for match in pattern.finditer(sentence):
            if sentence[match.end():match.end() + 1] == "-":
                continue  # "two-year contract", "12-year-old": describes, does not count
            end = _counted_noun_end(sentence, match.end())
            if end is not None:
                found.append((match.start(), end))
            elif pattern is _NUMERAL_WORD and _is_bare_count(sentence, match):
                found.append(match.span())
    return _keep_longest(found, taken)


def _counted_noun_end(sentence: str, position: int) -> int | None:
    """Where the noun counted by the number ending at ``position`` ends, or None when none follows.

    Up to three lowercase words are read ("42 folding chairs", "three old apple trees"); the
    noun phrase ends at the first plural word, a unit, or else after its first word.
    """
    words: list[re.Match[str]] = []
    cursor = position
    for _ in range(3):
        match = _WORD_AFTER.match(sentence, cursor)
        if not match or not match.group(1)[0].islower():
            break
        word = match.group(1).lower()
        if word in rules.NOT_A_COUNTED_NOUN or _is_verb_like(word):
            break
        words.append(match)
        cursor = match.end()
        if word in rules.UNITS or word in rules.MEASURE_NOUNS or _is_plural(word):
            return _extend_noun(sentence, match.end(), word)
    return words[0].end() if words else None


def _extend_noun(sentence: str, end: int, noun: str) -> int:
    """"3 kg" -> "3 kg of flour", "nine years" -> "nine years old"."""
    rest = sentence[end:]
    if noun in ("years", "months", "weeks", "days") and re.match(r"\s+old\b", rest):
        return end + re.match(r"\s+old\b", rest).end()
    if noun in rules.MEASURE_NOUNS:
        of = re.match(r"\s+of((?:\s+[a-z][\w'’-]*){1,2})", rest)
        if of:
            words = of.group(1).split()
            kept = 0
            for word in words:
                if word in rules.NOT_A_COUNTED_NOUN or _is_verb_like(word):
                    break
                kept += 1
            if kept:
                return end + re.match(rf"\s+of(?:\s+[\w'’-]+){{{kept}}}", rest).end()
    return end


def _is_bare_count(sentence: str, match: re.Match[str]) -> bool:
    """A number alone that is the point of the sentence ("The budget is 400.")."""
    before = sentence[:match.start()].rstrip()
    after = sentence[match.end():].lstrip()
    previous = re.search(r"([^\W\d_][\w'’-]*)$", before)
    if not previous or not previous.group(1)[0].islower():
        return False  # "Storgatan 12", or a number opening the sentence
    return not after or after[0] in ".,;:!?)" or (
        re.match(r"[a-z]+", after) is not None and
        re.match(r"[a-z]+", after).group() in rules.STOP_WORDS)


def _is_plural(word: str) -> bool:
    return word in _PLURAL_WITHOUT_S or (word.endswith("s") and not word.endswith(("ss", "us",
                                                                                   "'s", "’s")))


def _is_verb_like(word: str) -> bool:
    return (word in rules.AUXILIARIES or word in rules.IRREGULAR_PAST
            or (word.endswith("ed") and rules.verb_base_form(word) is not None))


def _dotted_times(sentence: str) -> list[Found]:
    """"7.30" is a time after "at" or "until", and a decimal otherwise."""
    return [match.span() for match in _DOTTED_TIME.finditer(sentence)
            if _word_before(sentence, match.start()) in _TIME_PREPOSITIONS]


def _lone_months(sentence: str) -> list[Found]:
    """"in March", "every June": a month named alone, where it cannot be the verb "may"."""
    spans = []
    for match in _LONE_MONTH.finditer(sentence):
        qualified = match.group() != match.group().lstrip().split()[-1]
        after_month = re.search(rf"{_FULL_MONTH},?\s+(?:and|or)\s+$", sentence[:match.start()])
        if (qualified or after_month
                or _word_before(sentence, match.start()) in _LONE_MONTH_PREPOSITIONS):
            spans.append(match.span())  # "in May", "early June", "in May or June"
    return spans


def _years(sentence: str) -> list[Found]:
    """Four-digit numbers that read as years: not followed by what they would count."""
    spans = []
    for match in _QUALIFIED_YEAR.finditer(sentence):
        before = sentence[:match.start()].rstrip()
        if before[-1:] in rules.CURRENCY_SYMBOLS or before.endswith((",", ".")) and \
                before[-2:-1].isdigit():
            continue
        after = sentence[match.end():]
        next_word = re.match(r"\s*([^\W\d_]+)", after)
        if (next_word and next_word.group(1).lower() not in rules.STOP_WORDS
                and not _is_verb_like(next_word.group(1).lower())
                and next_word.group(1)[0].islower()
                and _word_before(sentence, match.start()) not in rules.YEAR_PREPOSITIONS):
            continue  # "1800 litres", "2000 visitors"
        if re.match(r"[.,]\d", after) or re.match(r"\s*%", after):
            continue
        spans.append(match.span())
    return spans


def _word_before(sentence: str, position: int) -> str:
    match = re.search(r"([^\W\d_][\w.'’-]*)\W*$", sentence[:position])
    return match.group(1).lower() if match else ""


def _keep_longest(found: list[Found], taken: list[Found]) -> list[Found]:
    """The longest of overlapping matches (earliest first on a tie), none overlapping ``taken``."""
    kept: list[Found] = []
    for start, end in sorted(found, key=lambda span: (-(span[1] - span[0]), span[0])):
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        kept.append((start, end))
        taken.append((start, end))
    return sorted(kept)


def spelled_or_digit_value(text: str) -> float | None:
    """The value of a numeral written in digits or words ("1,200", "3.5", "twenty-five")."""
    cleaned = text.strip().lower().replace(",", "")
    try:
        return float(cleaned)
    except ValueError:
        pass
    words = {**rules.NUMBER_WORDS, **{k: v for k, v in rules.ANSWER_ONLY_NUMBER_WORDS.items()
                                      if " " not in k}}
    total, current = 0, 0
    parts = [p for p in re.split(r"[\s-]+", cleaned) if p and p not in ("a", "and")]
    if not parts or any(part not in words for part in parts):
        return None
    for part in parts:
        value = words[part]
        if part in rules.MULTIPLIERS:
            current = max(current, 1) * value
            if value >= 1000:
                total, current = total + current, 0
        else:
            current += value
    return float(total + current)
