"""Whether a model's reply contains the answer a quiz item expects.

Replies vary in form, so the comparison ignores case, accents and punctuation, and reads what
matters in each kind of answer: a number matches in digits or words ("7" or "seven"), a date
when each of its distinctive parts as written appears (day, month, year, season; a weekday when
it is all there is: "14 March 1931" matches "March 14th, 1931"), a list when every item appears,
a person's full name or the surname alone. Matching is only as lenient as honesty allows:
:func:`.quiz.make_quiz` drops any item whose question would itself count as a right answer.
Number words, month names and the words a date may carry come from the rules of the notes'
language (English unless said otherwise).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import quantities
from .language import DEFAULT_RULES, Rules
from .spans import join_coordinated, number_parts

if TYPE_CHECKING:
    from .quiz import QuizItem


def answer_matches(reply: str, item: QuizItem, rules: Rules = DEFAULT_RULES) -> bool:
    """Whether ``reply`` contains ``item.expected`` in any of its accepted forms."""
    return expected_in(reply, item.expected, question=item.question, rules=rules)


def expected_in(reply: str, expected: str, *, question: str = "",
                rules: Rules = DEFAULT_RULES) -> bool:
    """Whether ``reply`` contains ``expected`` (a span as written in a note)."""
    if _is_whole(expected, _dates, rules):
        return _date_in(reply, expected, rules)
    if _is_whole(expected, quantities.find_amounts, rules):
        value = _value(number_parts(expected, rules)[0], rules)
        if value is not None:
            return value in numbers_in(reply, rules)
    items = _list_items(expected, rules)
    if items:
        return all(expected_in(reply, item, question=question, rules=rules) for item in items)
    return _name_in(reply, expected, question, rules)


def normalise(text: str) -> str:
    """Casefolded, accents removed, punctuation as spaces: "Tromsø!" -> "tromso"."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O")
                                       .replace("æ", "ae").replace("Æ", "AE").replace("ß", "ss"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+|_", " ", plain).split())


def numbers_in(text: str, rules: Rules = DEFAULT_RULES) -> set[float]:
    """Every number in ``text``, in digits ("1,200", "3.5") or words ("forty-two", "a dozen")."""
    values = {float(m.group().replace(",", "")) for m in re.finditer(rules.NUMERAL, text)}
    for words in _spelled_numbers(normalise(text).split(), rules):
        value = quantities.spelled_or_digit_value(" ".join(words), rules)
        if value is not None:
            values.add(value)
    return values


def _spelled_numbers(words: list[str], rules: Rules) -> list[list[str]]:
    """The runs of words that each spell one number: "twenty five and a dozen" is 25 and 12."""
    numbers: list[list[str]] = []
    current: list[str] = []
    for word in words + [""]:
        kind = _number_word_kind(word, rules)
        if current and kind and _continues_number(current, kind, rules):
            current.append(word)
            continue
        while current and current[-1] in (rules.NUMBER_JOINER, rules.NUMBER_ARTICLE):
            current.pop()
        if current:
            numbers.append(current)
        current = [word] if kind and kind != "joiner" else []
    return numbers


def _number_word_kind(word: str, rules: Rules) -> str:
    """The part ``word`` plays in a number spelled out: "unit" ("five"), "tens" ("forty"),
    "multiplier" ("hundred"), "article" ("a" hundred), "joiner" ("and"), or ""."""
    if word == rules.NUMBER_JOINER:
        return "joiner"
    if word == rules.NUMBER_ARTICLE:
        return "article"
    if word in rules.MULTIPLIERS:
        return "multiplier"
    value = rules.NUMBER_WORDS.get(word, rules.ANSWER_ONLY_NUMBER_WORDS.get(word))
    if value is None:
        return ""
    return "tens" if value >= 20 else "unit"


def _continues_number(current: list[str], kind: str, rules: Rules) -> bool:
    last = _number_word_kind(current[-1], rules)
    if last == "article":
        return kind == "multiplier"
    if kind == "multiplier":
        return last in ("unit", "tens")
    if kind == "joiner":
        return last == "multiplier"
    if kind == "unit":
        return last in ("tens", "multiplier", "joiner")
    if kind == "tens":
        return last in ("multiplier", "joiner")
    return False


def _dates(text: str, taken: list[tuple[int, int]], rules: Rules) -> list[tuple[int, int]]:
    return join_coordinated(text, quantities.find_dates(text, taken, rules), rules)


#: :func:`.quantities.find_amounts` and the like: (text, ranges taken, rules) -> ranges found.
_Finder = Callable[[str, list[tuple[int, int]], Rules], list[tuple[int, int]]]


def _is_whole(text: str, finder: _Finder, rules: Rules) -> bool:
    """Whether ``finder`` reads all of ``text`` as one date (or one amount)."""
    found = finder(text, [], rules)
    return len(found) == 1 and found[0][1] - found[0][0] >= len(text.strip()) - 1


def _value(numeral: str, rules: Rules) -> float | None:
    cleaned = numeral.strip(rules.CURRENCY_SYMBOLS + " %")
    multiplier = 1
    for word, factor in rules.NUMERAL_SUFFIX_MULTIPLIERS:
        if cleaned.endswith(word) and re.fullmatch(rules.NUMERAL, cleaned[:-len(word)].strip()):
            cleaned, multiplier = cleaned[:-len(word)].strip(), factor
    value = quantities.spelled_or_digit_value(cleaned, rules)
    return value * multiplier if value is not None else None


def _date_in(reply: str, expected: str, rules: Rules) -> bool:
    """Each distinctive part of the date appears: day, month and year as written; a weekday
    counts only when the date has nothing else ("Tuesday"), as "Saturday 9 August" names the
    day twice."""
    month = rules.month_named
    stem = rules.plural_stem
    reply_words = set(normalise(reply).split())
    reply_numbers = {int(n) for n in _numbers_of(reply_words, rules)}
    reply_months = {month(w) for w in reply_words if month(w)}
    reply_stems = {stem(w) for w in reply_words}
    parts = [part for part in normalise(expected).split() if part not in rules.DATE_NOISE]
    weekdays = [part for part in parts if stem(part) in rules.WEEKDAYS]
    if len(weekdays) < len(parts):
        parts = [part for part in parts if part not in weekdays]
    for part in parts:
        ordinal = rules.ORDINAL.match(part)
        if part.isdigit() or ordinal:
            found = int(ordinal.group(1) if ordinal else part) in reply_numbers
        elif month(part):
            found = month(part) in reply_months
        else:
            found = stem(part) in reply_stems
        if not found:
            return False
    return True


def _numbers_of(words: set[str], rules: Rules) -> list[str]:
    found = []
    for word in words:
        ordinal = rules.ORDINAL.match(word)
        if word.isdigit():
            found.append(word)
        elif ordinal:
            found.append(ordinal.group(1))
    return found


def _list_items(expected: str, rules: Rules) -> list[str]:
    if "," not in expected and not any(f" {word} " in expected
                                       for word in rules.LIST_CONJUNCTIONS):
        return []
    items = [item.strip() for item in rules.LIST_ITEM_SEPARATOR.split(expected)]
    items = [item for item in items if item]
    return items if len(items) >= 3 else []


def _name_in(reply: str, expected: str, question: str, rules: Rules) -> bool:
    reply_text = f" {normalise(reply)} "
    full = normalise(expected)
    article = rules.DEFINITE_ARTICLE + " "
    if full.startswith(article):
        full = full[len(article):]
    if full and f" {full} " in reply_text:
        return True
    surname = _surname(expected, rules)
    if surname and f" {surname} " not in f" {normalise(question)} ":
        return f" {surname} " in reply_text
    return False


def _surname(expected: str, rules: Rules) -> str | None:
    """The last name of a two- or three-word personal name, when it can stand alone."""
    words = expected.split()
    if not 2 <= len(words) <= 3 or not all(w[:1].isupper() for w in words):
        return None
    plain = [w.strip(".").casefold() for w in words]
    if any(w in rules.GEOGRAPHIC_WORDS or w in rules.ORGANISATION_WORDS
           or w == rules.DEFINITE_ARTICLE for w in plain):
        return None
    surname = normalise(words[-1])
    return surname if len(surname) >= 2 else None
