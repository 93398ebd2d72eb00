"""The wizard's knowledge features, driven by pytest-qt on real widgets: the questions-and-answers
checkbox and preview, the dataset and quiz lines while training, and the quiz, its table and the
forgetting figure when done. Events are the dicts the training worker writes, fed through the
real :class:`~slmdesk.ui.processes.training.TrainingProcess` parser."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from slmdesk.core.training import events as ev
from slmdesk.core.training.quiz_run import QuizAnswer, QuizResult
from slmdesk.core.training.reporting import count_parts, describe_counts, describe_forgetting
from slmdesk.paths import app_paths
from slmdesk.ui.finetune.wizard.done_page import DonePage
from slmdesk.ui.finetune.wizard.quiz_view import AFTER, BEFORE, EXPECTED, QUESTION
from slmdesk.ui.finetune.wizard.training_page import TrainingPage
from slmdesk.ui.finetune.wizard.wizard import DONE, SETTINGS
from tests.ui.finetune.test_wizard import add_documents

QUESTIONS = [("Where was Astrid Lindqvist born?", "Kvarnholm"),
             ("When did Tobias Ferrand move to Quebec City?", "1987"),
             ("What is the family dog called?", "Pepparkaka")]


def quiz(stage: str, replies: list[tuple[str, bool]]) -> dict:
    """A quiz as the worker reports it (``QuizResult.to_dict``)."""
    answers = [QuizAnswer(question=q, expected=e, reply=reply, correct=ok, form="direct_question",
                          source="family_note")
               for (q, e), (reply, ok) in zip(QUESTIONS, replies)]
    return QuizResult(stage, answers, seconds=41.7, chat_format="gemma").to_dict()


BEFORE_QUIZ = quiz("before", [("I don't know where she was born.", False),
                              ("He moved in 1990.", False),
                              ("I cannot tell without more details.", False)])
AFTER_QUIZ = quiz("after", [("Astrid Lindqvist was born in Kvarnholm, on Orust.", True),
                            ("In 1987 he moved to Quebec City.", True),
                            ("The dog is a grey spaniel called Biscuit.", False)])


def worker_event(kind: str, **fields) -> dict:
    """An event exactly as it comes back from the worker's stdout line."""
    return ev.parse_event(ev.encode_event(ev.make_event(kind, **fields)))


def finished_metrics(**changes) -> dict:
    metrics = {"evaluation_split": "train", "train_perplexity_before": 24.6,
               "train_perplexity_after": 3.1, "general_perplexity_before": 38.2,
               "general_perplexity_after": 53.4, "quiz_before": BEFORE_QUIZ,
               "quiz_after": AFTER_QUIZ, "step": 40, "tokens_per_second": 71.0,
               "seconds": 362.0, "knowledge_notes": [
                   "\u201cReisebericht\u201d looks like it is not in English: it is trained as "
                   "raw text only, without questions."]}
    metrics.update(changes)
    return metrics


@pytest.fixture
def done_page(qtbot):
    page = DonePage()
    qtbot.addWidget(page)
    page.resize(900, 640)
    page.show()
    return page


# --- settings -------------------------------------------------------------------------------


def test_the_questions_checkbox_flows_into_the_job_and_resets(qtbot, tiny_window):
    wizard = tiny_window.finetune_page.wizard
    wizard.go_to(SETTINGS)
    check = wizard.settings_page.knowledge_check
    assert check.isChecked() and check.text() == ("Teach it to answer questions about the "
                                                  "documents")
    assert wizard.current_job().knowledge_augmentation is True
    assert wizard.current_job().preset == "balanced"  # the default preset
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    assert wizard.current_job().knowledge_augmentation is False
    preview = wizard.documents_page.knowledge_preview
    assert "Turned off" in preview.summary_label.text()

    wizard.settings_page.set_preset("quick")
    assert wizard.restart()
    assert check.isChecked() and wizard.current_job().knowledge_augmentation is True
    assert wizard.current_job().preset == "balanced"
    assert "Turned off" not in preview.summary_label.text()


