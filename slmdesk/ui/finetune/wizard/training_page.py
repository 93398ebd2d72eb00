"""Wizard step 4: the run itself: progress, a live loss chart, speed, time left, pause and cancel.

The worker runs in its own process (:class:`~slmdesk.ui.processes.training.TrainingProcess`), so
the rest of the window stays usable while it trains. Pause and Cancel both ask the worker to
save a checkpoint and stop; a paused run resumes here, a cancelled one here or from the Runs list.
A worker that fails or dies shows its message and the last lines of its log, and stays resumable.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.training import events as ev
from slmdesk.core.training.reporting import describe_counts, quiz_result, quiz_score
from slmdesk.core.training.runs import TrainingRun
from slmdesk.paths import AppPaths
from slmdesk.ui.processes.training import TrainingProcess
from slmdesk.ui.widgets.labels import heading, hint
from slmdesk.ui.widgets.loss_chart import LossChart
from slmdesk.ui.widgets.notice import NoticeBar

ACTIVE = frozenset({"starting", "running", "pausing", "cancelling"})
_STATE_TEXT = {"starting": "Starting\u2026", "pausing": "Pausing: saving a checkpoint\u2026",
               "cancelling": "Stopping: saving a checkpoint\u2026"}


def _stat(title: str) -> tuple[QWidget, QLabel]:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    caption = QLabel(title)
    caption.setStyleSheet("color: #5f6368; font-size: 11px;")
    value = QLabel("\u2013")
    value.setStyleSheet("font-size: 16px; font-weight: 600;")
    layout.addWidget(caption)
    layout.addWidget(value)
    return box, value


def _about_general_text(event: dict) -> bool:
    """An evaluation on the general text (forgetting), not on the documents."""
    return event.get("type") == ev.EVAL and event.get("split") == "general"


class TrainingPage(QWidget):
    """Shows one run while it trains and drives its worker."""

    #: The run ended well: the ``finished`` event (adapter_model_id, metrics...).
    run_finished = Signal(dict)
    #: "idle", "starting", "running", "pausing", "paused", "cancelling", "cancelled", "failed",
    #: "crashed" or "finished".
    state_changed = Signal(str)
    #: The user asks for a new fine-tune after a stopped run.
    new_requested = Signal()

    def __init__(self, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        self.run: TrainingRun | None = None
        self.state = "idle"
        self.last_step: dict = {}
        self.process = TrainingProcess(paths, self)
        self.process.status.connect(self._on_status)
        self.process.plan.connect(self._on_plan)
        self.process.dataset.connect(self._on_dataset)
        self.process.progress.connect(self._on_step)
        self.process.event.connect(self._on_event)
        self.process.finished.connect(self._on_finished)
        self.process.cancelled.connect(self._on_cancelled)
        self.process.failed.connect(self._on_failed)
        self.process.crashed.connect(self._on_crashed)
        self.process.ended.connect(self._on_ended)

        self.title = heading("Training")
        self.status_label = hint()
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v of %m steps")
        self.progress_bar.setTextVisible(True)
        stats = QGridLayout()
        boxes = [_stat(title) for title in ("Loss", "Tokens per second", "Time left",
                                            "Validation loss")]
        self.validation_caption = boxes[3][0].layout().itemAt(0).widget()
        for column, (box, _) in enumerate(boxes):
            stats.addWidget(box, 0, column)
        (_, self.loss_value), (_, self.speed_value), (_, self.eta_value), \
            (_, self.validation_value) = boxes
        self.dataset_label = hint()
        #: The quiz: what it is asking now, or how the model did.
        #: The arithmetic the steps run in, as the worker measured it ("training in bf16: ...").
        self.precision_label = hint()
        self.precision_label.hide()
        self.quiz_label = hint()
        self.quiz_label.setStyleSheet("color: #3c4043;")
        self.quiz_scores: dict[str, str] = {}
        self.quiz_activity = ""
        self.chart = LossChart()
        self.notice = NoticeBar()
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Save a checkpoint and stop; Resume continues from there")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop training; the run is kept and can be resumed later "
                                      "from the Runs list")
        self.cancel_button.clicked.connect(self.cancel)
        self.new_button = QPushButton("New fine-tune")
        self.new_button.clicked.connect(self.new_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.status_label)
        layout.addWidget(self.progress_bar)
        layout.addLayout(stats)
        layout.addWidget(self.dataset_label)
        layout.addWidget(self.precision_label)
        layout.addWidget(self.quiz_label)
        layout.addWidget(self.notice)
        layout.addWidget(self.chart, 1)
        layout.addLayout(buttons)
        self._show_quiz()
        self._set_state("idle")

    # -- driving -------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Training, or a worker still saving and exiting after it said it stopped."""
        return self.state in ACTIVE or self.process.running

    def start_run(self, run: TrainingRun, *, resume: bool = False,
                  title: str | None = None) -> None:
        """Train ``run`` (a new one, or resume a stopped one; its chart so far is shown)."""
        self.run = run
        self.title.setText(title or f"Training run {run.id}")
        self.notice.hide()
        self.last_step = {}
        self.quiz_scores, self.quiz_activity = {}, ""
        self._show_quiz()
        if resume:
            events = ev.read_events(run.run_dir)
            self.chart.set_events([e for e in events if not _about_general_text(e)])
            for event in events:  # what the run said about its data and quiz before it stopped
                if event["type"] == ev.DATASET:
                    self._on_dataset(event)
                elif event["type"] == ev.QUIZ:
                    self._on_quiz(event)
                elif event["type"] == ev.PRECISION:
                    self._on_precision(event)
            step, total = run.metrics.get("step", 0), run.metrics.get("total_steps", 0)
            self.progress_bar.setRange(0, max(1, total))
            self.progress_bar.setValue(step)
        else:
            self.chart.clear_points()
            self.progress_bar.setRange(0, 0)
            for label in (self.loss_value, self.speed_value, self.eta_value,
                          self.validation_value):
                label.setText("\u2013")
            self.dataset_label.setText("")
            self.precision_label.hide()
            self.validation_caption.setText("Validation loss")
        self.process.start(run.run_dir, resume=resume)
        self._set_state("starting")

    @Slot()
    def toggle_pause(self) -> None:
        if self.state in ("starting", "running"):
            self._set_state("pausing")
            self.process.cancel()
        elif self.state in ("paused", "cancelled", "failed", "crashed") and self.run is not None \
                and not self.process.running:
            self.start_run(self.run, resume=True, title=self.title.text())

    @Slot()
    def cancel(self) -> None:
        if self.state in ("starting", "running", "pausing"):
            self._set_state("cancelling")
            self.process.cancel()
        elif self.state == "paused":
            self._set_state("cancelled")
            self.status_label.setText(self._stopped_text("Cancelled"))

    def _set_state(self, state: str) -> None:
        self.state = state
        running = state in ("starting", "running")
        resumable = state in ("paused", "cancelled", "failed", "crashed")
        self.pause_button.setText("Resume" if resumable else "Pause")
        # A stopped worker takes a moment to exit after its last event: resume once it has.
        self.pause_button.setEnabled(running or (resumable and not self.process.running))
        self.pause_button.setVisible(state not in ("idle", "finished"))
        self.cancel_button.setEnabled(state in ("starting", "running", "pausing", "paused"))
        self.cancel_button.setVisible(state not in ("idle", "finished"))
        self.new_button.setVisible(state in ("cancelled", "failed", "crashed"))
        if state in _STATE_TEXT:
            self.status_label.setText(_STATE_TEXT[state])
        if state in ("paused", "cancelled", "failed", "crashed"):
            self.eta_value.setText("\u2013")
        self.state_changed.emit(state)

    def _stopped_text(self, how: str) -> str:
        step = self.last_step.get("step") or (self.run.metrics.get("step") if self.run else 0)
        at = f" at step {step}" if step else ""
        where = "Resume continues" if how == "Paused" else "Resume (here or in Runs) continues"
        return f"{how}{at}. Its checkpoint is saved: {where} from there."

    # -- events --------------------------------------------------------------------------------

    @Slot(str)
    def _on_status(self, message: str) -> None:
        if self.state in ("starting", "running"):
            self.status_label.setText(message + "\u2026")

    @Slot(dict)
    def _on_event(self, event: dict) -> None:
        if _about_general_text(event):
            return  # forgetting is reported on the done page; the chart is about the documents
        self.chart.add_event(event)
        if event["type"] == ev.QUIZ:
            self._on_quiz(event)
        elif event["type"] == ev.PRECISION:
            self._on_precision(event)
        elif event["type"] == ev.STATUS and event.get("stage") == "quiz" and event.get("message"):
            message = str(event["message"])
            self.quiz_activity = message if message.endswith(".") else message + "\u2026"
            self._show_quiz()
        if event["type"] == ev.EVAL and isinstance(event.get("loss"), (int, float)):
            self.validation_caption.setText("Validation loss" if event.get("split") == "validation"
                                            else "Loss on the whole text")
            self.validation_value.setText(f"{event['loss']:.3f} ({event.get('stage')})")

    @Slot(dict)
    def _on_plan(self, event: dict) -> None:
        self.progress_bar.setRange(0, max(1, int(event["total_steps"])))
        self.progress_bar.setValue(int(self.run.metrics.get("step", 0))
                                   if self.process.resume and self.run else 0)

    def _on_precision(self, event: dict) -> None:
        message = str(event.get("message") or "")
        if not message:
            return
        self.precision_label.setText(message[0].upper() + message[1:] + ".")
        figures = [f"{name}: {event[key]:.0f} GFLOP/s" for name, key in
                   (("fp32", "fp32_gflops"), ("bf16", "bf16_gflops"))
                   if isinstance(event.get(key), (int, float))]
        self.precision_label.setToolTip(
            "Measured at the start on this model's layer shapes: " + ", ".join(figures)
            if figures else "")
        self.precision_label.show()

    def _on_quiz(self, event: dict) -> None:
        result = quiz_result(event)
        if result is None or not result.total:
            return
        self.quiz_scores[event.get("stage", "")] = quiz_score(result)
        self.quiz_activity = ""
        self._show_quiz()

    def _show_quiz(self) -> None:
        """The scores so far, then what the quiz is doing now (or why it could not run)."""
        before, after = self.quiz_scores.get("before"), self.quiz_scores.get("after")
        if before and after:
            score = (f"Quiz: before training it answered {before} about your documents; "
                     f"after training, {after}.")
        elif before or after:
            score = (f"{'Before' if before else 'After'} training it answered "
                     f"{before or after} about your documents.")
        else:
            score = ""
        text = " ".join(part for part in (score, self.quiz_activity) if part)
        self.quiz_label.setText(text)
        self.quiz_label.setVisible(bool(text))

    @Slot(dict)
    def _on_dataset(self, event: dict) -> None:
        held = (f"{event['validation_chunks']} held back to measure progress"
                if event.get("validation_chunks") else "progress measured on the text itself")
        counts = event.get("example_counts") if isinstance(event.get("example_counts"), dict) \
            else {}
        examples = describe_counts(counts)
        text_chunks = event["chunks"] - sum(v for v in counts.values() if isinstance(v, int))
        self.dataset_label.setText(
            f"{event['documents']} document{'s' if event['documents'] != 1 else ''}, "
            f"{event['tokens']:,} tokens in {text_chunks} chunk"
            f"{'s' if text_chunks != 1 else ''} of up to "
            f"{event['sequence_length']} tokens ({held})"
            + (f"; plus {examples}." if examples else "."))
        shown = [f"[{item.get('kind', '')}]\n{item.get('text', '')}"
                 for item in event.get("examples") or [] if isinstance(item, dict)]
        self.dataset_label.setToolTip(("Some of the questions and answers, as the model sees "
                                       "them:\n\n" + "\n\n".join(shown)) if shown else "")

    @Slot(dict)
    def _on_step(self, event: dict) -> None:
        self.last_step = event
        if self.state == "starting":
            self._set_state("running")
        self.progress_bar.setRange(0, max(1, int(event["total_steps"])))
        self.progress_bar.setValue(int(event["step"]))
        loss = event.get("loss")
        self.loss_value.setText(f"{loss:.3f}" if isinstance(loss, (int, float)) else "?")
        speed = event.get("tokens_per_second")
        self.speed_value.setText(f"{speed:.0f}" if isinstance(speed, (int, float)) else "?")
        self.eta_value.setText(ev.format_duration(event.get("eta_seconds")))
        if self.state == "running":
            self.status_label.setText(f"Training: step {event['step']} of "
                                      f"{event['total_steps']}")

    @Slot(dict)
    def _on_finished(self, event: dict) -> None:
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.eta_value.setText("0:00")
        self.status_label.setText(event.get("message", "Finished."))
        self._set_state("finished")
        self.run_finished.emit(event)

    @Slot(dict)
    def _on_cancelled(self, event: dict) -> None:
        paused = self.state == "pausing"
        if event.get("step"):
            self.last_step = {**self.last_step, "step": event["step"]}
        self._set_state("paused" if paused else "cancelled")
        self.status_label.setText(self._stopped_text("Paused" if paused else "Cancelled"))

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._set_state("failed")
        self.status_label.setText("Training stopped with an error.")
        self.notice.show_message(f"{message}\nThe run is kept: Resume tries again from its last "
                                 "checkpoint.", "error", details)

    @Slot()
    def _on_ended(self) -> None:
        self._set_state(self.state)  # the buttons (and whoever waits for the end) catch up

    @Slot(str, str)
    def _on_crashed(self, message: str, tail: str) -> None:
        self._set_state("crashed")
        self.status_label.setText("The training process stopped unexpectedly.")
        self.notice.show_message(message, "error",
                                 f"Last lines of the training log:\n{tail}" if tail else "")
        if tail:
            self.notice.details_button.setChecked(True)  # the log is the only clue: show it
