"""Documents in the Chat page: attaching and indexing collections, the sources under a reply, and
a real answer from a document through the real engine."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel, QPushButton

from slmdesk.core.conversations.store import Message
from slmdesk.ui.chat.messages import MessageView, MessageWidget
from slmdesk.ui.chat.sources import PassageDialog
from tests.ui.chat.test_view import close_window, configure, open_window, send_and_wait


def _folder(tmp_path, files: int = 2):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "light.txt").write_text("Notes on the lighthouse.\n\nThe lighthouse keeper is called Agnes "
                                      "Moreau. She has kept the light since 1998.\n", encoding="utf-8")
    for number in range(files - 1):
        (folder / f"other_{number:03}.txt").write_text(f"Other note {number} about bread.", encoding="utf-8")
    (folder / "empty.md").write_text("", encoding="utf-8")
    return folder


def _index(qtbot, button, name, paths):
    task = button.create_collection(name, paths)
    assert task is not None
    with qtbot.waitSignal(task.signals.succeeded, timeout=60_000) as done:
        pass
    return done.args[0]


def test_a_folder_becomes_a_collection_attached_to_the_chat(qtbot, tmp_path):
    win = open_window(qtbot)
    try:
        chat = win.chat_view
        button = chat.documents_button
        messages: list[tuple[str, str]] = []
        button.message.connect(lambda text, kind, details: messages.append((text, kind)))
        reports = _index(qtbot, button, "Town notes", [str(_folder(tmp_path, files=100))])
        assert len(reports[0].added) == 100 and reports[0].skipped[0].path.name == "empty.md"
        assert button.text() == "Documents (1)" and button.progress_dialog is None
        assert "Not indexed: empty.md (The file is empty.)" in messages[-1][0]
        conv = chat.store.get(chat.conversation_id)
        assert conv.settings["documents"] == [button.attached[0]]
        # Sampling edits keep the attachment; the menu shows it checked.
        chat.settings_panel.temperature.setValue(0.3)
        assert chat.store.get(chat.conversation_id).settings["documents"] == button.attached
        button.rebuild_menu()
        checked = [a.text() for a in button.menu_.actions() if a.isCheckable() and a.isChecked()]
        assert checked == ["Town notes  \u00b7  100 files, 1 unreadable"]
        assert button.create_collection("town NOTES", []) is None
        assert messages[-1] == ("There is already a collection named \u201ctown NOTES\u201d.", "error")
        # Unchecking detaches it from this conversation; a new chat starts without documents.
        next(a for a in button.menu_.actions() if a.isCheckable()).setChecked(False)
        assert chat.store.get(chat.conversation_id).settings["documents"] == []
        assert button.text() == "Documents"
    finally:
        close_window(win)


def test_cancel_in_the_progress_dialog_stops_the_indexing(qtbot, tmp_path):
    win = open_window(qtbot)
    try:
        button = win.chat_view.documents_button
        task = button.create_collection("notes", [str(_folder(tmp_path, files=100))])
        assert button.progress_dialog is not None
        button.progress_dialog.findChild(QPushButton).click()  # its Cancel button
        assert task.cancelled
        with qtbot.waitSignal(task.signals.succeeded, timeout=60_000):
            pass
        collection = button.index.get("notes")
        assert collection.status in ("interrupted", "ready")  # "ready" if it finished first
        assert button.task is None
    finally:
        close_window(win)


def _reply(metadata: dict) -> MessageWidget:
    msg = Message(id=7, conversation_id=1, parent_id=6, role="assistant", content="Agnes Moreau [1].",
                  status="complete", created_at="", updated_at="", metadata=metadata)
    return MessageWidget(MessageView(msg, 0, (7,), "SmolLM2"))


def test_sources_under_a_reply_open_their_passage(qtbot):
    source = {"file_name": "light.txt", "place": "line 1", "path": "/notes/light.txt",
              "text": "The lighthouse keeper is called Agnes Moreau."}
    widget = _reply({"documents_mode": "search", "sources": [source, {**source, "place": "line 9"}]})
    qtbot.addWidget(widget)
    widget.show()
    assert widget.sources.isVisible() and widget.sources.label.text() == "Sources:"
    assert [b.text() for b in widget.sources.buttons] == ["[1] light.txt, line 1", "[2] light.txt, line 9"]
    widget.sources.buttons[0].click()
    dialog = widget.sources.findChild(PassageDialog)
    assert dialog is not None and dialog.text.toPlainText() == source["text"]
    assert dialog.windowTitle() == "Source [1]: light.txt"
    none = _reply({"documents_mode": "none", "sources": []})
    qtbot.addWidget(none)
    assert none.sources.label.text() == "Sources: no relevant passages in the attached documents"
    assert _reply({}).sources.isHidden()


@pytest.mark.slow
def test_a_reply_answers_from_a_document_and_cites_it(qtbot, tmp_path):
    from slmdesk.core.library.starters import _smollm2_file

    win = open_window(qtbot, _smollm2_file())
    try:
        chat = win.chat_view
        configure(chat, max_tokens=40)
        _index(qtbot, chat.documents_button, "notes", [str(_folder(tmp_path))])
        reply_id = send_and_wait(qtbot, chat, "Who is the lighthouse keeper?")
        reply = chat.store.message(reply_id)
        assert reply.status == "complete" and "Agnes" in reply.content
        assert reply.metadata["documents_mode"] == "whole"
        widget = chat.message_list.widget_for(reply_id)
        # Pasted whole with a note about bread, but only the lighthouse note is its source.
        assert [b.text() for b in widget.sources.buttons] == ["[1] light.txt, line 1"]
        assert len(reply.metadata["given"]) == 2
        widget.grab().save(str(tmp_path / "reply.png"))
    finally:
        close_window(win)


def test_sources_show_the_numbers_cited_and_mark_an_invented_one(qtbot):
    from slmdesk.core.documents.citations import reply_sources

    given = [{"file_name": name, "place": "line 1", "path": f"/notes/{name}", "text": f"About {name}.",
              "relevant": name == "light.txt"} for name in ("bread.txt", "light.txt")]
    cited = _reply({"documents_mode": "whole", **reply_sources("Agnes Moreau [2], since 1998 [5].", given)})
    qtbot.addWidget(cited)
    assert cited.sources.label.text() == "Sources:"
    assert [b.text() for b in cited.sources.buttons] == ["[2] light.txt, line 1"]  # [5] is no link
    assert cited.sources.invented is not None
    assert cited.sources.invented.text() == "[5] in the reply cites no passage it was given"
    uncited = _reply({"documents_mode": "whole", **reply_sources("Agnes Moreau.", given)})
    qtbot.addWidget(uncited)
    assert uncited.sources.label.text() == "Not cited, but relevant:"
    assert [b.text() for b in uncited.sources.buttons] == ["[2] light.txt, line 1"]
    assert uncited.sources.invented is None


def test_a_source_under_a_heading_names_it_in_the_button_and_the_passage(qtbot, tmp_path):
    """#18: a citation names the place, a page or a heading; here a real Markdown file indexed and
    searched, its passage under "Garden <east side>" (a heading is text, never markup)."""
    from slmdesk.core import db
    from slmdesk.core.documents.citations import reply_sources
    from slmdesk.core.documents.grounding import find_grounding
    from slmdesk.core.documents.index import DocumentIndex
    from slmdesk.paths import app_paths

    folder = tmp_path / "house"
    folder.mkdir()
    (folder / "house.md").write_text("# House\n\nWe moved in during May.\n\n## Garden <east side>\n\nThe roses "
                                     "need pruning in March.\n", encoding="utf-8")
    conn = db.connect(app_paths().database)
    try:
        index = DocumentIndex(conn)
        collection = index.create("house", [folder])
        index.update("house")
        grounding = find_grounding(conn, [collection.id], "When do the roses need pruning?",
                                   budget_characters=4000)
    finally:
        conn.close()
    widget = _reply({"documents_mode": grounding.mode, **reply_sources("In March [2].", grounding.sources_json())})
    qtbot.addWidget(widget)
    assert [b.text() for b in widget.sources.buttons] == ["[2] house.md, \u201cGarden <east side>\u201d, line 5"]
    widget.sources.buttons[0].click()
    dialog = widget.sources.findChild(PassageDialog)
    label = dialog.findChild(QLabel)
    assert label.text() == "<b>house.md</b>, \u201cGarden &lt;east side&gt;\u201d, line 5"
    assert dialog.text.toPlainText() == "Garden <east side> The roses need pruning in March."


def test_every_unreadable_file_is_listed_in_the_notice_details(qtbot, tmp_path):
    """The notice names the first five files that could not be read; its Details (a scrolling
    text) hold every one, with its full path and reason."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "light.txt").write_text("The lighthouse keeper is called Agnes Moreau.", encoding="utf-8")
    for number in range(8):
        (folder / f"broken_{number}.pdf").write_bytes(b"not a pdf at all")
    win = open_window(qtbot)
    try:
        chat = win.chat_view
        reports = _index(qtbot, chat.documents_button, "notes", [str(folder)])
        assert len(reports[0].skipped) == 8
        notice = chat.notice
        assert notice.kind == "error"
        assert notice.text.count("(The PDF is damaged") == 5
        assert "and 3 more (Details lists them all)" in notice.text
        assert notice.details_button.isVisible()
        notice.details_button.click()
        assert notice.details_view.isVisible()
        details = notice.details_view.toPlainText()
        assert details.startswith("8 files could not be read:")
        for number in range(8):
            assert f"{folder / f'broken_{number}.pdf'}\n    The PDF is damaged: it does not start like a PDF file." \
                in details
    finally:
        close_window(win)


