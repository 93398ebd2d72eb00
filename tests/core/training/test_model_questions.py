"""Questions an instruction-tuned model writes itself: passages, parsing, grounding."""

from __future__ import annotations

from slmdesk.core.training.model_questions import estimate_seconds, grounded, parse_pairs, passages


def test_passages_follow_paragraphs_and_cut_long_ones_at_sentence_ends():
    short = "First paragraph.\n\nSecond paragraph."
    assert passages([short], size=100) == ["First paragraph.\n\nSecond paragraph."]
    assert passages([short], size=20) == ["First paragraph.", "Second paragraph."]
    long = " ".join(f"Sentence number {i} is here." for i in range(40))
    parts = passages([long], size=200)
    assert all(len(p) <= 200 for p in parts) and all(p.endswith(".") for p in parts)
    assert " ".join(parts) == long
    assert passages(["", "  \n\n "]) == []


def test_parse_pairs_keeps_well_formed_questions_only():
    reply = ("Sure! Here are the questions.\n1. Q: Where does Anna live?\nA: In Tromsø.\n\n"
             "Q: Anna's cat\nA: Mons\n"  # not a question
             "q: When did she move?\na: In March 2019.\nSome closing chatter.")
    assert parse_pairs(reply) == [("Where does Anna live?", "In Tromsø."),
                                  ("When did she move?", "In March 2019.")]
    assert parse_pairs("I cannot help with that.") == []


def test_answers_must_come_from_the_passage():
    passage = "Anna Berg moved to Tromsø in March 2019 with her cat Mons."
    assert grounded("In Tromsø", passage)
    assert grounded("March 2019.", passage)
    assert not grounded("She moved to Oslo because of her new job", passage)
    assert not grounded("", passage)


def test_estimate_grows_with_the_text():
    one = estimate_seconds(["word " * 300])
    assert 0 < one < estimate_seconds(["word " * 3000])