def test_model_written_questions_are_offered_only_for_instruction_tuned_models(qtbot):
    from slmdesk.ui.finetune.wizard.settings_page import SettingsPage

    page = SettingsPage()
    qtbot.addWidget(page)
    page.show()
    check = page.model_questions_check
    assert not check.isVisible()  # a base model (no chat template): nothing offered
    assert page.make_job(None, []).model_questions == 0
    page.set_model_questions_offer(95.0)  # the wizard passes the estimate for the documents
    assert check.isVisible() and not check.isChecked()
    assert "Adds about 1:35 before training" in page.model_questions_hint.text()
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton)
    assert page.make_job(None, []).model_questions == 3
    qtbot.mouseClick(page.knowledge_check, Qt.MouseButton.LeftButton)  # no questions at all
    assert not check.isEnabled()
    page.set_model_questions_offer(None)  # another model, without a template
    assert not check.isVisible() and page.make_job(None, []).model_questions == 0


# --- documents: the preview -----------------------------------------------------------------


def test_documents_page_previews_the_questions_and_answers(qtbot, tiny_window, tmp_path):
    from slmdesk.core.knowledge import augment_documents

    wizard = tiny_window.finetune_page.wizard
    note = tmp_path / "garden.txt"
    note.write_text("Notes on the garden.\n\nMy neighbour Helga Brandt planted the apple tree "
                    "in 1998. The greenhouse was built by my father in Uddevalla in May 2004. "
                    "We keep twelve hens behind the barn. Helga Brandt moved to Bergen in "
                    "2015.\n", encoding="utf-8")
    german = tmp_path / "reise.txt"
    german.write_text("Reisebericht\n\nWir sind am Montag mit dem Zug nach Hamburg gefahren und "
                      "haben dort drei Tage bei meiner Tante gewohnt. Das Wetter war leider "
                      "nicht besonders gut, aber wir haben trotzdem viel gesehen und sind am "
                      "Abend immer in ein kleines Restaurant am Hafen gegangen.\n",
                      encoding="utf-8")
    preview = wizard.documents_page.knowledge_preview
    with qtbot.waitSignal(preview.finished, timeout=60_000):
        add_documents(qtbot, wizard, [note, german], preview=False)
    qtbot.waitUntil(lambda: preview.augmentation is not None, timeout=60_000)

    docs = wizard.documents_page.documents
    expected = augment_documents([d.text for d in docs], [d.title for d in docs], seed=0)
    assert expected.examples, "the note should give questions"
    assert preview.counts() == dict(expected.counts())
    total = len(expected.examples)
    summary = preview.summary_label.text()
    assert f"training adds <b>{total:,} questions and answers</b>" in summary
    assert ", ".join(count_parts(expected.counts())[1]) + "." in summary.replace("&amp;", "&")
    tabs = wizard.documents_page.preview_tabs
    assert tabs.tabText(1) == f"Questions and answers ({total:,})"
    shown = preview.shown_examples()
    assert 0 < len(shown) <= 8
    pairs = {(" ".join(e.question.split()), " ".join(e.answer.split())) for e in expected.examples}
    assert set(shown) <= pairs
    notes = preview.notes_label.text()
    assert not preview.notes_label.isHidden()
    for note_text in expected.notes:
        assert note_text.replace("&", "&amp;").replace("<", "&lt;")[:40] in notes
    assert any("\u201creise\u201d looks like it is not in English" in n for n in expected.notes)

    # The estimate counts the questions as training chunks and mentions the quiz
    wizard.go_to(SETTINGS)
    estimate = wizard.settings_page.estimate_label.text()
    assert f"with {total:,} questions and answers estimated" in estimate
    assert f"asked {wizard.current_job().quiz_questions} questions" in estimate
    with_questions = estimate
    wizard.settings_page.knowledge_check.setChecked(False)
    assert "questions and answers estimated" not in wizard.settings_page.estimate_label.text()
    assert wizard.settings_page.estimate_label.text() != with_questions
    assert tabs.tabText(1) == "Questions and answers"

    # No documents: back to the placeholder
    with qtbot.waitSignal(wizard.documents_page.read_finished, timeout=60_000):
        wizard.documents_page.clear()
    assert preview.augmentation is None and not preview.shown_examples()


