"""Language detection by the share of English function words."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmdesk.core.knowledge import detect_language

BENCH = Path(__file__).parents[3] / "bench" / "knowledge_notes"

OTHER_LANGUAGES = [
    "Meine Großmutter Astrid wurde am 14. März 1931 in Kvarnholm geboren. Sie arbeitete dreißig "
    "Jahre lang als Leuchtturmwärterin auf Hallskär. Jeden Sommer treffen wir uns an der Mühle.",
    "Ma grand-mère Astrid est née le 14 mars 1931 à Kvarnholm, sur l’île d’Orust. Elle a "
    "travaillé trente ans comme gardienne de phare. Chaque été, nous nous retrouvons au moulin.",
    "Mijn grootmoeder Astrid is geboren op 14 maart 1931 in Kvarnholm. Zij werkte dertig jaar "
    "als vuurtorenwachter op Hallskär. Elke zomer komen wij samen bij de oude molen.",
    "Min mormor Astrid föddes den 14 mars 1931 i Kvarnholm på Orust. Hon arbetade i trettio år "
    "som fyrvaktare på Hallskär. Varje sommar träffas vi vid den gamla kvarnen.",
]


@pytest.mark.parametrize("text", OTHER_LANGUAGES)
def test_other_languages(text):
    assert detect_language(text) == "other"


@pytest.mark.parametrize("name", ["note_1.txt", "note_2.txt", "note_3.txt"])
def test_english_notes(name):
    assert detect_language((BENCH / name).read_text(encoding="utf-8")) == "en"


def test_too_short_to_tell():
    assert detect_language("Anna Berg, Tromsø, 2019") == "unknown"
    assert detect_language("") == "unknown"
