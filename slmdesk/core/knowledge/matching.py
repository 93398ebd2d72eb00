"""Whether a model's reply contains the answer a quiz item expects.

Replies vary in form, so the comparison ignores case, accents and punctuation, and reads what
matters in each kind of answer: a number matches in digits or words ("7" or "seven"), a date
when each of its distinctive parts as written appears (day, month, year, season; a weekday when
it is all there is: "14 March 1931" matches "March 14th, 1931"), a list when every item appears,
a person's full name or the surname alone. Matching is only as lenient as honesty allows: :func:`.quiz.make_quiz` drops any item
whose question would itself count as a right answer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from . import quantities
from . import rules_en as rules
from .spans import join_coordinated, number_parts

if TYPE_CHECKING:
    from .quiz import QuizItem

_NUMERAL = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_DATE_NOISE = {"the", "of", "in", "on", "at", "early", "late", "mid", "beginning", "start",
               "middle", "end", "am", "pm", "a", "m", "p", "o", "clock", "and", "or",
               *rules.DATE_DETERMINERS}
_MONTH_NAMES = {month[:3]: month for month in rules.MONTHS} | {"sept": "september"}


def answer_matches(reply: str, item: QuizItem) -> bool:
    """Whether ``reply`` contains ``item.expected`` in any of its accepted forms."""
    return expected_in(reply, item.expected, question=item.question)


def expected_in(reply: str, expected: str, *, question: str = "") -> bool:
    """Whether ``reply`` contains ``expected`` (a span as written in a note)."""
    if _is_whole(expected, _dates):
        return _date_in(reply, expected)
    if _is_whole(expected, quantities.find_amounts):
        value = _value(number_parts(expected)[0])
        if value is not None:
            return value in numbers_in(reply)
    items = _list_items(expected)
    if items:
        return all(expected_in(reply, item, question=question) for item in items)
    return _name_in(reply, expected, question)


def normalise(text: str) -> str:
    """Casefolded, accents removed, punctuation as spaces: "Tromsø!" -> "tromso"."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O")
                                       .replace("æ", "ae").replace("Æ", "AE").replace("ß", "ss"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+|_", " ", plain).split())


def numbers_in(text: str) -> set[float]:
    """Every number in ``text``, in digits ("1,200", "3.5") or words ("forty-two", "a dozen")."""
    values = {float(m.group().replace(",", "")) for m in _NUMERAL.finditer(text)}
    for words in _spelled_numbers(normalise(text).split()):
        value = quantities.spelled_or_digit_value(" ".join(words))
        if value is not None:
            values.add(value)
    return values


def _spelled_numbers(words: list[str]) -> list[list[str]]:
    """The runs of words that each spell one number: "twenty five and a dozen" is 25 and 12."""
    numbers: list[list[str]] = []
    current: list[str] = []
    for word in words + [""]:
        kind = _number_word_kind(word)
        if current and kind and _continues_number(current, kind):
            current.append(word)
            continue
        while current and current[-1] in ("and", "a"):
            current.pop()
        if current:
            numbers.append(current)
        current = [word] if kind and kind != "and" else []
    return numbers


def _number_word_kind(word: str) -> str:
    if word in ("and", "a"):
        return word
    if word in rules.MULTIPLIERS:
        return "multiplier"
    value = rules.NUMBER_WORDS.get(word, rules.ANSWER_ONLY_NUMBER_WORDS.get(word))
    if value is None:
        return ""
    return "tens" if value >= 20 else "unit"


def _continues_number(current: list[str], kind: str) -> bool:
    last = _number_word_kind(current[-1])
    if last == "a":
        return kind == "multiplier"
    if kind == "multiplier":
        return last in ("unit", "tens")
    if kind == "and":
        return last == "multiplier"
    if kind == "unit":
        return last in ("tens", "multiplier", "and")
    if kind == "tens":
        return last in ("multiplier", "and")
    return False


def _dates(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return join_coordinated(text, quantities.find_dates(text, taken))


def _is_whole(text: str, finder) -> bool:
    """Whether ``finder`` reads all of ``text`` as one date (or one amount)."""
    found = finder(text, [])
    return len(found) == 1 and found[0][1] - found[0][0] >= len(text.strip()) - 1


def _value(numeral: str) -> float | None:
    cleaned = numeral.strip(rules.CURRENCY_SYMBOLS + " %")
    multiplier = 1
    for word, factor in (("million", 1_000_000), ("thousand", 1000), ("bn", 1_000_000_000)):
        if cleaned.endswith(word) and _NUMERAL.fullmatch(cleaned[:-len(word)].strip()):
            cleaned, multiplier = cleaned[:-len(word)].strip(), factor
    value = quantities.spelled_or_digit_value(cleaned)
    return value * multiplier if value is not None else None


def _date_in(reply: str, expected: str) -> bool:
    """Each distinctive part of the date appears: day, month and year as written; a weekday
    counts only when the date has nothing else ("Tuesday"), as "Saturday 9 August" names the
    day twice."""
    reply_words = set(normalise(reply).split())
    reply_numbers = {int(n) for n in _numbers_of(reply_words)}
    reply_months = {_month(w) for w in reply_words if _month(w)}
    reply_stems = {w.rstrip("s") for w in reply_words}
    parts = [part for part in normalise(expected).split() if part not in _DATE_NOISE]
    weekdays = [part for part in parts if part.rstrip("s") in rules.WEEKDAYS]
    if len(weekdays) < len(parts):
        parts = [part for part in parts if part not in weekdays]
    for part in parts:
        ordinal = _ORDINAL.match(part)
        if part.isdigit() or ordinal:
            found = int(ordinal.group(1) if ordinal else part) in reply_numbers
        elif _month(part):
            found = _month(part) in reply_months
        else:
            found = part.rstrip("s") in reply_stems
        if not found:
            return False
    return True


def _month(word: str) -> str | None:
    """The full month a word names ("mar", "march", "sept" -> ...), or None."""
    if word.rstrip(".") in rules.MONTHS or word in rules.MONTH_ABBREVIATIONS:
        return _MONTH_NAMES[word[:4] if word.startswith("sept") else word[:3]]
    return None


def _numbers_of(words: set[str]) -> list[str]:
    found = []
    for word in words:
        ordinal = _ORDINAL.match(word)
        if word.isdigit():
            found.append(word)
        elif ordinal:
            found.append(ordinal.group(1))
    return found


def _list_items(expected: str) -> list[str]:
    if "," not in expected and " and " not in expected and " or " not in expected:
        return []
    items = [item.strip() for item in re.split(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", expected)]
    items = [item for item in items if item]
    return items if len(items) >= 3 else []


def _name_in(reply: str, expected: str, question: str) -> bool:
    reply_text = f" {normalise(reply)} "
    full = normalise(expected)
    if full.startswith("the "):
        full = full[4:]
    if full and f" {full} " in reply_text:
        return True
    surname = _surname(expected)
    if surname and f" {surname} " not in f" {normalise(question)} ":
        return f" {surname} " in reply_text
    return False


def _surname(expected: str) -> str | None:
    """The last name of a two- or three-word personal name, when it can stand alone."""
    words = expected.split()
    if not 2 <= len(words) <= 3 or not all(w[:1].isupper() for w in words):
        return None
    plain = [w.strip(".").casefold() for w in words]
    if any(w in rules.GEOGRAPHIC_WORDS or w in rules.ORGANISATION_WORDS or w == "the"
           for w in plain):
        return None
    surname = normalise(words[-1])
    return surname if len(surname) >= 2 else None
