"""Text to sentences, for prose and for line-based notes alike.

A person's notes mix paragraphs with short lines: headings, list items ("- 42 chairs"), lines
without a full stop. A line that does not end a sentence is kept as a sentence of its own unless
it is plainly wrapped prose (the next line starts in lowercase, or the line ends mid-phrase),
so a shopping list never becomes one long "sentence". Inside a paragraph the split happens at
".", "!", "?" or an ellipsis followed by a capital or a digit, except after titles ("Dr."),
initials ("J. R. Smith") and abbreviations ("e.g."); decimals and times ("3.5", "7.30") have no
space after the point and never split. The abbreviations, the list markers and the words that
carry a line on come from the rules of the text's language (English unless said otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .language import DEFAULT_RULES, Rules

_FINAL_PUNCTUATION = ".!?…"
_CLOSING = "\"”’')]"
_CANDIDATE_END = re.compile(r"(?:\.\.\.|[.!?…]+)[\"”’')\]]*(?=\s|$)")
_LAST_WORD = re.compile(r"(\S+)$")
_FIRST_WORD = re.compile(r"[^\W\d_][\w'’-]*")
#: A wrapped line is usually long: a short line without a full stop is a line of its own.
_WRAPPED_LINE_LENGTH = 60


@dataclass(frozen=True)
class SentenceUnit:
    """One sentence and where it came from, for the rules that treat list items differently."""

    text: str
    bullet: bool  # the sentence was a list item ("- 42 chairs")
    line: bool = False  # a line of its own without a full stop: a heading or a note line

    @property
    def ends_with_punctuation(self) -> bool:
        return self.text.rstrip(_CLOSING)[-1:] in _FINAL_PUNCTUATION


def normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


def split_sentences(text: str, rules: Rules = DEFAULT_RULES) -> list[str]:
    """The sentences of ``text``, whitespace-normalised, list markers removed."""
    return [unit.text for unit in split_units(text, rules)]


def split_units(text: str, rules: Rules = DEFAULT_RULES) -> list[SentenceUnit]:
    """The sentences of ``text`` with whether each was a list item."""
    units: list[SentenceUnit] = []
    for block, bullet in _blocks(text, rules):
        sentences = _split_block(block, rules)
        if not sentences:
            continue
        units.extend(SentenceUnit(sentence, bullet) for sentence in sentences[:-1])
        last = SentenceUnit(sentences[-1], bullet)
        units.append(SentenceUnit(last.text, bullet, line=not last.ends_with_punctuation))
    return units


def _blocks(text: str, rules: Rules) -> list[tuple[str, bool]]:
    """Paragraphs, list items and stand-alone lines, each as (text, is_list_item)."""
    blocks: list[tuple[str, bool]] = []
    lines: list[str] = []
    bullet = False

    def flush() -> None:
        if lines:
            blocks.append((normalise_whitespace(" ".join(lines)), bullet))
            lines.clear()

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw.strip():
            flush()
            continue
        marker = rules.BULLET_PATTERN.match(raw)
        if marker:
            flush()
            bullet = True
            lines.append(raw[marker.end():])
            continue
        if lines and _continues(lines[-1], raw, bullet, rules):
            lines.append(raw)
            continue
        flush()
        bullet = False
        lines.append(raw)
    flush()
    return [(block, is_bullet) for block, is_bullet in blocks if block]


def _continues(previous: str, line: str, in_bullet: bool, rules: Rules) -> bool:
    """Whether ``line`` carries on the text of ``previous`` rather than starting a new unit."""
    stripped = line.strip()
    if in_bullet:
        return line[:1].isspace() or stripped[:1].islower()
    last = previous.rstrip()
    if last.rstrip(_CLOSING)[-1:] in _FINAL_PUNCTUATION:
        return True  # a sentence ended: the paragraph goes on, the splitter cuts it
    if last.endswith(":"):
        return False  # a lead-in line ("We need:") stands alone
    last_word = last.split()[-1].lower() if last.split() else ""
    return (stripped[:1].islower() or last.endswith(",") or last_word in rules.CONTINUING_WORDS
            or len(last) >= _WRAPPED_LINE_LENGTH)


def _split_block(block: str, rules: Rules) -> list[str]:
    sentences = []
    start = 0
    for match in _CANDIDATE_END.finditer(block):
        if _is_boundary(block, match, rules):
            sentences.append(block[start:match.end()].strip())
            start = match.end()
    sentences.append(block[start:].strip())
    return [normalise_whitespace(sentence) for sentence in sentences if sentence]


def _is_boundary(block: str, match: re.Match[str], rules: Rules) -> bool:
    following = block[match.end():].lstrip()
    if not following:
        return True
    first_char = following[0]
    if not (first_char.isupper() or first_char.isdigit() or first_char in "\"“‘'(["):
        return False
    if match.group().rstrip(_CLOSING) != ".":
        return True  # "!", "?", an ellipsis before a capital: the sentence ended
    previous = _LAST_WORD.search(block[:match.start()])
    if not previous:
        return True
    word = previous.group(1).lstrip("(\"“‘'").lower()
    if word in rules.TITLE_ABBREVIATIONS - rules.NUMBER_ABBREVIATIONS:
        return False
    if word in rules.NUMBER_ABBREVIATIONS:
        return not first_char.isdigit()
    next_word = _FIRST_WORD.match(following)
    next_is_ordinary = (next_word is not None
                        and next_word.group().lower() in rules.COMMON_CAPITALISED)
    if _is_initial(previous.group(1)) or word in rules.SOMETIMES_FINAL_ABBREVIATIONS:
        return next_is_ordinary
    return True


def _is_initial(word: str) -> bool:
    """"J" of "J. R. Smith", or "J.R" of "J.R. Smith"."""
    return bool(re.fullmatch(r"(?:[^\W\d_]\.)*[^\W\d_]", word)) and word[-1].isupper()
