"""Everything English-specific the knowledge rules need: word lists, the patterns made of
them, templates, verb forms.

The other modules of this package hold no English word: they read the names defined here from
the rules of a document's language (:func:`.language.rules_for`), so another language is one
more module with the same names, registered in :mod:`.language`. The lists are short on
purpose: they cover ordinary personal notes (family histories, meeting notes, supplier lists),
and a rule that does not fire only means one fewer question, never a wrong one. Patterns that
hold words are compiled here, built with :func:`.patterns.alternation`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .patterns import alternation


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _capitalised(words: Iterable[str]) -> str:
    """An alternation of ``words`` with a capital first letter, as month names are written."""
    return alternation(word.capitalize() for word in words)


LANGUAGE = "en"

# ---------------------------------------------------------------------------------------------
# Language detection: the commonest English function words. Ordinary English prose has about a
# third of its words in this list; German or French prose shares only a handful ("in", "a").
STOP_WORDS = _words("""
    the a an and or but of to in on at for with from by about as into than then so if
    is are was were be been being am has have had do does did will would can could should
    i me my we us our you your he him his she her they them their it its this that these
    those there here what which who whom when where why how not no all also just very
    after before over under again some any each every more most other such only own same
    too up down out off while because until during between both few many much""")

#: At least this share of a document's words in :data:`STOP_WORDS` means English.
STOP_WORD_SHARE = 0.15

# ---------------------------------------------------------------------------------------------
# Sentence splitting.

#: Abbreviations always followed by more of the same sentence ("Dr. Lund", "St. Olaf").
TITLE_ABBREVIATIONS = _words("""dr mr mrs ms mx prof rev st mt ft sgt capt gen col lt sr jr
                                 e.g i.e cf vs approx dept est fig no nos p pp vol ca c""")
#: Of those, the ones that stay inside a sentence only before a number ("no. 12", "p. 4").
NUMBER_ABBREVIATIONS = _words("no nos p pp vol fig ca c approx")
#: Abbreviations that may end a sentence: a split only when a usual sentence start follows.
SOMETIMES_FINAL_ABBREVIATIONS = _words("""etc a.m p.m am pm inc ltd co corp bros jan feb mar
                                           apr jun jul aug sep sept oct nov dec""")
#: A line starting like this is a list item: "- chairs", "* tables", "• cups", "3) plates".
BULLET_PATTERN = re.compile(r"^\s*(?:[-*•–—+▪◦·]|\d{1,2}[.)])\s+")
#: A line ending in one of these words continues on the next line (hard-wrapped prose).
CONTINUING_WORDS = _words("""a an the and or but of to in on at for with from by my our his
                             her their its your this that as into than""")

# ---------------------------------------------------------------------------------------------
# Words that start sentences without being names: function words, time words, common verbs
# used as commands in notes ("Call Anna Berg"), and common openers.
COMMON_CAPITALISED = STOP_WORDS | _words("""
    i'm i've i'd i'll it's that's there's we're we've let's don't can't won't
    yesterday today tomorrow tonight later soon now first second third next last finally
    however meanwhile afterwards also still anyway besides instead otherwise perhaps maybe
    usually always never sometimes often once twice since though although whether yet
    almost about around above below along among per via please thanks thank yes okay ok
    dear hi hello note notes remember reminder ps total everyone everybody someone somebody
    nobody nothing something everything anything both several either neither another
    one two three four five six seven eight nine ten last next this every each
    call bring buy ask check book order pick send email phone text tell get make take put pay
    visit meet invite collect return cancel confirm see find keep give let try use ring
    write read print sort plan fix clean cook bake paint plant water feed walk drive""")

# ---------------------------------------------------------------------------------------------
# Dates.
MONTHS = ("january february march april may june july august september october november "
          "december").split()
MONTH_ABBREVIATIONS = "jan feb mar apr jun jul aug sep sept oct nov dec".split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
SEASONS = "spring summer autumn fall winter".split()
HOLIDAYS = ("Christmas Eve", "Christmas Day", "Christmas", "Easter Sunday", "Easter",
            "New Year's Eve", "New Year's Day", "Midsummer Eve", "Midsummer", "Thanksgiving",
            "Halloween", "Boxing Day", "Hanukkah", "Diwali", "Eid", "Whitsun", "Pentecost")
#: Qualifiers kept inside a date span: "early March", "the end of May", "mid-July".
DATE_QUALIFIERS = ("the beginning of", "the start of", "the middle of", "the end of", "early",
                   "late", "mid-", "mid")
#: Words that make the following weekday or month part of the date span: "every Tuesday".
DATE_DETERMINERS = ("every", "each", "next", "last", "this")
#: A bare four-digit number after one of these is a year ("in 1987", "since 2019").
YEAR_PREPOSITIONS = _words("""in on at since until till by from of during before after around
                              about circa c. early late mid year spring summer autumn fall
                              winter through between and to""")
EARLIEST_YEAR, LATEST_YEAR = 1500, 2099
TIME_SUFFIXES = ("a.m.", "p.m.", "am", "pm", "o'clock")
TIME_WORDS = ("noon", "midday", "midnight")
#: Prepositions dropped when a date is replaced by "when" ("moved in 1987" -> "moved when").
DATE_PREPOSITIONS_DROPPED_FOR_WHEN = _words("in on at during")
#: Prepositions before a date that a direct "When ...?" question cannot carry ("since 2019").
DATE_PREPOSITIONS_NOT_ASKED_WITH_WHEN = _words("since until by before after from")
#: "7.30" after one of these is a time, and a decimal otherwise.
TIME_PREPOSITIONS = _words("at by until till from before after around about")
#: A month named alone is a date after one of these ("in May"), where it cannot be "may".
LONE_MONTH_PREPOSITIONS = _words("""in since until till by during before after of from through
                                    early late mid every each next last this""")
ORDINAL_SUFFIXES = ("st", "nd", "rd", "th")

_MONTH = rf"(?:{_capitalised(MONTHS)}|{_capitalised(MONTH_ABBREVIATIONS)}\.?)"
_FULL_MONTH = _capitalised(MONTHS)
_DAY = rf"(?:[12]\d|3[01]|0?[1-9]){alternation(ORDINAL_SUFFIXES)}?\b"
_YEAR = r"(?:1[5-9]\d\d|20\d\d)\b"
_WEEKDAY = _capitalised(WEEKDAYS)
_QUALIFIER = (rf"(?:{alternation(q for q in DATE_QUALIFIERS if not q.endswith('-'))}\s+"
              rf"|{alternation(q for q in DATE_QUALIFIERS if q.endswith('-'))})?")
_DETERMINER = rf"(?:(?i:{alternation(DATE_DETERMINERS)})\s+)"
_SEASON = alternation(SEASONS)
_TIME_SUFFIX = rf"(?:\s*{alternation(TIME_SUFFIXES)}(?!\w))"

#: Dates and times as English writes them ("14 March 1931", "March 14th", "every Tuesday
#: morning", "the spring of 1998", "7:30 pm"); the longest match wins.
DATE_PATTERNS = tuple(re.compile(pattern) for pattern in (
    rf"(?:{_WEEKDAY},?\s+)?(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?",
    rf"(?:{_WEEKDAY},?\s+)?{_MONTH}\s+(?:the\s+)?{_DAY}(?:,?\s+{_YEAR})?",
    rf"{_QUALIFIER}{_MONTH}(?:\s+of)?,?\s+{_YEAR}",
    rf"(?:the\s+)?(?:first|second|third|fourth|last)\s+{_WEEKDAY}\s+of\s+(?:every|each|the)"
    rf"\s+month\b",
    rf"{_DETERMINER}?{_WEEKDAY}s?(?:\s+(?:morning|afternoon|evening|night|noon|lunchtime))?\b",
    rf"(?:the\s+)?{_QUALIFIER}{_SEASON}\s+(?:of\s+)?{_YEAR}",
    r"the\s+(?:early\s+|late\s+|mid-)?(?:1[5-9]|20)\d0s\b",
    rf"{_DETERMINER}?{alternation(HOLIDAYS)}\b",
    r"\b\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})\b",
    r"\b\d{4}-\d{2}-\d{2}\b",
    rf"\b(?:[01]?\d|2[0-3]):[0-5]\d{_TIME_SUFFIX}?",
    rf"\b(?:1[0-2]|0?[1-9])(?:\.[0-5]\d)?{_TIME_SUFFIX}",
))
#: A month named alone ("March", "early June", "every May").
LONE_MONTH = re.compile(rf"{_QUALIFIER}{_DETERMINER}?{_FULL_MONTH}\b")
#: A month and "and" or "or" before another month: "May or " of "in May or June".
MONTH_AND_BEFORE = re.compile(rf"{_FULL_MONTH},?\s+(?:and|or)\s+$")
#: A year, with its qualifier ("early 1987").
QUALIFIED_YEAR = re.compile(rf"{_QUALIFIER}{_YEAR}")
TIME_WORD = re.compile(rf"\b{alternation(TIME_WORDS)}\b")
#: What joins two dates into one answer to "when": "Tuesdays and Fridays", "Tuesdays, Fridays".
DATE_JOINER = re.compile(r",?\s+(?:and|or)\s+|,\s+")
#: Words of a written date that say nothing by themselves, for comparing dates in a reply.
DATE_NOISE = frozenset({"the", "of", "in", "on", "at", "early", "late", "mid", "beginning",
                        "start", "middle", "end", "am", "pm", "a", "m", "p", "o", "clock", "and",
                        "or", *DATE_DETERMINERS})
#: "14th" in a reply: the day and its ordinal suffix.
ORDINAL = re.compile(rf"^(\d+){alternation(ORDINAL_SUFFIXES)}$")
_MONTH_NAMES = {month[:3]: month for month in MONTHS} | {"sept": "september"}


def month_named(word: str) -> str | None:
    """The full month a lowercase word names ("mar", "march", "sept" -> ...), or None."""
    if word.rstrip(".") in MONTHS or word in MONTH_ABBREVIATIONS:
        return _MONTH_NAMES[word[:4] if word.startswith("sept") else word[:3]]
    return None


def plural_stem(word: str) -> str:
    """``word`` without a plural "s", for comparing "Tuesdays" with "Tuesday"."""
    return word.rstrip("s")


# ---------------------------------------------------------------------------------------------
# Numbers.
NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "thousand": 1000, "dozen": 12, "million": 1_000_000,
}
#: Only for reading a number in a reply ("one" is too often not a count to find it in notes).
ANSWER_ONLY_NUMBER_WORDS = {"one": 1, "zero": 0, "a dozen": 12, "a hundred": 100}
MULTIPLIERS = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "dozen": 12}
CURRENCY_SYMBOLS = "$€£¥"
CURRENCY_WORDS = _words("""euro euros dollar dollars pound pounds kronor krona kroner krone
                           crowns francs franc yen rupees rupee cents pence kr sek nok dkk eur
                           usd gbp chf""")
#: Units after which "how much" reads right ("3 kg of flour" -> "how much flour").
MASS_AND_VOLUME_UNITS = _words("""kg kilo kilos kilograms kilogram g grams gram mg tonnes
                                  tons ton lb lbs pounds ounces oz l litres liters litre liter
                                  ml dl cl gallons gallon pints pint cups cup tablespoons
                                  teaspoons tbsp tsp""")
UNITS = MASS_AND_VOLUME_UNITS | _words("""km kilometres kilometers kilometre kilometer m metres
                                          meters metre meter cm mm miles mile feet foot ft
                                          inches inch yards hectares hectare acres acre sq
                                          hours hour minutes minute seconds days weeks months
                                          years kw kwh mph km/h""")
#: Containers and measures that take "of": "two bags of soil".
MEASURE_NOUNS = UNITS | _words("""bags bag boxes box crates crate bottles bottle jars jar sacks
                                  sack packs pack packets packet loaves loaf pairs pair rolls
                                  roll sheets slices pieces buckets trays cans tins cartons
                                  rows beds plots dozen""")
PERCENT_WORDS = ("percent", "per cent")
#: Words after which a number ends: never the counted noun.
NOT_A_COUNTED_NOUN = STOP_WORDS | _words("""yesterday today tomorrow ago later earlier each
                                           apiece total altogether times more less""")
#: Plural nouns without a final "s" ("12 people").
PLURAL_WITHOUT_S = _words("""people children men women geese sheep fish teeth feet mice kids
                             staff cattle deer police""")
#: Counted nouns that "old" may follow: "nine years old".
AGE_NOUNS = _words("years months weeks days")
AGE_AFTER = re.compile(r"\s+old\b")
#: The preposition that links a measure or a place noun to what it names: "3 kg of flour",
#: "the village of Kvarnholm".
LINKING_PREPOSITION = "of"
#: What a measure is of: one or two words after "of" ("3 kg of flour", "2 bags of potting soil").
MEASURE_OF = re.compile(r"\s+of(\s+[a-z][\w'’-]*)(\s+[a-z][\w'’-]*)?")
#: The article that may stand for "one" in a number ("a hundred"), and the word joining the
#: parts of one ("two hundred and five").
NUMBER_ARTICLE, NUMBER_JOINER = "a", "and"
#: Words after a numeral written in digits that multiply it ("1.2 million", "$3bn").
NUMERAL_SUFFIX_MULTIPLIERS = (("million", 1_000_000), ("thousand", 1000), ("bn", 1_000_000_000))
#: A number in digits as English writes it: "1,200", "3.5", "42".
NUMERAL = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
#: A numeral standing as a word of its own (not part of "12th", "$40" or "3.5.1").
BARE_NUMERAL = re.compile(rf"(?<![\w.,$€£¥])(?:{NUMERAL})(?![\w%])(?!\.\d)")
MONEY_BEFORE = re.compile(rf"[{re.escape(CURRENCY_SYMBOLS)}]\s?(?:{NUMERAL})"
                          r"(?:\s?(?:million|thousand|bn|k)\b)?")
MONEY_AFTER = re.compile(rf"\b(?:{NUMERAL})\s?(?:(?:million|thousand)\s)?"
                         rf"{alternation(CURRENCY_WORDS)}\b", re.IGNORECASE)
PERCENT = re.compile(rf"\b(?:{NUMERAL})\s?(?:%|{alternation(PERCENT_WORDS)}\b)")
_SPELLED_TENS = alternation(w for w, v in NUMBER_WORDS.items() if 20 <= v < 100)
_SPELLED_UNITS = alternation(w for w, v in NUMBER_WORDS.items() if 2 <= v < 10)
#: A number in words: "forty-two", "a dozen", "three hundred".
SPELLED_NUMBER = re.compile(
    rf"\b(?:a\s+(?:dozen|hundred|thousand)|{_SPELLED_TENS}(?:-{_SPELLED_UNITS})?"
    rf"|{alternation(w for w, v in NUMBER_WORDS.items() if v < 20)})"
    rf"(?:\s+(?:hundred|thousand|dozen))?\b", re.IGNORECASE)
#: The numeral and the counted noun of a number span: "42 folding chairs", "a dozen eggs".
NUMBER_PARTS = re.compile(
    r"([$€£¥]?\s?[\d.,]+(?:\s?(?:million|thousand|bn|k)\b)?%?|a\s+\w+|[\w-]+"
    r"(?:\s+(?:hundred|thousand|dozen))?)\s*(.*)", re.IGNORECASE)


def is_plural(word: str) -> bool:
    """Whether a lowercase noun is a plural ("chairs", "people"; not "glass" or "bus")."""
    return word in PLURAL_WITHOUT_S or (word.endswith("s") and not word.endswith(("ss", "us",
                                                                                   "'s", "’s")))


# ---------------------------------------------------------------------------------------------
# Names, people and places.
#: Joining words inside a name, kept only between two capitalised words.
NAME_CONNECTORS = _words("of de del della di da du van von der den la le y &")
#: Capitalised titles that make a name a person ("Dr. Lund", "Aunt Ingrid").
PERSON_TITLES = _words("""dr dr. mr mr. mrs mrs. ms ms. mx miss prof prof. professor sir dame
                          lady lord aunt auntie uncle grandma grandpa granny grandad nana
                          cousin rev rev. captain capt. pastor""")
#: A lowercase word before a name that makes it a person ("my cousin Elin").
KINSHIP_WORDS = _words("""grandmother grandfather grandma grandpa granny grandad mother father
                          mum mom dad aunt uncle cousin brother sister son daughter wife
                          husband partner niece nephew friend neighbour neighbor colleague
                          boss teacher doctor dentist grandson granddaughter stepmother
                          stepfather stepson stepdaughter godmother godfather fiancé fiancée
                          fiance fiancee girlfriend boyfriend landlord landlady chef owner
                          manager accountant plumber vet mentor coach contact baker
                          secretary treasurer chair chairwoman chairman president member
                          mechanic electrician carpenter gardener driver nurse""")
#: Determiners that may open the noun phrase of a kinship word ("his wife, Marguerite").
KINSHIP_DETERMINERS = _words("my our his her their your the")
#: Nouns ending in "-ly" (other "-ly" words after a name are adverbs: "speaks Norwegian fluently").
NOT_ADVERBS_LY = _words("family lily jelly belly rally ally holly folly reply supply assembly")
#: Verbs whose object is a person ("met Tom", "married Priya Raman").
PERSON_OBJECT_VERBS = _words("""met meet meets married marry marries phoned phone rang emailed
                               texted told tell tells asked ask asks invited invite thanked
                               hugged helped help helps hired hire hires""")
#: Words after which a name is what something is called ("a spaniel called Pepparkaka").
NAMING_WORDS = _words("called named nicknamed titled")
#: Capitalised words that make a name a geographic place.
GEOGRAPHIC_WORDS = _words("""street st road rd avenue ave lane drive square park lake river
                             mount mountain mountains hill hills island islands isle bay beach
                             coast valley forest woods bridge city town village county
                             harbour harbor port fort north south east west new san santa los
                             las saint sankt upper lower fjord sound peninsula canal gate""")
#: Capitalised words that make a name an institution or business, never a person.
ORGANISATION_WORDS = _words("""college university school academy church cathedral chapel
                               hospital clinic library museum station airport hall centre
                               center market mill farm hotel inn café cafe restaurant theatre
                               theater stadium gardens garden conservatoire conservatory
                               institute ltd inc ab as gmbh co company corp rentals supplies
                               supply bakery club society association group team band trust
                               foundation bank brothers bros shop store studio press books
                               kitchen dairy nursery partners services council office sons
                               daughters tents marquees candles crafts goods foods motors
                               builders flowers designs wines apiary brewery vineyard orchard
                               pottery print prints works workshop garage salon pharmacy
                               surgery agency plc llc associates trading imports hire catering
                               logistics electrics plumbing landscapes nurseries kitchens tiles
                               timber systems solutions studios media bakeries""")
#: Prepositions after which a name is a place.
PLACE_PREPOSITIONS = _words("""in at on to from near into outside inside across towards toward
                               via through beyond around""")
#: Of those, the ones dropped when the place is replaced by "where" ("lives in Oslo" -> "lives
#: where"); the others stay ("moved to where").
PLACE_PREPOSITIONS_DROPPED_FOR_WHERE = _words("in at on")
#: "to"/"from" name a place after these words, and usually a person otherwise.
MOTION_WORDS = _words("""moved move moving went go going goes flew fly drove drive travelled
                        traveled travel returned return came come comes walked emigrated
                        relocated trip journey way road train flight bus ferry back home
                        sailed cycled commute commutes commuted ride rode visit visited
                        arrived shipped delivered sent imported bought""")
#: Lowercase nouns of "the village of Kvarnholm" (asked as "which village").
PLACE_NOUNS = _words("""village town city island county region province state country parish
                       valley district harbour harbor port hamlet municipality suburb
                       neighbourhood neighborhood""")
#: Capitalised words that never start a name.
NEVER_NAMES = frozenset(MONTHS) | frozenset(WEEKDAYS) | _words("i i'm i've i'd i'll")
DEFINITE_ARTICLE = "the"
ARTICLES = ("the", "a", "an")
#: "to" and "from" name a place after :data:`MOTION_WORDS`, and usually a person otherwise.
MOTION_PREPOSITIONS = _words("to from")
#: The possessive ending of a name: "Anna's" (:data:`POSSESSIVE_END`), or the "'s" right after
#: a name (:data:`POSSESSIVE_AFTER`).
POSSESSIVE_END = re.compile(r"['’]s$")
POSSESSIVE_AFTER = re.compile(r"^['’]s\b")
#: "great-" of "great-aunt" and "great-great-grandmother".
GREAT_PREFIXES = re.compile(r"^(?:great-)+")
#: The words before a name that its "who" replaces too: "my cousin", "Anna's great-aunt",
#: "his wife," (ending where the name starts).
KINSHIP_BEFORE = re.compile(
    rf"(?:(?<![\w-])(?:{alternation(KINSHIP_DETERMINERS)}|[^\W\d_]+['’]s)\s+"
    rf"(?:[a-z]+\s+)?)?(?<![\w-])(?:great-)*{alternation(KINSHIP_WORDS)},?\s+$",
    re.IGNORECASE)
#: "my aunt " opening a sentence, before the name it introduces.
KINSHIP_START = re.compile(rf"^(?:My|Our|His|Her|Their) (?:[a-z]+ )?{alternation(KINSHIP_WORDS)} ")
#: "the village of " before a place: asked as "which village".
PLACE_NOUN_BEFORE = re.compile(rf"\b(?:the\s+)?({alternation(PLACE_NOUNS)})\s+of\s+$",
                               re.IGNORECASE)


def keeps_capital(word: str) -> bool:
    """Whether ``word`` is written with a capital wherever it stands: "I", "I'm", "I’ve"."""
    return word == "I" or word.startswith(("I'", "I’"))


def looks_like_adverb(word: str) -> bool:
    """Whether a lowercase word after a name is an adverb ("speaks Norwegian fluently")."""
    return word.endswith("ly") and word not in NOT_ADVERBS_LY


# ---------------------------------------------------------------------------------------------
# Verbs.
AUXILIARIES = _words("""is was were are am be been has had have will would can could should
                       must may might did does do shall said says""")
COPULAS = _words("is was are were")
#: Irregular past tense -> base form ("Where did Anna go?").
IRREGULAR_PAST = {
    "went": "go", "came": "come", "met": "meet", "bought": "buy", "brought": "bring",
    "took": "take", "gave": "give", "made": "make", "found": "find", "left": "leave",
    "sold": "sell", "built": "build", "grew": "grow", "ran": "run", "won": "win",
    "spent": "spend", "paid": "pay", "kept": "keep", "taught": "teach", "wrote": "write",
    "drove": "drive", "flew": "fly", "began": "begin", "got": "get", "had": "have",
    "said": "say", "told": "tell", "sent": "send", "lent": "lend", "held": "hold",
    "knew": "know", "saw": "see", "sang": "sing", "swam": "swim", "rode": "ride",
    "chose": "choose", "became": "become", "fell": "fall", "felt": "feel", "led": "lead",
    "lost": "lose", "heard": "hear", "thought": "think", "caught": "catch", "stood": "stand",
    "sat": "sit", "slept": "sleep", "woke": "wake", "wore": "wear", "drew": "draw",
    "threw": "throw", "broke": "break", "spoke": "speak", "ate": "eat", "drank": "drink",
    "shut": "shut", "put": "put", "set": "set", "cut": "cut", "let": "let", "hit": "hit",
    "read": "read", "dealt": "deal", "meant": "mean", "understood": "understand",
    "forgot": "forget", "hid": "hide", "bit": "bite", "dug": "dig", "fed": "feed",
    "fought": "fight", "hung": "hang", "laid": "lay", "lit": "light", "rang": "ring",
    "rose": "rise", "shook": "shake", "shot": "shoot", "sought": "seek", "struck": "strike",
    "swept": "sweep", "tore": "tear", "wept": "weep", "wound": "wind", "froze": "freeze",
    "stole": "steal", "bred": "breed", "fled": "flee", "wed": "wed", "overtook": "overtake",
    "rebuilt": "rebuild", "withdrew": "withdraw", "undertook": "undertake",
}
#: Words ending in "-ed" that are not a past tense.
NOT_PAST_ED = _words("""need feed seed speed bed red shed sled weed bleed breed greed deed heed
                       proceed succeed exceed indeed naked sacred wicked hundred kindred
                       beloved shred sped creed reed steed tweed embed""")
#: Regular verbs whose base form ends in "e" where the spelling rules below cannot tell.
BASE_FORMS_ENDING_IN_E = _words("""create invite unite excite recite complete delete compete
                                   phone dine combine define line shine tune zone hope shape
                                   type escape tape wipe change arrange exchange challenge
                                   range scale inhale exhale file smile rule schedule console
                                   write quote vote note promote devote compute execute
                                   salute""")
#: Regular "-ed" stems that must not get an "e" back ("developed" -> "develop").
BASE_FORMS_NOT_ENDING_IN_E = _words("""develop gallop visit edit limit exit credit vomit honor
                                       color favor labor mirror monitor anchor tutor author
                                       sponsor mentor pivot open listen happen travel cancel
                                       label model signal total equal pedal""")

# ---------------------------------------------------------------------------------------------
# Restating: phrases that may move between the front and the end of a sentence.
#: A leading phrase ending in a comma may start with one of these ("In March 2019, ...").
LEADING_PHRASE_STARTERS = _words("""in on at during after before since until by last every each
                                   next this early late yesterday today tomorrow when while
                                   once because although though around from""")
#: A main clause holding one of these words is not reordered: the meaning could shift.
SCOPE_WORDS = _words("""that which who whom whose because if when while said says told would
                       and but or so although though until before after since unless where""")
#: "where ... near" and "when ... on" read wrong: an embedded question is not made then.
PREPOSITIONS_NOT_STRANDED_AFTER_WHERE_OR_WHEN = _words("near in at on during around")
#: Forms of "be" before a passive participle ("was founded by"), and the modals that may come
#: before them ("will be cooked by").
PASSIVE_AUXILIARIES = _words("is was are were be been being")
MODAL_AUXILIARIES = _words("will would can could should may might must shall")
#: Pronouns that point back to something named before ("Their account manager is ..."): a
#: sentence opening with one is quoted with the sentence before it.
BACK_POINTING_PRONOUNS = _words("they them their theirs she her hers he him his it its")
#: What the pronouns a sentence leans on may point to (:mod:`.coreference`): a person, or a
#: firm or other name. "it" and "its" are not resolved.
PERSON_PRONOUNS = _words("she her hers he him his")
NAME_PRONOUNS = _words("they them their theirs")
#: Pronouns that name their owner's possession ("their account manager"). "Her" is one only
#: opening a sentence: "We sent her flowers" and "We bought her Volvo" cannot be told apart.
POSSESSIVE_PRONOUNS = _words("their theirs his hers")
#: People a sentence may speak of without naming them: "she" after one of these may be that
#: person, not the one named (besides KINSHIP_WORDS).
UNNAMED_PERSON_NOUNS = _words("""man woman men women boy girl lady gentleman child children baby
                                person people friend friends neighbour neighbor colleague boss
                                manager owner accountant teacher doctor nurse vet lawyer driver
                                assistant builder plumber electrician cleaner chef cook waiter
                                student tenant landlord landlady partner client customer guest""")
#: Nouns a count may have that "they" cannot be ("six weeks" is not "they"; "40 tins" may be).
DURATION_NOUNS = _words("""second seconds minute minutes hour hours day days week weeks month
                          months year years decade decades""")
#: The possessive written after a name: "Carla's", and "Brennan & Sons’" after an s.
POSSESSIVE_SUFFIX = "’s"
POSSESSIVE_AFTER_S = "’"


def possessive_of(name: str) -> str:
    """The possessive of ``name``: "Carla Brennan’s", "Brennan & Sons’"."""
    return name + (POSSESSIVE_AFTER_S if name.endswith("s") else POSSESSIVE_SUFFIX)


#: A later clause whose subject is one of these, after a comma and one of the joiners, is asked
#: with the person named before it ("..., and she prefers" -> "Carla Brennan prefers").
PERSON_SUBJECT_PRONOUNS = _words("she he")
CLAUSE_JOINERS = _words("and but so while")
#: Relative pronouns whose clause may be restated as a sentence of its own (:mod:`.relative`).
RELATIVE_PRONOUNS = _words("who which")
#: Words that open a plain noun phrase ("the club", "our labels").
DETERMINERS = _words("the a an my our his her their your its this that these those every each")
#: These prepositions read wrong left before more words ("where meetings are held in the back
#: room of on Wexley Road"); at the end they may stay ("who the van belongs to"), and "to" and
#: "from" may stay anywhere ("where she moved to in 2019").
NOT_STRANDED_MID_CLAUSE = _words("of in on at for with near about into like")
#: An embedded question stops before a phrase that opens with one of these and names another
#: span ("when the reunion will take place", not "... at Birchwood Farm near Hexham").
PHRASE_OPENERS = _words("""with at on in near for after before by from including under along to
                           during until since because if when while into""")
#: Words before a number that its question words replace too ("nearly 46 guests" -> "how many
#: guests"); "about", "around" and "over" only where they cannot be a preposition or particle:
#: opening the sentence or after one of APPROXIMATE_AFTER ("we expect about 46 guests", not
#: "we argued about 2 invoices").
APPROXIMATORS = _words("roughly nearly almost approximately some")
LOOSE_APPROXIMATORS = _words("about around over")
APPROXIMATE_AFTER = _words("""is are was were be been has have had expect expects expected cost
                             costs take takes took weigh weighs for of with""")
#: An embedded question is not made from a clause opening with one of these (an imperative:
#: "who please send your replies to").
IMPERATIVE_OPENERS = _words("please do don't let")
#: A trailing date after one of these may move to the front ("... in 1987." -> "In 1987, ...").
TRAILING_DATE_PREPOSITIONS = _words("in on during since until by around")
#: A leading clause opened by one of these may move to the end with its verb.
SUBORDINATORS = _words("when while once because although though after before since until if")
#: A main clause opening with one of these keeps the phrase before it in front.
MAIN_CLAUSE_OPENERS_KEPT = SCOPE_WORDS | _words("then yet")
#: Determiners opening both sides of an apposition ("His wife, Marguerite Ferrand, ...").
APPOSITION_DETERMINERS = ("my", "our", "his", "her", "their", "the", "a", "an")
APPOSITION = re.compile(rf"^({alternation(APPOSITION_DETERMINERS)}\b[^,]{{2,40}}), "
                        r"([^,]{2,60}), ", re.IGNORECASE)
#: A place phrase ending a sentence may move to the front after one of these ("At Hallskär, ...").
FRONTED_PLACE_PREPOSITIONS = ("in", "at", "near")
FRONTED_PLACE_START = re.compile(rf"\b({alternation(FRONTED_PLACE_PREPOSITIONS)})\s+"
                                 r"(?:the\s+\w+\s+of\s+|the\s+)?$")

# ---------------------------------------------------------------------------------------------
# Clauses: where the clause holding a span starts and ends, and the words around a span that its
# question words replace.
COORDINATION = re.compile(r",\s+(?:and|but|so|yet)\s+|;\s+")
SUBORDINATION = re.compile(
    r",\s+(?:who|which|where|while|whose|when|if|because|although|though)\b"
    r"|\s+(?:because|if|although|unless)\s+")
#: A relative clause inside commas: ", who runs the farm,".
EMBEDDED_RELATIVE = re.compile(r",\s+(?:who|which|whose)\b[^,;]*,(?=\s)")
STRANDED_AFTER_WHERE_OR_WHEN = re.compile(
    rf"\b{alternation(PREPOSITIONS_NOT_STRANDED_AFTER_WHERE_OR_WHEN)}\s*$", re.IGNORECASE)
#: Where a shortened embedded question may stop: a comma or a joined clause.
SHORT_QUESTION_CUT = re.compile(rf",|\s+{alternation(CLAUSE_JOINERS)}\s+")
_OPENERS = alternation(PHRASE_OPENERS)
#: A phrase leading up to another span ("at Birchwood Farm"), ending where that span starts.
PHRASE_BEFORE_SPAN = re.compile(
    rf"\s+{_OPENERS}\s+(?:{alternation(DETERMINERS)}\s+)?(?:(?!{_OPENERS}\s)[a-z]+\s+){{0,2}}$")
NEGATION = re.compile(r"\b(?:not|never|no)\b|n['’]t\b", re.IGNORECASE)
#: "the " right before a span, replaced with it by a question word.
ARTICLE_BEFORE = re.compile(r"\bthe\s+$", re.IGNORECASE)
#: The passive "<participle> by " before the doer ("founded by Henrik Salo").
PARTICIPLE_BY = re.compile(r"(\w+)\s+by\s+$", re.IGNORECASE)
FORM_OF_BE = re.compile(rf"\b{alternation(PASSIVE_AUXILIARIES)}\b\s*", re.IGNORECASE)
MODAL_AT_END = re.compile(rf"\s+{alternation(MODAL_AUXILIARIES)}$", re.IGNORECASE)
#: Everything up to the start of the last clause ("..., and", "... that").
CLAUSE_START = re.compile(r"^.*(?:[,;:]|\b(?:and|but|so|that|which|who)\b)\s*", re.IGNORECASE)
#: A relative clause after a name: ", who deliver 300 kg of soy wax".
RELATIVE_CLAUSE = re.compile(rf",\s+({alternation(RELATIVE_PRONOUNS)})\s+([^,;.!?]+)")
#: The relative pronoun of people (and of firms acting as people): "who", not "which".
PERSON_RELATIVE_PRONOUN = "who"
#: Nothing but a place preposition between a name and a place ("Brennan & Sons in Leeds").
PLACE_PREPOSITION_ONLY = re.compile(rf"^\s+{alternation(PLACE_PREPOSITIONS)}\s+$", re.IGNORECASE)
#: A pronoun that may point back to a sentence before.
BACK_POINTING_PRONOUN = re.compile(rf"\b{alternation(BACK_POINTING_PRONOUNS)}\b", re.IGNORECASE)
#: "Her" is possessive only opening a sentence ("We sent her flowers" could be either).
SENTENCE_OPENING_POSSESSIVES = _words("her")
#: "they're", "she'll": a pronoun with a contraction after it.
CONTRACTION_AFTER = re.compile(r"['’]\w")
#: "Their account manager is Carla Brennan": the forms of "be" that say who a noun is.
IDENTIFYING_COPULAS = ("is", "was")
#: ", and she" opening a later clause, "she" captured.
CLAUSE_SUBJECT_PRONOUN = re.compile(
    rf",\s+(?:{alternation(CLAUSE_JOINERS)}\s+)?\b({alternation(PERSON_SUBJECT_PRONOUNS)})\b"
    r"(?=\s+[a-z])")
#: "and", "or" in a list ("apples, pears and plums"), and between a list's items in a reply.
LIST_CONJUNCTION = re.compile(r"\s(?:and|or)\s")
LIST_CONJUNCTIONS = ("and", "or")
LIST_ITEM_SEPARATOR = re.compile(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+")
#: Pronouns that may end a list ("Anna, Tom and me").
OBJECT_PRONOUNS = _words("me us him her them myself")

# ---------------------------------------------------------------------------------------------
# Direct questions (:mod:`.inversion`).
#: Where the clause of a simple subject-verb sentence ends.
DIRECT_QUESTION_CLAUSE_END = re.compile(
    r";|,\s+(?:and|but|which|where|who|while|so)\b|\s+but\s+|\s+because\s+"
    r"|\s+(?:after|before|when|while|until|since|if|although|though|once)\s+"
    r"(?:i|we|he|she|they|you|it|her|his|their|our|my|the|a|an|this|that)\s")
#: Determiners that open a plain subject ("The delivery van").
SUBJECT_DETERMINERS = _words("my our his her their your its the a an")
#: A verb after "and": the sentence goes on with a second clause ("... and opened a bakery").
AND_THEN_WORD = re.compile(r"\s+and\s+(\w+)")
#: The span is one of several things ("bought 40 chairs and 6 tables").
ONE_OF_SEVERAL_BEFORE = re.compile(r"(?:\band|,)\s*$")
ONE_OF_SEVERAL_AFTER = re.compile(r"\s*(?:and\b|,\s*\w+\s+and\b)")
#: "was born", asked "When was Astrid born?".
BIRTH_AUXILIARIES = _words("was were")
BORN = "born"
FUTURE_AUXILIARY = "will"
#: A preposition (and "the") before a span; and one before "the village of".
PREPOSITION_BEFORE = re.compile(r"\b(\w+)\s+(?:the\s+)?$")
PREPOSITION_BEFORE_PLACE_NOUN = re.compile(r"\b(?:(\w+)\s+)?(?:the\s+)?\w+\s+of\s+$")
#: Kept at the end of a "where" question: "Where did Anna come from?".
ORIGIN_PREPOSITION = "from"
#: "for 12 years" is asked "How many years ...?" with "for" replaced too.
DURATION_PREPOSITION = "for"
DURATIONS_ASKED_WITH_FOR = _words("years months weeks days hours minutes")
#: Prepositions a person's "who" question may leave at the end ("Who does it belong to?").
STRANDABLE_PREPOSITIONS = _words("to with for from by")

# ---------------------------------------------------------------------------------------------
# Templates. Training forms and quiz forms use different wordings, so a quiz question never
# repeats a training question.
WH_PERSON, WH_PLACE, WH_DATE, WH_THING = "who", "where", "when", "what"
WH_POSSESSIVE = "whose"
WH_PEOPLE_LIST = "which people"
WH_PLACE_NOUN = "which {noun}"
WH_COUNT = "how many {noun}"
WH_AMOUNT = "how much {noun}"
WH_PERCENT = "what percentage"
NOTES_ABOUT_TEMPLATE = "What do my notes say about {name}?"
FACTS_ABOUT_TEMPLATE = "List the facts about {name}."
TELL_ME_ABOUT_TEMPLATE = "Tell me about {name}."
#: Lead-ins for embedded questions ("Can you tell me who the van belongs to?"), one per
#: example, chosen by the seed.
EMBEDDED_QUESTION_TEMPLATES = ("Do you know {question}?", "Can you tell me {question}?",
                               "Remind me {question}.", "I forgot {question}. Can you help?")
FILL_BLANK_TEMPLATE = "In my notes: “{sentence}” What is missing?"
BLANK = "___"
DID_TEMPLATE = "{wh} did {subject} {verb}{rest}?"
DOES_TEMPLATE = "{wh} does {subject} {verb}{rest}?"
DO_TEMPLATE = "{wh} do {subject} {verb}{rest}?"
INVERTED_TEMPLATE = "{wh} {auxiliary} {subject}{rest}?"
DOCUMENT_FALLBACK_TITLE = "document {number}"
NOTE_OTHER_LANGUAGE = ("“{title}” looks like it is not in English: it is trained as raw text "
                       "only, without questions.")
NOTE_NO_FACTS_IN_DOCUMENT = ("“{title}” has no sentence with a name, place, date or number "
                             "that a question could ask for: it is trained as raw text only.")
NOTE_NO_FACTS_AT_ALL = ("No sentence in your documents has a name, place, date or number that a "
                        "question could ask for: training uses the raw text only.")

#: Subject pronouns a direct question may keep ("Where did we meet?"), lowercased inside it.
SUBJECT_PRONOUNS = _words("i we he she they you")
#: Subjects that take "do" rather than "does" in the present tense.
PLURAL_SUBJECT_PRONOUNS = _words("i we they you")


def verb_base_form(past: str) -> str | None:
    """The base form of a past-tense verb ("married" -> "marry"), or None when ``past`` is not one.

    Irregular verbs come from :data:`IRREGULAR_PAST`; regular ones follow the spelling rules
    (doubled consonants, "-ied", a silent "e" after the usual endings), with the short exception
    lists above for the cases the rules get wrong.
    """
    word = past.lower()
    if word in IRREGULAR_PAST:
        return IRREGULAR_PAST[word]
    if not word.endswith("ed") or word in NOT_PAST_ED or len(word) < 4:
        return None
    if word.endswith("eed") and not word.endswith("eeed"):
        return word[:-1]  # agreed -> agree, freed -> free
    if word.endswith("ied") and len(word) > 4:
        return word[:-3] + "y"
    stem = word[:-2]
    if stem in BASE_FORMS_NOT_ENDING_IN_E:
        return stem
    if stem + "e" in BASE_FORMS_ENDING_IN_E:
        return stem + "e"
    if (len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] in "bdgmnprt"):
        return stem[:-1]  # planned -> plan, stopped -> stop; "added" keeps "add"
    if stem.endswith("ell") and len(stem) >= 6:
        return stem[:-1]  # travelled -> travel
    if _needs_silent_e(stem):
        return stem + "e"
    return stem


def is_past_tense(word: str) -> bool:
    """Whether ``word`` is a past tense: an irregular one, or a regular "-ed" form."""
    return word in IRREGULAR_PAST or (word.endswith("ed") and verb_base_form(word) is not None)


_VOWELS = "aeiouy"


def _needs_silent_e(stem: str) -> bool:
    """Whether a regular past-tense stem lost a final "e" ("mov" -> "move", "nam" -> "name")."""
    last, before = stem[-1], stem[-2] if len(stem) > 1 else ""
    third = stem[-3] if len(stem) > 2 else ""
    if last in "vuzc" and not stem.endswith(("ck", "zz")):
        return True
    if stem.endswith(("bl", "tl", "dl", "pl", "gl", "kl", "cl", "fl", "zl", "rg", "ns", "rs",
                      "ps", "ib")):
        return True
    single_vowel = before in _VOWELS and third not in _VOWELS and third != ""
    if last == "s" and before in _VOWELS and not stem.endswith("ss"):
        return True  # used, closed, raised, promised
    if single_vowel and last in "kmd":
        return True  # baked, named, decided
    if single_vowel and last == "g" and before != "n":
        return True  # managed
    if single_vowel and last == "r" and before in "aiou":
        return True  # shared, hired, stored, cured
    if single_vowel and last == "t" and before in "aou":
        return True  # donated, voted, computed
    if single_vowel and last == "l" and before in "iuo":
        return True  # smiled, ruled
    if single_vowel and stem.endswith("un"):
        return True  # pruned, tuned
    return False


def present_base_form(verb: str) -> str | None:
    """The base form of a third-person present verb ("teaches" -> "teach"), or None."""
    word = verb.lower()
    if word in ("has", "does", "goes", "is"):
        return {"has": "have", "does": "do", "goes": "go", "is": None}[word]
    if len(word) < 4 or not word.endswith("s") or word.endswith(("ss", "us", "is", "'s")):
        return None
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return word[:-2]
    return word[:-1]
