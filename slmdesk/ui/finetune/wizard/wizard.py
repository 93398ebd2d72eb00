"""The fine-tuning wizard: model, documents, settings, training, done; one page per step.

The pages only show and collect; this class puts the job together from them (with the same core
functions as ``slmdesk train``: :func:`~slmdesk.core.training.job.job_from_preset`,
:meth:`~slmdesk.core.training.runs.RunStore.create`), keeps the estimates current as anything
changes, and hands the run to the training page.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.library.store import LibraryEntry, LibraryError, ModelLibrary
from slmdesk.core.training import model_questions
from slmdesk.core.training.job import (
    JobError,
    TrainingJob,
    approximate_chunk_lengths,
    estimate_training,
)
from slmdesk.core.training.precision import expected_choice
from slmdesk.core.training.preview import chunk_lengths_from_tokens
from slmdesk.core.training.runs import RunStore, TrainingRun
from slmdesk.paths import AppPaths
from slmdesk.ui.finetune.wizard.common import training_memory
from slmdesk.ui.finetune.wizard.documents_page import DocumentsPage
from slmdesk.ui.finetune.wizard.done_page import DonePage
from slmdesk.ui.finetune.wizard.model_page import ModelPage
from slmdesk.ui.finetune.wizard.settings_page import SettingsPage
from slmdesk.ui.finetune.wizard.training_page import TrainingPage
from slmdesk.ui.widgets.notice import NoticeBar

STEPS = ["Model", "Documents", "Settings", "Training", "Done"]
MODEL, DOCUMENTS, SETTINGS, TRAINING, DONE = range(len(STEPS))


class FineTuneWizard(QWidget):
    """Five steps from a base model and some documents to an adapter in the library."""

    chat_requested = Signal(int, int)  # base model id, adapter id
    compare_requested = Signal(int, int)
    #: An adapter was added to the library.
    library_changed = Signal()
    #: The training page's state ("running", "paused", "finished"...; see TrainingPage).
    training_state_changed = Signal(str)
    #: A run was created or resumed (its id), for the Runs list.
    run_started = Signal(int)

    def __init__(self, library: ModelLibrary, paths: AppPaths,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.paths = paths
        self.runs = RunStore(library.conn, paths)

        self.model_page = ModelPage(library)
        self.documents_page = DocumentsPage()
        self.settings_page = SettingsPage()
        self.training_page = TrainingPage(paths)
        self.done_page = DonePage()
        self.model_page.job_for = lambda entry: self.settings_page.make_job(
            entry, self.documents_page.sources())
        self.documents_page.preview_params = self._preview_params
        self.model_page.changed.connect(self._model_changed)
        self.documents_page.changed.connect(self._update)
        self.settings_page.changed.connect(self._settings_changed)
        self.settings_page.knowledge_check.toggled.connect(
            self.documents_page.knowledge_preview.set_turned_on)
        self.training_page.run_finished.connect(self._run_finished)
        self.training_page.state_changed.connect(self._training_state)
        self.training_page.new_requested.connect(self.restart)
        self.done_page.chat_requested.connect(self.chat_requested)
        self.done_page.compare_requested.connect(self.compare_requested)
        self.done_page.new_requested.connect(self.restart)

        self.step_labels = [QLabel(f"{number}\u2002{name}") for number, name in
                            enumerate(STEPS, 1)]
        steps = QHBoxLayout()
        for number, label in enumerate(self.step_labels):
            if number:
                arrow = QLabel("\u203a")
                arrow.setStyleSheet("color: #9aa0a6;")
                steps.addWidget(arrow)
            steps.addWidget(label)
        steps.addStretch(1)
        self.pages = QStackedWidget()
        for page in (self.model_page, self.documents_page, self.settings_page,
                     self.training_page, self.done_page):
            self.pages.addWidget(page)
        self.notice = NoticeBar()
        self.back_button = QPushButton("Back")
        self.back_button.clicked.connect(self.back)
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next)
        nav = QHBoxLayout()
        nav.addStretch(1)
        nav.addWidget(self.back_button)
        nav.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(steps)
        layout.addWidget(self.notice)
        layout.addWidget(self.pages, 1)
        layout.addLayout(nav)
        self.model_page.refresh()
        self.go_to(MODEL)

    # -- navigation ----------------------------------------------------------------------------

    @property
    def step(self) -> int:
        return self.pages.currentIndex()

    @property
    def training_active(self) -> bool:
        return self.training_page.active

    def go_to(self, step: int) -> None:
        self.pages.setCurrentIndex(step)
        for number, label in enumerate(self.step_labels):
            style = ("font-weight: 600; color: palette(highlight);" if number == step else
                     "color: #3c4043;" if number < step else "color: #9aa0a6;")
            label.setStyleSheet(style)
        if step == DOCUMENTS:
            self.documents_page.refresh_preview()
        self._update()

    @Slot()
    def next(self) -> None:
        if not self.next_button.isEnabled():
            return
        if self.step == SETTINGS:
            self.start_training()
        elif self.step < SETTINGS:
            self.go_to(self.step + 1)

    @Slot()
    def back(self) -> None:
        if MODEL < self.step <= SETTINGS:
            self.go_to(self.step - 1)

    @Slot()
    def restart(self, model_id: int | None = None) -> bool:
        """Back to step 1 for a new fine-tune (refused while a run trains)."""
        if self.training_active:
            self.notice.show_message("A model is being trained. Wait for it to finish, or "
                                     "pause or cancel it, before starting another.", "warning")
            return False
        self.notice.hide()
        self.documents_page.clear()
        self.settings_page.reset()
        self.model_page.refresh()
        if model_id is not None:
            self.model_page.select_model(model_id)
        self.go_to(MODEL)
        return True

    def refresh_models(self) -> None:
        self.model_page.refresh()

    # -- the job -------------------------------------------------------------------------------

    def current_job(self) -> TrainingJob:
        return self.settings_page.make_job(self.model_page.selected_model(),
                                           self.documents_page.sources())

    def _preview_params(self) -> dict | None:
        entry = self.model_page.selected_model()
        if entry is None:
            return None
        job = self.current_job()
        return {"model_path": str(entry.path), "sequence_length": job.sequence_length,
                "overlap": job.overlap, "validation_fraction": job.validation_fraction,
                "seed": job.seed}

    def start_training(self) -> TrainingRun | None:
        """Create the run from the wizard's choices and start its worker."""
        if self.training_active:
            return None
        job = self.current_job()
        try:
            job.validate()
            run = self.runs.create(job)
        except (JobError, OSError) as exc:
            self.notice.show_message(str(exc), "error")
            return None
        self.notice.hide()
        self.go_to(TRAINING)
        self.training_page.start_run(run, title=self._title(job))
        self.run_started.emit(run.id)
        return run

    def resume_run(self, run: TrainingRun) -> bool:
        """Continue a stopped run on the training page (one run trains at a time)."""
        if self.training_active:
            self.notice.show_message("Another run is training; pause or cancel it first.",
                                     "warning")
            return False
        self.notice.hide()
        self.go_to(TRAINING)
        self.training_page.start_run(run, resume=True, title=self._title(run.training_job()))
        self.run_started.emit(run.id)
        return True

    def _title(self, job: TrainingJob) -> str:
        model = self._model_name(job.base_model_id, job.base_model_path)
        what = job.name or ", ".join(Path(p).name for p in job.documents[:3])
        return f"Teaching {model}: {what}"

    def _model_name(self, model_id: int | None, path: str = "") -> str:
        if model_id is not None:
            try:
                return self.library.get(model_id).display_name
            except LibraryError:
                pass
        return Path(path).name or "the model"

    # -- keeping things current ----------------------------------------------------------------

    @Slot()
    def _model_changed(self) -> None:
        if self.documents_page.documents:
            self.documents_page.refresh_preview()
        self._update()

    @Slot()
    def _settings_changed(self) -> None:
        self.model_page.update_memory()
        self._update()

    @Slot()
    def _update(self) -> None:
        step = self.step
        valid = {MODEL: self.model_page.selected_model() is not None,
                 DOCUMENTS: self.documents_page.ready,
                 SETTINGS: not self.current_job().problems() and self.documents_page.ready}
        self.next_button.setText("Start training" if step == SETTINGS else "Next")
        self.next_button.setEnabled(valid.get(step, False))
        self.back_button.setEnabled(MODEL < step <= SETTINGS)
        for button in (self.back_button, self.next_button):
            button.setVisible(step <= SETTINGS)
        if step == SETTINGS:
            self._show_estimate()

    def _show_estimate(self) -> None:
        entry: LibraryEntry | None = self.model_page.selected_model()
        docs = self.documents_page.documents
        if entry is None or not docs:
            self.settings_page.show_estimate(None, "", None, False)
            return
        self.settings_page.set_model_questions_offer(
            model_questions.estimate_seconds([d.text for d in docs])
            if model_questions.offered_for(entry.info) else None)
        job = self.current_job()
        tokens = self.documents_page.token_counts()
        stats = (self.documents_page.preview_answer or {}).get("stats") or {}
        if tokens:
            lengths = chunk_lengths_from_tokens(tokens, job.sequence_length, job.overlap,
                                                job.validation_fraction)
        else:
            lengths = approximate_chunk_lengths(job, sum(d.characters for d in docs), len(docs))
        # Each question and answer is a training chunk of its own (always trained on).
        knowledge = self.documents_page.knowledge_preview
        examples = knowledge.example_lengths(job)
        # Progress is measured on the text alone (held back, or all of it when it is short).
        measured = stats.get("validation_tokens") or sum(lengths)
        cached = self.model_page.is_cached(entry)
        precision = expected_choice(job.dtype, self.paths.cache_dir)
        estimate = estimate_training(job, entry.info, train_chunk_lengths=lengths + examples,
                                     validation_tokens=measured, cached=cached,
                                     precision=precision)
        _needed, verdict, text = training_memory(job, entry.info,
                                                 self.model_page.available_memory(), cached)
        self.settings_page.show_estimate(estimate, text, verdict, bool(tokens),
                                         examples=len(examples),
                                         quiz_questions=job.quiz_questions,
                                         precision=precision)

    # -- the run's end -------------------------------------------------------------------------

    @Slot(str)
    def _training_state(self, state: str) -> None:
        self.training_state_changed.emit(state)

    @Slot(dict)
    def _run_finished(self, event: dict) -> None:
        self.library_changed.emit()
        run = self.training_page.run
        job = run.training_job() if run is not None else None
        adapter_name = "The adapter"
        try:
            adapter_name = self.library.get(int(event["adapter_model_id"])).display_name
        except (LibraryError, KeyError, TypeError, ValueError):
            pass
        model_id = job.base_model_id if job is not None else None
        if model_id is None and event.get("adapter_model_id") is not None:
            try:
                model_id = self.library.get(int(event["adapter_model_id"])).base_model_id
            except LibraryError:
                pass
        self.done_page.show_result(event, model_id,
                                   self._model_name(model_id, job.base_model_path if job else ""),
                                   adapter_name, preset=job.preset if job is not None else None)
        self.go_to(DONE)

    def shutdown(self) -> None:
        """At exit: stop reading and counting, and checkpoint a run in progress."""
        self.documents_page.wait_for_tasks()
        self.training_page.process.shutdown()
