"""Dates, times and counted amounts in a sentence: the "when" and "how many" of a fact.

Dates are found before numbers and names, so "14 March 1931" is one date rather than a number,
a month name and a year. A bare four-digit number is a year only where a year reads naturally
("in 1987", "1987 was", "... 1987."), and a number is a count only together with what it counts
("42 chairs", "3.5 km", "$1,200", "seven cousins"): a number alone gives no useful question.
The date and number patterns and the words around them come from the rules of the sentence's
language (:data:`.rules_en.DATE_PATTERNS` and the like).
"""

from __future__ import annotations

import re

from .language import DEFAULT_RULES, Rules

Found = tuple[int, int]  # start and end offsets in the sentence

_DOTTED_TIME = re.compile(r"\b(?:[01]?\d|2[0-3])\.[0-5]\d\b")
_WORD_AFTER = re.compile(r"[ -]?([^\W\d_][\w'’-]*)")


def find_dates(sentence: str, taken: list[Found], rules: Rules = DEFAULT_RULES) -> list[Found]:
    """Dates and times in ``sentence`` that do not overlap ``taken``; adds them to ``taken``."""
    found: list[Found] = []
    for pattern in rules.DATE_PATTERNS:
        found.extend(match.span() for match in pattern.finditer(sentence))
    found.extend(_dotted_times(sentence, rules))
    found.extend(_lone_months(sentence, rules))
    found.extend(_years(sentence, rules))
    found.extend(m.span() for m in rules.TIME_WORD.finditer(sentence)
                 if _word_before(sentence, m.start()) in rules.TIME_PREPOSITIONS)
    return _keep_longest(found, taken)


def find_amounts(sentence: str, taken: list[Found], rules: Rules = DEFAULT_RULES) -> list[Found]:
    """Money, percentages and counted nouns in ``sentence`` not overlapping ``taken``."""
    found: list[Found] = []
    for pattern in (rules.MONEY_BEFORE, rules.MONEY_AFTER, rules.PERCENT):
        found.extend(match.span() for match in pattern.finditer(sentence))
    for pattern in (rules.BARE_NUMERAL, rules.SPELLED_NUMBER):
        for match in pattern.finditer(sentence):
            if sentence[match.end():match.end() + 1] == "-":
                continue  # "two-year contract", "12-year-old": describes, does not count
            end = _counted_noun_end(sentence, match.end(), rules)
            if end is not None:
                found.append((match.start(), end))
            elif pattern is rules.BARE_NUMERAL and _is_bare_count(sentence, match, rules):
                found.append(match.span())
    return _keep_longest(found, taken)


def _counted_noun_end(sentence: str, position: int, rules: Rules) -> int | None:
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
        if word in rules.NOT_A_COUNTED_NOUN or _is_verb_like(word, rules):
            break
        words.append(match)
        cursor = match.end()
        if word in rules.UNITS or word in rules.MEASURE_NOUNS or rules.is_plural(word):
            return _extend_noun(sentence, match.end(), word, rules)
    return words[0].end() if words else None


def _extend_noun(sentence: str, end: int, noun: str, rules: Rules) -> int:
    """"3 kg" -> "3 kg of flour", "nine years" -> "nine years old"."""
    rest = sentence[end:]
    age: re.Match[str] | None = rules.AGE_AFTER.match(rest)
    if noun in rules.AGE_NOUNS and age:
        return end + age.end()
    if noun in rules.MEASURE_NOUNS:
        of: re.Match[str] | None = rules.MEASURE_OF.match(rest)
        if of:
            words = [group.strip() for group in of.groups() if group]
            kept = 0
            for word in words:
                if word in rules.NOT_A_COUNTED_NOUN or _is_verb_like(word, rules):
                    break
                kept += 1
            if kept:
                return end + of.end(kept)  # the end of the last word kept
    return end


def _is_bare_count(sentence: str, match: re.Match[str], rules: Rules) -> bool:
    """A number alone that is the point of the sentence ("The budget is 400.")."""
    before = sentence[:match.start()].rstrip()
    after = sentence[match.end():].lstrip()
    previous = re.search(r"([^\W\d_][\w'’-]*)$", before)
    if not previous or not previous.group(1)[0].islower():
        return False  # "Storgatan 12", or a number opening the sentence
    return not after or after[0] in ".,;:!?)" or (
        (next_word := re.match(r"[a-z]+", after)) is not None and
        next_word.group() in rules.STOP_WORDS)


def _is_verb_like(word: str, rules: Rules) -> bool:
    return word in rules.AUXILIARIES or rules.is_past_tense(word)


def _dotted_times(sentence: str, rules: Rules) -> list[Found]:
    """"7.30" is a time after "at" or "until", and a decimal otherwise."""
    return [match.span() for match in _DOTTED_TIME.finditer(sentence)
            if _word_before(sentence, match.start()) in rules.TIME_PREPOSITIONS]


def _lone_months(sentence: str, rules: Rules) -> list[Found]:
    """"in March", "every June": a month named alone, where it cannot be the verb "may"."""
    spans = []
    for match in rules.LONE_MONTH.finditer(sentence):
        qualified = match.group() != match.group().lstrip().split()[-1]
        after_month = rules.MONTH_AND_BEFORE.search(sentence[:match.start()])
        if (qualified or after_month
                or _word_before(sentence, match.start()) in rules.LONE_MONTH_PREPOSITIONS):
            spans.append(match.span())  # "in May", "early June", "in May or June"
    return spans


def _years(sentence: str, rules: Rules) -> list[Found]:
    """Four-digit numbers that read as years: not followed by what they would count."""
    spans = []
    for match in rules.QUALIFIED_YEAR.finditer(sentence):
        before = sentence[:match.start()].rstrip()
        if before[-1:] in rules.CURRENCY_SYMBOLS or before.endswith((",", ".")) and \
                before[-2:-1].isdigit():
            continue
        after = sentence[match.end():]
        next_word = re.match(r"\s*([^\W\d_]+)", after)
        if (next_word and next_word.group(1).lower() not in rules.STOP_WORDS
                and not _is_verb_like(next_word.group(1).lower(), rules)
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


def spelled_or_digit_value(text: str, rules: Rules = DEFAULT_RULES) -> float | None:
    """The value of a numeral written in digits or words ("1,200", "3.5", "twenty-five")."""
    cleaned = text.strip().lower().replace(",", "")
    try:
        return float(cleaned)
    except ValueError:
        pass
    words = {**rules.NUMBER_WORDS, **{k: v for k, v in rules.ANSWER_ONLY_NUMBER_WORDS.items()
                                      if " " not in k}}
    total, current = 0, 0
    fillers = (rules.NUMBER_ARTICLE, rules.NUMBER_JOINER)
    parts = [p for p in re.split(r"[\s-]+", cleaned) if p and p not in fillers]
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
