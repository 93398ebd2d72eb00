"""The Fine-tune section: the wizard, the list of runs, and the side-by-side comparison.

One run trains at a time, on the wizard's training page; the Runs tab resumes a stopped run
there, and Compare opens the adapter chosen in either. Everything this section owns (the
training worker, the token counter, the two comparison engines) is stopped by :meth:`shutdown`.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from slmdesk.core.library.store import ModelLibrary
from slmdesk.core.training.runs import RunError
from slmdesk.paths import AppPaths
from slmdesk.ui.finetune.compare_view import CompareView
from slmdesk.ui.finetune.runs_view import RunsView
from slmdesk.ui.finetune.wizard import FineTuneWizard

WIZARD_TAB, RUNS_TAB, COMPARE_TAB = range(3)


class FineTunePage(QWidget):
    """Tabs: New fine-tune (the wizard), Runs, Compare."""

    #: Open a new conversation on this base model + adapter (the main window switches to Chat).
    chat_requested = Signal(int, int)
    #: An adapter was added to the library.
    library_changed = Signal()
    #: The training page's state changed (see TrainingPage.state).
    training_state_changed = Signal(str)

    def __init__(self, library: ModelLibrary, paths: AppPaths,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wizard = FineTuneWizard(library, paths)
        self.runs_view = RunsView(library, paths)
        self.compare_view = CompareView(library, paths)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.wizard, "New fine-tune")
        self.tabs.addTab(self.runs_view, "Runs")
        self.tabs.addTab(self.compare_view, "Compare")
        self.tabs.currentChanged.connect(self._tab_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tabs)

        self.wizard.chat_requested.connect(self.chat_requested)
        self.wizard.compare_requested.connect(self.compare)
        self.wizard.library_changed.connect(self._library_changed)
        self.wizard.training_state_changed.connect(self.training_state_changed)
        self.wizard.run_started.connect(self._run_started)
        self.wizard.training_page.process.event.connect(self.runs_view.live_event)
        self.runs_view.resume_requested.connect(self.resume)
        self.runs_view.chat_requested.connect(self.chat_requested)
        self.runs_view.compare_requested.connect(self.compare)

    @property
    def training_active(self) -> bool:
        return self.wizard.training_active

    def start_wizard(self, model_id: int | None = None) -> bool:
        """Show the wizard at step 1, with ``model_id`` chosen (refused while a run trains)."""
        self.tabs.setCurrentIndex(WIZARD_TAB)
        return self.wizard.restart(model_id)

    @Slot(int)
    def resume(self, run_id: int) -> bool:
        try:
            run = self.runs_view.store.get(run_id)
        except RunError as exc:
            self.runs_view.notice.show_message(str(exc), "error")
            return False
        if not self.wizard.resume_run(run):
            self.runs_view.notice.show_message(
                "Another run is training. Pause or cancel it before resuming this one.",
                "warning")
            return False
        self.tabs.setCurrentIndex(WIZARD_TAB)
        return True

    @Slot(int, int)
    def compare(self, model_id: int, adapter_id: int) -> None:
        self.compare_view.set_pair(model_id, adapter_id)
        self.tabs.setCurrentIndex(COMPARE_TAB)
        self.compare_view.composer.setFocus()

    @Slot()
    def refresh_models(self) -> None:
        """The library changed elsewhere (an import, a removal)."""
        self.wizard.refresh_models()
        self.compare_view.refresh()
        self.runs_view.refresh()

    @Slot()
    def _library_changed(self) -> None:
        self.compare_view.refresh()
        self.runs_view.refresh()
        self.library_changed.emit()

    @Slot(int)
    def _run_started(self, run_id: int) -> None:
        self.runs_view.refresh(select_id=run_id)

    @Slot(int)
    def _tab_changed(self, index: int) -> None:
        if index == RUNS_TAB:
            self.runs_view.refresh()
        if index == COMPARE_TAB:
            self.compare_view.refresh()
        elif not self.compare_view.busy:
            # The two comparison engines hold two models in memory: free them when not in use.
            self.compare_view.shutdown()

    def stop_training_to_quit(self) -> bool:
        """Ask the running worker to checkpoint and stop; False when nothing is training.
        The wizard's training page reports the stop (``training_state_changed``)."""
        if not self.training_active:
            return False
        self.wizard.training_page.cancel()
        return True

    @Slot()
    def shutdown(self) -> None:
        """At exit: no child process of this section may outlive the window."""
        self.compare_view.shutdown()
        self.wizard.shutdown()