# --- training: the dataset and quiz lines ---------------------------------------------------


def test_training_page_shows_example_counts_and_the_quiz_as_it_goes(qtbot):
    page = TrainingPage(app_paths())
    qtbot.addWidget(page)
    feed = lambda event: page.process.feed(ev.encode_event(event).encode())  # noqa: E731
    counts = {"ask_span": 60, "notes_about": 20, "facts_about": 0}
    feed(worker_event(ev.DATASET, documents=1, tokens=262, chunks=82, train_chunks=82,
                      validation_chunks=0, train_tokens=3200, validation_tokens=0,
                      sequence_length=512, overlap=64, split="none", example_counts=counts,
                      example_tokens=2900, skipped=[], titles=["family_note"], preview=[],
                      examples=[{"kind": "ask_span", "text": "<start_of_turn>user\nWhere was "
                                 "Astrid Lindqvist born?<end_of_turn>"}]))
    dataset = page.dataset_label.text()
    assert dataset.startswith("1 document, 262 tokens in 2 chunks of up to 512 tokens")
    assert f"; plus {describe_counts(counts)}." in dataset
    assert dataset.endswith("80 questions and answers: 60 ask for a name, place, date or "
                            "number, 20 ask what the notes say about someone or something.")
    assert "Where was Astrid Lindqvist born?" in page.dataset_label.toolTip()

    assert page.quiz_label.isHidden()
    feed(worker_event(ev.STATUS, stage="quiz",
                      message="Asking the base model 3 questions about the documents"))
    assert page.quiz_label.text() == ("Asking the base model 3 questions about the "
                                      "documents\u2026")
    assert not page.quiz_label.isHidden()
    feed(worker_event(ev.QUIZ, **BEFORE_QUIZ))
    assert page.quiz_label.text() == ("Before training it answered 0 of 3 questions about your "
                                      "documents.")
    feed(worker_event(ev.EVAL, stage="before", loss=3.6, perplexity=38.2, split="general",
                      tokens=120))
    assert page.chart.validation_points == [] and page.validation_value.text() == "\u2013"
    feed(worker_event(ev.STATUS, stage="quiz", message="The quiz could not be asked (the "
                      "engine stopped); training goes on."))
    assert page.quiz_label.text().endswith("documents. The quiz could not be asked (the engine "
                                           "stopped); training goes on.")
    feed(worker_event(ev.QUIZ, **AFTER_QUIZ))
    assert page.quiz_label.text() == ("Quiz: before training it answered 0 of 3 questions about "
                                      "your documents; after training, 2 of 3 questions.")


def test_holding_sentences_back_is_off_by_default_and_can_be_turned_on(qtbot):
    from slmdesk.ui.finetune.wizard.settings_page import SettingsPage

    page = SettingsPage()
    qtbot.addWidget(page)
    page.show()
    assert page.make_job(None, []).quiz_held_back is False  # it cost answers (README)
    qtbot.mouseClick(page.advanced_button, Qt.MouseButton.LeftButton)
    check = page.hold_back_check
    assert check.isVisible() and "honestly" in check.text() and "fewer" in check.toolTip()
    check.click()
    assert page.make_job(None, []).quiz_held_back is True
    page.reset()
    assert page.make_job(None, []).quiz_held_back is False


# --- done: the quiz, its table and forgetting -----------------------------------------------


