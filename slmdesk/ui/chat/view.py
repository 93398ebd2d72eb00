"""The Chat page: conversations on the left, the thread in the middle, settings on the right.

The page only shows things and forwards what the user does: the conversation store keeps every
message, and :class:`~slmdesk.ui.chat.session.ChatSession` runs replies on the engine process,
so a model loading or a reply being written never blocks this thread. The widgets are in the
``chat_*`` modules (the header above the thread in :mod:`~slmdesk.ui.chat.header`); this one
wires them together.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from slmdesk.core.conversations.store import Conversation, ConversationStore, RecordNotFound
from slmdesk.core.documents.index import DocumentIndex
from slmdesk.core.engine.sampling import (
    chat_defaults,
    effective_settings,
    save_chat_defaults,
)
from slmdesk.core.library.starters import StarterRole
from slmdesk.core.library.store import LibraryEntry, LibraryError, ModelLibrary
from slmdesk.core.settings import get_setting, set_setting
from slmdesk.core.training.runs import RunStore
from slmdesk.paths import AppPaths
from slmdesk.ui.chat.documents import DocumentsButton
from slmdesk.ui.chat.header import ChatHeader
from slmdesk.ui.chat.messages import MessageList, thread_views
from slmdesk.ui.chat.session import ChatRefused, ChatSession
from slmdesk.ui.chat.settings import SettingsPanel
from slmdesk.ui.chat.sidebar import ConversationList
from slmdesk.ui.chat.welcome import WelcomePanel
from slmdesk.ui.chat.widgets import ActionNoticeBar, Choice, Composer, choice_key

LAST_MODEL_KEY = "chat_last_model"


class ChatView(QWidget):
    """Chat with the models of the library; every conversation is kept."""

    def __init__(self, library: ModelLibrary, paths: AppPaths,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.paths = paths
        self.store = ConversationStore(library.conn)
        self.store.recover_interrupted()  # replies cut off by a crash in an earlier run
        self.session = ChatSession(self.store, library, paths, self)
        self.conversation_id: int | None = None

        self.conversations = ConversationList(self.store)
        self.conversations.conversation_selected.connect(self.open_conversation)
        self.conversations.new_requested.connect(self.new_conversation)
        self.conversations.conversation_deleted.connect(self._conversation_deleted)

        self.header = ChatHeader()
        self.header.model_picker.activated.connect(self._model_chosen)
        self.header.adapter_strength.scale_changed.connect(self._adapter_scale_changed)
        self.documents_button = DocumentsButton(DocumentIndex(library.conn), paths)
        self.documents_button.attached_changed.connect(self._documents_attached)
        self.header.top_row.insertWidget(self.header.top_row.count() - 1, self.documents_button)

        self.notice = ActionNoticeBar()
        self.notice.action_triggered.connect(self.restart_engine)
        self.documents_button.message.connect(self.notice.show_message)
        self.message_list = MessageList()
        self.message_list.regenerate_requested.connect(self.regenerate)
        self.message_list.edit_submitted.connect(self.edit_message)
        self.message_list.branch_requested.connect(self.show_alternative)
        self.welcome = WelcomePanel()
        self.welcome.prompt_chosen.connect(self.send_text)
        self.thread_pages = QStackedWidget()
        self.thread_pages.addWidget(self.message_list)
        self.thread_pages.addWidget(self.welcome)
        self.settings_panel = SettingsPanel()
        self.settings_panel.hide()
        self.settings_panel.changed.connect(self._settings_edited)
        self.settings_panel.save_defaults_requested.connect(self._save_defaults)
        self.settings_panel.restore_defaults_requested.connect(self._restore_defaults)
        self.header.settings_button.toggled.connect(self.settings_panel.setVisible)

        self.composer = Composer()
        self.composer.setPlaceholderText("Type a message. Enter sends, Shift+Enter adds a line.")
        self.composer.setFixedHeight(76)
        self.composer.submitted.connect(self.send)
        self.composer.stop_requested.connect(self.stop)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the reply (Escape); what was written is kept")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        composer_row = QHBoxLayout()
        composer_row.addWidget(self.composer, 1)
        composer_row.addLayout(buttons)

        middle = QVBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(self.header)
        middle.addWidget(self.notice)
        middle.addWidget(self.thread_pages, 1)
        middle.addLayout(composer_row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.conversations)
        layout.addLayout(middle, 1)
        layout.addWidget(self.settings_panel)

        for keys, slot in ((QKeySequence(Qt.Key.Key_Escape), self.stop),
                           (QKeySequence(QKeySequence.StandardKey.New), self.new_conversation)):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        self.session.state_changed.connect(self._state_changed)
        self.session.model_loaded.connect(self._update_header)
        self.session.reply_changed.connect(self._reply_changed)
        self.session.reply_finished.connect(self._reply_finished)
        self.session.problem.connect(self._problem)
        self.session.engine_crashed.connect(self._engine_crashed)

        self.refresh_models()
        recent = self.store.list()
        self.conversations.refresh()
        self.open_conversation(recent[0].id if recent else None)
        self._state_changed(self.session.state)

    # Models -------------------------------------------------------------------------------

    @Slot()
    def refresh_models(self) -> None:
        """Rebuild the model picker from the library (models, then their adapters beneath)."""
        self.header.model_picker.refresh(self.library)
        conv = self._conversation()
        choice = self._default_choice()
        if conv is not None and conv.model_id is None and choice is not None \
                and not self.store.thread(conv.id):  # an empty chat takes the new model
            self.store.update(conv.id, model_id=choice[0], adapter=self._adapter_dict(choice[1]))
        self._show_model_choice()

    def _default_choice(self) -> Choice | None:
        """The model for a new chat: the one chosen last, else the chat starter (an instruct
        model: it answers), else the first in the library."""
        last = get_setting(self.library.conn, LAST_MODEL_KEY)
        choices = self.header.model_picker.choices
        if last and choice_key(*last) in choices:
            return choices[choice_key(*last)]
        starter = self.library.starter(StarterRole.CHAT)
        if starter is not None and choice_key(starter.id, None) in choices:
            return choices[choice_key(starter.id, None)]
        return next(iter(choices.values()), None)

    def _adapter_dict(self, adapter_id: int | None) -> dict | None:
        if adapter_id is None:
            return None
        return {"id": adapter_id, "name": self.library.get(adapter_id).display_name,
                "scale": 1.0}

    def _show_model_choice(self) -> None:
        conv = self._conversation()
        if conv is None:
            choice = self._default_choice()
        elif conv.model_id is None:
            choice = None
        else:
            choice = (conv.model_id, conv.adapter.get("id") if conv.adapter else None)
        self.header.model_picker.show_choice(choice)
        self._show_adapter_strength()
        self._update_header()

    @Slot(int)
    def _model_chosen(self, index: int) -> None:
        choice = self.header.model_picker.choice_at(index)
        if choice is None:
            return
        model_id, adapter_id = choice
        set_setting(self.library.conn, LAST_MODEL_KEY, [model_id, adapter_id])
        conv_id = self._ensure_conversation()
        self.store.update(conv_id, model_id=model_id, adapter=self._adapter_dict(adapter_id))
        self._show_adapter_strength()
        self._update_header()
        try:
            self.session.preload(conv_id)  # load now, so the first reply comes sooner
        except ChatRefused as exc:
            self.notice.show_message(exc.message, "error", exc.detail)

    def _show_adapter_strength(self) -> None:
        self.header.show_adapter((conv.adapter if (conv := self._conversation()) else None) or {})

    @Slot(float)
    def _adapter_scale_changed(self, scale: float) -> None:
        """Apply the new LoRA scale to the loaded model at once (no reload), else at next use."""
        conv = self._conversation()
        if conv is None or not conv.adapter:
            return
        self.store.update(conv.id, adapter={**conv.adapter, "scale": scale})
        loaded = self.session.loaded
        if loaded is not None and loaded.model_id == conv.model_id and not self.session.busy:
            try:
                self.session.preload(conv.id)
            except ChatRefused as exc:
                self.notice.show_message(exc.message, "error", exc.detail)

    # Conversations ------------------------------------------------------------------------

    def _conversation(self):
        if self.conversation_id is None:
            return None
        try:
            return self.store.get(self.conversation_id)
        except RecordNotFound:
            self.conversation_id = None
            return None

    def _ensure_conversation(self) -> int:
        if self.conversation_id is None:
            defaults = chat_defaults(self.library.conn)
            choice = self._default_choice()
            conv = self.store.create(
                system_prompt=defaults["system_prompt"],
                model_id=choice[0] if choice else None,
                adapter=self._adapter_dict(choice[1]) if choice else None,
                settings=effective_settings({}, defaults))
            self.conversation_id = conv.id
            self.conversations.refresh(select_id=conv.id)
        return self.conversation_id

    @Slot()
    def new_conversation(self) -> None:
        """Start a new chat (an empty current one is reused rather than piling up)."""
        conv = self._conversation()
        if conv is None or self.store.thread(conv.id):
            self.conversation_id = None
            self.open_conversation(self._ensure_conversation())
        self.composer.setFocus()

    def start_conversation(self, model_id: int, adapter_id: int | None = None) -> int:
        """A new chat on this model and adapter (an empty current chat is reused)."""
        self.refresh_models()
        set_setting(self.library.conn, LAST_MODEL_KEY, [model_id, adapter_id])
        conv = self._conversation()
        if conv is not None and not self.store.thread(conv.id):
            # As a new chat: no documents but the ones this model comes with (below).
            settings = {key: value for key, value in conv.settings.items() if key != "documents"}
            self.store.update(conv.id, model_id=model_id, adapter=self._adapter_dict(adapter_id),
                              settings=settings)
        else:
            self.conversation_id = None
        self.open_conversation(self._ensure_conversation())
        if adapter_id is not None:
            self.attach_taught_documents(adapter_id)
        self.composer.setFocus()
        return self.conversation_id

    def attach_taught_documents(self, adapter_id: int) -> None:
        """A conversation opened on a fine-tune's result answers from the documents it was tuned
        on too (measured to answer more, see :mod:`slmdesk.core.documents.taught`)."""
        run = RunStore(self.library.conn, self.paths).find_by_adapter(adapter_id)
        if run is None:  # an adapter imported from elsewhere: its documents are unknown
            return
        try:
            adapter_name = self.library.get(adapter_id).display_name
        except LibraryError:
            return
        self.documents_button.attach_taught(adapter_name, list(run.training_job().documents))

    @Slot(int)
    def open_conversation(self, conversation_id: int | None) -> None:
        self.conversation_id = conversation_id
        self.conversations.select(conversation_id)
        conv = self._conversation()
        defaults = chat_defaults(self.library.conn)
        if conv is None:
            self.settings_panel.set_values(defaults["system_prompt"],
                                           effective_settings({}, defaults))
        else:
            self.settings_panel.set_values(conv.system_prompt,
                                           effective_settings(conv.settings, defaults))
        self.documents_button.set_attached(list(conv.settings.get("documents", [])) if conv else [])
        self._show_model_choice()
        self.show_thread()

    @Slot(int)
    def _conversation_deleted(self, conversation_id: int) -> None:
        reply = self.session.reply
        if reply is not None and reply.conversation_id == conversation_id:
            self.session.stop()
        if conversation_id == self.conversation_id:
            recent = self.store.list()
            self.open_conversation(recent[0].id if recent else None)

    def show_thread(self) -> None:
        """Show the current conversation's visible branch."""
        conv = self._conversation()
        views = [] if conv is None else thread_views(self.store, conv,
                                                      self.header.model_picker.model_name)
        self.message_list.set_messages(views)
        if views:
            self.thread_pages.setCurrentWidget(self.message_list)
        else:  # an empty chat says who answers, and what to try
            self.welcome.show_model(self._model_entry(conv))
            self.thread_pages.setCurrentWidget(self.welcome)
        reply = self.session.reply
        if reply is not None:
            widget = self.message_list.widget_for(reply.message_id)
            if widget is not None:
                widget.set_text(reply.text, self._placeholder())
        self.message_list.set_actions_enabled(not self.session.busy)
        self.header.title_label.set_full_text(conv.title if conv else "New chat")
        self._update_header()

    def _model_entry(self, conv: Conversation | None) -> LibraryEntry | None:
        """The model a new message in ``conv`` would go to."""
        model_id = conv.model_id if conv is not None else None
        if model_id is None:
            choice = self._default_choice()
            model_id = choice[0] if choice else None
        try:
            return self.library.get(model_id) if model_id is not None else None
        except LibraryError:
            return None

    @Slot(str)
    def send_text(self, text: str) -> None:
        """Send ``text`` as if typed (an example prompt)."""
        self.composer.setPlainText(text)
        self.send()

    def _placeholder(self) -> str:
        return "Loading model\u2026" if self.session.state == "loading" else "\u2026"

    # Sending, stopping, regenerating, editing ---------------------------------------------

    @Slot()
    def send(self) -> None:
        text = self.composer.toPlainText().strip()
        if not text or self.session.busy:
            return
        conv_id = self._ensure_conversation()
        self.notice.hide()  # a new question makes old news stale (a crashed engine restarts)
        self._start(lambda: self.session.ask(conv_id, text))
        if self.session.busy:
            self.composer.clear()

    @Slot()
    def stop(self) -> None:
        self.session.stop()

    @Slot(int)
    def regenerate(self, assistant_id: int) -> None:
        self._start(lambda: self.session.regenerate(assistant_id))

    @Slot(int, str)
    def edit_message(self, user_id: int, text: str) -> None:
        self._start(lambda: self.session.edit(user_id, text))

    def _start(self, action) -> None:
        try:
            action()
        except ChatRefused as exc:
            self.notice.show_message(exc.message, "error", exc.detail)
            return
        self.conversations.refresh()
        self.show_thread()

    @Slot(int)
    def show_alternative(self, message_id: int) -> None:
        if not self.session.busy:
            self.store.select(message_id)
            self.show_thread()

    @Slot()
    def restart_engine(self) -> None:
        self.notice.hide()
        try:
            self.session.restart()
        except ChatRefused as exc:
            self.notice.show_message(exc.message, "error", exc.detail)

    @Slot()
    def shutdown(self) -> None:
        """Called when the window closes: the engine process must not outlive it."""
        self.documents_button.shutdown()
        self.session.shutdown()

    # Settings -----------------------------------------------------------------------------

    @Slot()
    def _settings_edited(self) -> None:
        conv_id = self._ensure_conversation()
        attached = self.store.get(conv_id).settings.get("documents")
        self.store.update(conv_id, system_prompt=self.settings_panel.system_prompt_text(),
                          settings={**self.settings_panel.settings(),
                                    **({"documents": attached} if attached else {})})

    @Slot(list)
    def _documents_attached(self, collection_ids: list) -> None:
        """The conversation answers from these collections from its next question on."""
        conv_id = self._ensure_conversation()
        settings = dict(self.store.get(conv_id).settings)
        settings["documents"] = list(collection_ids)
        self.store.update(conv_id, settings=settings)

    @Slot()
    def _save_defaults(self) -> None:
        save_chat_defaults(self.library.conn, {
            **self.settings_panel.settings(),
            "system_prompt": self.settings_panel.system_prompt_text()})
        self.notice.show_message("New chats will start with these settings.", "info")

    @Slot()
    def _restore_defaults(self) -> None:
        defaults = chat_defaults(self.library.conn)
        self.settings_panel.set_values(defaults["system_prompt"], effective_settings({}, defaults))
        self._settings_edited()

    # Session events -----------------------------------------------------------------------

    @Slot(str)
    def _state_changed(self, state: str) -> None:
        busy = self.session.busy
        self.header.show_state(state)
        self.send_button.setVisible(not busy)
        self.stop_button.setVisible(busy)
        self.header.model_picker.setEnabled(not busy)
        self.message_list.set_actions_enabled(not busy)
        reply = self.session.reply
        if reply is not None and not reply.parts:
            widget = self.message_list.widget_for(reply.message_id)
            if widget is not None:
                widget.set_text("", self._placeholder())
        self._update_header()

    @Slot()
    def _update_header(self, *_args) -> None:
        conv = self._conversation()
        loaded, info = self.session.loaded, self.session.loaded_info
        ours = loaded is not None and info and conv is not None and conv.model_id == loaded.model_id
        self.header.show_chat_format(loaded if ours else None, info)

    @Slot(int, str)
    def _reply_changed(self, message_id: int, text: str) -> None:
        widget = self.message_list.widget_for(message_id)
        if widget is not None:
            widget.set_text(text)

    @Slot(int)
    def _reply_finished(self, message_id: int) -> None:
        self._state_changed(self.session.state)
        if self.store.message(message_id).conversation_id == self.conversation_id:
            self.show_thread()
        self.conversations.refresh()

    @Slot(str, str, str)
    def _problem(self, text: str, kind: str, details: str) -> None:
        self.notice.show_message(text, kind, details)

    @Slot(str)
    def _engine_crashed(self, message: str) -> None:
        headline = message.split("\nLast lines from the engine:")[0]
        safe = "Your conversation is safe: the reply written so far was kept and marked " \
               "interrupted."
        if self.session.restart_helps:
            self.notice.show_message(f"{headline} {safe} Restart the engine to go on.",
                                     "error", message, action="Restart engine")
        else:  # restarting would crash the same way: no button to loop on
            self.notice.show_message(f"{headline} {safe}", "error", message)
        self._state_changed(self.session.state)
