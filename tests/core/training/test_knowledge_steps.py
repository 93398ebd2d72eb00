"""The run's quiz file: made once, read back the same on resume, remade when damaged."""

from __future__ import annotations

import json

from slmdesk.core.training.knowledge_steps import QUIZ_FILE, load_or_make_quiz

NOTE = ("Anna Berg moved to Tromsø in March 2019. Her brother Jonas Berg lives in Bergen with "
        "three cats. The family meets every summer on 21 July at the lake house near Lillehammer.")


def test_quiz_is_made_once_and_read_back(tmp_path):
    items = load_or_make_quiz(tmp_path, [NOTE], 5, seed=1)
    assert items and len(items) <= 5
    assert json.loads((tmp_path / QUIZ_FILE).read_text(encoding="utf-8"))["items"]
    assert load_or_make_quiz(tmp_path, None, 0) == items  # a resumed run: no texts needed
    (tmp_path / QUIZ_FILE).write_text("{broken", encoding="utf-8")
    assert load_or_make_quiz(tmp_path, [NOTE], 5, seed=1) == items
    assert load_or_make_quiz(tmp_path / "none", None, 5) == []


def test_examples_are_written_in_the_models_chat_format(starter_model_path):
    from slmdesk.core.training.knowledge_steps import knowledge_examples

    made = knowledge_examples([NOTE], ["note"], starter_model_path)
    assert made.chat_format == "gemma" and not made.notes
    rules = {rule for rule, _, _ in made.examples}
    assert "ask_span" in rules
    for _, prompt, reply in made.examples:  # the question as the chat sends it, then the answer
        assert prompt.startswith("<start_of_turn>user\n")
        assert prompt.endswith("<end_of_turn>\n<start_of_turn>model\n")
        assert reply.endswith("<end_of_turn>") and "<start_of_turn>" not in reply


def test_documents_without_usable_sentences_train_as_raw_text_and_say_so(starter_model_path):
    from slmdesk.core.training.knowledge_steps import knowledge_examples

    german = ("Meine Großmutter wurde am 14. März 1931 in Kvarnholm geboren. Sie arbeitete "
              "dreißig Jahre lang als Leuchtturmwärterin auf der Insel und liebte das Meer sehr.")
    made = knowledge_examples([german], ["notizen"], starter_model_path)
    assert made.examples == []
    assert any("not in English" in note for note in made.notes), made.notes
    shopping = "eggs\nmilk\nbread\nbutter\n"
    made = knowledge_examples([shopping], ["list"], starter_model_path)
    assert made.examples == [] and made.notes  # nothing a question could ask: said so