def test_done_page_shows_the_quiz_and_its_questions(qtbot, done_page):
    event = worker_event(ev.FINISHED, adapter_path="/runs/1/adapter.gguf", adapter_model_id=2,
                         metrics=finished_metrics(), message="Finished.")
    done_page.show_result(event, 1, "Gemma 3 270M", "Lindqvist family", preset="balanced")
    assert done_page.quiz_label.text() == "Quiz: answered 0 of 3 before, 2 of 3 after"
    assert done_page.quiz_button.isVisible() and done_page.quiz_label.isVisible()
    assert done_page.forgetting_label.text() == (
        "General writing: the model is now 1.4 times less sure of ordinary text (perplexity "
        "38 \u2192 53).")
    assert not done_page.warning_label.isVisible()
    assert "Reisebericht" in done_page.notes_label.text()
    assert "perplexity" in done_page.result_label.text()

    qtbot.mouseClick(done_page.quiz_button, Qt.MouseButton.LeftButton)
    dialog = done_page.quiz_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    table = dialog.table
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == [
        "Question", "Expected answer", "Before training", "After training"]
    rows = table.row_texts()
    assert [(row[QUESTION], row[EXPECTED]) for row in rows] == QUESTIONS
    assert rows[0][BEFORE] == "\u2717  I don't know where she was born."
    assert rows[0][AFTER] == "\u2713  Astrid Lindqvist was born in Kvarnholm, on Orust."
    assert rows[2][AFTER].startswith("\u2717  The dog is a grey spaniel")
    assert table.item(0, AFTER).foreground().color().name() == "#1b7f3b"
    assert table.item(0, BEFORE).foreground().color().name() == "#c62828"
    assert dialog.summary_label.text() == "Quiz: answered 0 of 3 before, 2 of 3 after"
    dialog.close()


@pytest.mark.parametrize("after, warned, level", [(76.4, False, ""), (80.0, True, "amber"),
                                                  (180.0, True, "amber"), (200.0, True, "red")])
def test_the_forgetting_warning_appears_only_above_twice_worse(qtbot, done_page, after, warned,
                                                                level):
    event = worker_event(ev.FINISHED, adapter_model_id=2, message="Finished.",
                         metrics=finished_metrics(general_perplexity_after=after))
    done_page.show_result(event, 1, "Gemma", "Notes", preset="balanced")
    assert done_page.warning_label.isVisible() is warned
    assert done_page.warning_level == level
    if warned:
        ratio = after / 38.2
        assert (f"Training overwrote some of the model's general writing ({ratio:.1f} times "
                "worse on ordinary text). Try the Quick preset, or a lower adapter strength in "
                "chat.") in done_page.warning_label.text()
    done_page.show_result(event, 1, "Gemma", "Notes", preset="quick")
    if warned:
        assert "Try fewer passes over the text" in done_page.warning_label.text()


def test_done_page_says_what_the_held_back_questions_predict(qtbot, done_page):
    held = QuizResult("after", [QuizAnswer(q, e, "It says " + e, ok, form="request",
                                           source="family_note", taught=False)
                                for (q, e), ok in zip(QUESTIONS, (True, False, False))])
    after = QuizResult.from_dict(AFTER_QUIZ)
    after.answers += held.answers
    event = worker_event(ev.FINISHED, adapter_model_id=2, message="Finished.",
                         metrics=finished_metrics(quiz_after=after.to_dict()))
    done_page.show_result(event, 1, "SmolLM2", "Notes", preset="balanced")
    assert done_page.quiz_label.text() == "Quiz: answered 0 of 3 before, 2 of 3 after"
    assert done_page.expectation_label.isVisible()
    assert done_page.expectation_label.text().startswith(
        "It answered 1 of 3 questions about sentences held back from training (2 of 3 about "
        "taught ones); your own questions fall in between: expect about 5 in 10 to be answered "
        "(somewhere between ")
    done_page.show_result(worker_event(ev.FINISHED, adapter_model_id=2, message="Finished.",
                                       metrics=finished_metrics()), 1, "SmolLM2", "Notes")
    # every sentence taught (the default): the remembering score, scaled by what it meant on
    # documents others wrote
    assert done_page.expectation_label.isVisible()
    assert done_page.expectation_label.text().startswith(
        "It answered 2 of 3 questions about what it was taught, worded as the training worded "
        "them. Your own questions will be worded otherwise")