def test_chat_with_a_fine_tune_attaches_the_documents_it_was_tuned_on(qtbot, tmp_path):
    from slmdesk.core.documents.taught import taught_collection_name
    from slmdesk.core.training.job import TrainingJob
    from slmdesk.core.training.runs import RunStore
    from tests.gguf_factory import write_tiny_adapter, write_tiny_model

    win = open_window(qtbot)
    try:
        chat, library = win.chat_view, win.library
        chat.session.available_memory = lambda: 1  # no engine: the attachment is the point here
        model = library.import_file(write_tiny_model(tmp_path / "m.gguf", name="Tiny Llama"), link=True)
        adapter = library.import_file(write_tiny_adapter(tmp_path / "a.gguf"), link=True,
                                      base_model_id=model.id)
        stray = library.import_file(write_tiny_adapter(tmp_path / "b.gguf", lora_alpha=8.0), link=True,
                                    base_model_id=model.id)
        folder, lost = _folder(tmp_path), tmp_path / "deleted-since.txt"
        runs = RunStore(library.conn, chat.paths)
        run = runs.create(TrainingJob(base_model_path=str(tmp_path / "m.gguf"),
                                      documents=[str(folder), str(lost)]))
        runs.update(run.id, status="finished", adapter_model_id=adapter.id)
        button = chat.documents_button
        messages: list[str] = []
        button.message.connect(lambda text, kind, details: messages.append(text))

        win.open_chat(model.id, adapter.id)  # the wizard's and the Runs list's "Chat with it"
        qtbot.waitUntil(lambda: button.task is None, timeout=60_000)
        name = taught_collection_name(adapter.display_name)
        collection = button.index.get(name)
        assert collection.files == 2 and button.attached == [collection.id]
        assert chat.store.get(chat.conversation_id).settings["documents"] == [collection.id]
        assert name in messages[-1] and "Detach them" in messages[-1]  # still said once indexed
        assert chat.notice.text == messages[-1]

        # Chatting with it again reuses the collection; an adapter from elsewhere attaches none.
        chat.new_conversation()
        win.open_chat(model.id, adapter.id)
        qtbot.waitUntil(lambda: button.task is None, timeout=60_000)
        assert [c.name for c in button.index.collections()] == [name]
        assert button.attached == [collection.id]
        chat.new_conversation()
        win.open_chat(model.id, stray.id)
        assert button.attached == [] and chat.store.get(chat.conversation_id).settings.get("documents") in (None, [])
    finally:
        close_window(win)


def test_no_collection_is_made_when_the_tuning_documents_are_gone(tmp_path):
    from slmdesk.core import db
    from slmdesk.core.documents.index import DocumentIndex
    from slmdesk.core.documents.taught import taught_collection
    from slmdesk.paths import app_paths

    paths = app_paths()
    paths.ensure()
    index = DocumentIndex(db.connect(paths.database))
    assert taught_collection(index, "My notes", [str(tmp_path / "gone.txt")]) is None
    assert index.collections() == []
    note = tmp_path / "note.txt"
    note.write_text("A note.", encoding="utf-8")
    first = taught_collection(index, "My  notes", [str(note)])
    assert first is not None and first.name == "Taught to My notes"
    other = tmp_path / "more.txt"
    other.write_text("More.", encoding="utf-8")
    again = taught_collection(index, "My notes", [str(note), str(other)])
    assert again is not None and again.id == first.id and len(again.sources) == 2
