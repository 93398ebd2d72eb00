"""The first start: the Chat page with the instruct starter, who it is, and three examples."""

from __future__ import annotations

import pytest

from slmdesk.ui.app import MainWindow
from slmdesk.ui.chat.welcome import EXAMPLE_PROMPTS

pytestmark = pytest.mark.slow


@pytest.fixture
def first_window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1180, 720)
    win.show()
    with qtbot.waitSignal(win.starter_task.signals.succeeded, timeout=120_000):
        pass
    yield win
    win.close()
    win.library.close()


def test_the_first_start_opens_chat_with_the_instruct_starter_and_examples(qtbot, first_window):
    chat = first_window.chat_view
    assert first_window.pages.currentWidget() is chat
    assert chat.header.model_picker.currentText() == "SmolLM2 135M Instruct"
    welcome = chat.welcome
    assert chat.thread_pages.currentWidget() is welcome
    assert welcome.title_label.text() == "You are chatting with SmolLM2 135M Instruct"
    assert "answers questions" in welcome.about_label.text()
    assert [b.text() for b in welcome.example_buttons] == list(EXAMPLE_PROMPTS)
    assert all(b.isVisible() for b in welcome.example_buttons)
    assert not welcome.notebook_button.isVisible()

    with qtbot.waitSignal(chat.session.reply_finished, timeout=240_000) as finished:
        welcome.example_buttons[2].click()  # "What is the opposite of hot?"
    reply = chat.store.message(finished.args[0])
    assert reply.status == "complete" and reply.content.strip()
    assert chat.thread_pages.currentWidget() is chat.message_list
    assert chat.store.thread(chat.conversation_id)[0].content == EXAMPLE_PROMPTS[2]


def test_a_base_model_is_offered_the_notebook_instead(qtbot, first_window):
    chat = first_window.chat_view
    gemma = next(e for e in first_window.library.models() if e.display_name == "Gemma 3 270M")
    chat.start_conversation(gemma.id)
    welcome = chat.welcome
    assert chat.thread_pages.currentWidget() is welcome
    assert "base model" in welcome.about_label.text() and "continues the text" in \
        welcome.about_label.text()
    assert welcome.notebook_button.isVisible()
    assert not any(b.isVisible() for b in welcome.example_buttons)
    with qtbot.waitSignal(welcome.notebook_requested) as asked:
        welcome.notebook_button.click()
    assert asked.args == [gemma.id]
    assert first_window.pages.currentWidget() is first_window.notebook_view


def test_a_second_start_stays_where_it_was(qtbot, first_window, slmdesk_home):
    again = MainWindow()
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.starter_task.signals.succeeded, timeout=120_000):
        pass
    assert again.pages.currentWidget() is again.library_view
    again.close()
    again.library.close()


def test_the_wizard_proposes_the_measured_starter_and_the_notebook_the_base_one(first_window):
    from slmdesk.core.library.starters import ROLE_ORDER, StarterRole

    library = first_window.library
    proposed = first_window.finetune_page.wizard.model_page.selected_model()
    assert proposed is not None and proposed.path.name == ROLE_ORDER[StarterRole.TRAINING][0].file_name
    notebook = first_window.notebook_view.model_picker
    base = library.starter(StarterRole.NOTEBOOK)
    assert not base.info.is_chat_model and notebook.currentText().startswith(base.display_name)