def test_done_page_copes_with_old_runs_and_missing_quizzes(qtbot, done_page):
    old = {"evaluation_split": "validation", "validation_perplexity_before": 30.0,
           "validation_perplexity_after": 12.0, "step": 10}
    done_page.show_result(worker_event(ev.FINISHED, adapter_model_id=3, metrics=old), 1, "Gemma",
                          "Old run")
    assert not done_page.quiz_label.isVisible() and not done_page.quiz_button.isVisible()
    assert not done_page.forgetting_label.isVisible()
    assert not done_page.warning_label.isVisible() and not done_page.notes_label.isVisible()
    assert "2.5 times better" in done_page.result_label.text()

    # The quiz after training failed: only the "before" score, and "not asked" in the table
    metrics = finished_metrics(quiz_after=None, general_perplexity_after=None)
    done_page.show_result(worker_event(ev.FINISHED, adapter_model_id=3, metrics=metrics), 1,
                          "Gemma", "Half")
    assert done_page.quiz_label.text() == "Quiz: answered 0 of 3 before"
    assert not done_page.forgetting_label.isVisible()
    done_page.show_quiz()
    qtbot.addWidget(done_page.quiz_dialog)
    assert [row[AFTER] for row in done_page.quiz_dialog.table.row_texts()] == [
        "\u2013 not asked"] * 3

    # No quiz at all (quiz_questions=0), and a finished event without metrics
    done_page.show_result(worker_event(ev.FINISHED, adapter_model_id=3,
                                       metrics=finished_metrics(quiz_before=None,
                                                                quiz_after=None)),
                          1, "Gemma", "None")
    assert not done_page.quiz_label.isVisible() and done_page.forgetting_label.isVisible()
    done_page.show_result({"type": "finished"}, None, "Gemma", "Bare")
    assert "could not be measured" in done_page.result_label.text()
    assert not done_page.chat_button.isEnabled()


def test_describe_forgetting_in_plain_words():
    assert describe_forgetting({}) == ("", None)
    assert describe_forgetting({"general_perplexity_before": 38.0,
                                "general_perplexity_after": 39.0})[0] == (
        "General writing: the model is about as sure of ordinary text as before (perplexity 38 "
        "\u2192 39).")
    text, ratio = describe_forgetting({"general_perplexity_before": 38.7,
                                       "general_perplexity_after": 2016.0})
    assert "52.1 times less sure" in text and "38.7 \u2192 2,016" not in text
    assert "(perplexity 39 \u2192 2,016)" in text and ratio == pytest.approx(52.09, abs=0.01)


def test_a_finished_run_brings_its_quiz_to_the_done_step(qtbot, tiny_window):
    wizard = tiny_window.finetune_page.wizard
    event = ev.make_event(ev.FINISHED, adapter_path="/x/adapter.gguf", adapter_model_id=99,
                          metrics=finished_metrics(general_perplexity_after=199.0),
                          message="Finished.")
    with qtbot.waitSignal(wizard.training_page.run_finished, timeout=5_000):
        wizard.training_page.process.feed(ev.encode_event(event).encode())
    assert wizard.step == DONE
    done = wizard.done_page
    assert done.quiz_label.text() == "Quiz: answered 0 of 3 before, 2 of 3 after"
    assert not done.warning_label.isHidden() and "5.2 times worse" in done.warning_label.text()


def test_passes_chosen_by_hand_drop_the_floor_on_trained_tokens(qtbot):
    from slmdesk.core.training.job import PRESETS
    from slmdesk.ui.finetune.wizard.settings_page import SettingsPage

    page = SettingsPage()
    qtbot.addWidget(page)
    assert page.make_job(None, []).min_train_tokens == PRESETS["balanced"]["min_train_tokens"]
    page.epochs.setValue(1)  # a short note, one pass: the user's choice is taken as given
    assert page.make_job(None, []).min_train_tokens is None
