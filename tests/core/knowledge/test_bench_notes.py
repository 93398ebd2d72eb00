"""The hand-written benchmark notes and their questions, and the general-knowledge pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmdesk.core.knowledge import split_sentences

ROOT = Path(__file__).parents[3]
BENCH = ROOT / "bench" / "knowledge_notes"
RESOURCES = ROOT / "slmdesk" / "resources"
QUESTIONS = json.loads((BENCH / "questions.json").read_text(encoding="utf-8"))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_each_note_is_a_page_with_ten_questions_and_completions(name):
    text = (BENCH / name).read_text(encoding="utf-8")
    assert 160 <= len(text.split()) <= 260
    assert 10 <= len(split_sentences(text)) <= 18
    entry = QUESTIONS[name]
    assert len(entry["questions"]) == 10 and len(entry["completions"]) == 10
    for question in entry["questions"]:
        assert question["question"].endswith("?") and question["accept"]
        assert any(answer in flat(text) for answer in question["accept"]), question


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_completions_are_prefixes_followed_by_their_answer(name):
    text = flat((BENCH / name).read_text(encoding="utf-8"))
    for completion in QUESTIONS[name]["completions"]:
        prefix = completion["prefix"]
        assert prefix in text, prefix
        continuation = text[text.index(prefix) + len(prefix):][:40]
        assert any(answer in continuation for answer in completion["accept"]), completion


def test_general_pages_are_distinct():
    anchor = split_sentences((RESOURCES / "general_anchor.txt").read_text(encoding="utf-8"))
    evaluation = split_sentences((RESOURCES / "general_eval.txt").read_text(encoding="utf-8"))
    assert 170 <= len(" ".join(anchor).split()) <= 240
    assert 170 <= len(" ".join(evaluation).split()) <= 240
    assert not set(anchor) & set(evaluation)
