"""Which language a document is in, and the rules module that reads it.

Every rule of this package takes its words, patterns and templates from a *rules module*:
:mod:`.rules_en` for English, the only language registered today. Documents enter the package
through :func:`.augment.augment_documents` and :func:`.quiz.make_quiz`, which ask
:func:`rules_for_text` for each document's rules; each :class:`.facts.Fact` remembers its
language, and the functions that read a fact's words are handed ``fact.rules`` (those that
take a bare sentence have a ``rules`` parameter defaulting to :data:`DEFAULT_RULES`).

A second language plugs in like this:

1. write ``rules_xx.py`` with every public name of :mod:`.rules_en` (its ``LANGUAGE`` is
   "xx"; :func:`missing_names` lists what is still missing);
2. add it to :data:`_REGISTERED` below (or call :func:`register_rules` with it);
3. nothing else: :func:`detect_language` recognises it by its ``STOP_WORDS`` and
   ``STOP_WORD_SHARE``, and its documents are read, asked and quizzed with its rules. Notes for
   the user (:data:`.rules_en.NOTE_OTHER_LANGUAGE` and the like) stay in the app's language.

Detection needs no model: ordinary prose has a large share of its words in a short list of its
language's function words ("the", "and", "of", "was": about a third of English), and other
languages share few of them.
"""

from __future__ import annotations

import inspect
import re
from types import ModuleType
from typing import TypeAlias

from . import rules_en

#: A rules module, or any object with the same names as :mod:`.rules_en`.
Rules: TypeAlias = ModuleType

ENGLISH, OTHER, UNKNOWN = rules_en.LANGUAGE, "other", "unknown"
#: The app's language: its notes to the user, and the rules for a text too short to tell.
DEFAULT_LANGUAGE = ENGLISH
DEFAULT_RULES: Rules = rules_en
#: Fewer words than this: too short to tell.
MIN_WORDS_TO_DETECT = 12

_REGISTERED: tuple[Rules, ...] = (rules_en,)
_REGISTRY: dict[str, Rules] = {}

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def rule_names() -> list[str]:
    """The names every rules module defines: the constants (UPPER_CASE) and the public functions
    of :mod:`.rules_en`, not what it imports."""
    return sorted(name for name, value in vars(rules_en).items()
                  if not name.startswith("_") and (name.isupper() or (
                      inspect.isfunction(value) and value.__module__ == rules_en.__name__)))


def missing_names(rules: Rules) -> list[str]:
    """The names of :func:`rule_names` that ``rules`` lacks (none for a complete module)."""
    return [name for name in rule_names() if not hasattr(rules, name)]


def register_rules(rules: Rules) -> None:
    """Read documents in ``rules.LANGUAGE`` with ``rules`` from now on."""
    missing = missing_names(rules)
    if missing:
        raise ValueError(f"rules for {getattr(rules, 'LANGUAGE', '?')!r} lack: "
                         f"{', '.join(missing)}")
    _REGISTRY[rules.LANGUAGE] = rules


def rules_for(language: str) -> Rules:
    """The rules module registered for ``language`` ("en"); KeyError for any other code."""
    try:
        return _REGISTRY[language]
    except KeyError:
        raise KeyError(f"no knowledge rules for language {language!r}") from None


def supported_languages() -> tuple[str, ...]:
    """The codes of the registered languages, in registration order."""
    return tuple(_REGISTRY)


def detect_language(text: str) -> str:
    """The code of the registered language ``text`` is in ("en"), "other" when it is in a
    language without rules, "unknown" when it is too short to tell."""
    words = _words(text)
    if len(words) < MIN_WORDS_TO_DETECT:
        return UNKNOWN
    found, best = OTHER, 0.0
    for language, rules in _REGISTRY.items():
        share = _share(words, rules)
        if share >= rules.STOP_WORD_SHARE and share > best:
            found, best = language, share
    return found


def rules_for_text(text: str) -> Rules | None:
    """The rules to read ``text`` with: its language's, the default ones when it is too short
    to tell, None when its language has no rules."""
    language = detect_language(text)
    if language == OTHER:
        return None
    return DEFAULT_RULES if language == UNKNOWN else rules_for(language)


def stop_word_share(text: str, rules: Rules = DEFAULT_RULES) -> float:
    """The share of words from the list of ``rules``, for tuning its threshold on real notes."""
    words = _words(text)
    return _share(words, rules) if words else 0.0


def _words(text: str) -> list[str]:
    return [word.casefold() for word in _WORD.findall(text)]


def _share(words: list[str], rules: Rules) -> float:
    return sum(word in rules.STOP_WORDS for word in words) / len(words)


for _rules in _REGISTERED:
    register_rules(_rules)
