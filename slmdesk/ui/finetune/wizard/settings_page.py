"""Wizard step 3: how hard to train (a preset, or the advanced numbers) and what it will cost."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from slmdesk.core.library.memory import Verdict
from slmdesk.core.library.store import LibraryEntry
from slmdesk.core.training.events import format_duration
from slmdesk.core.training.job import (
    PRESETS,
    TrainingEstimate,
    TrainingJob,
    job_from_preset,
)
from slmdesk.core.training.model_questions import (
    DEFAULT_PER_PASSAGE as MODEL_QUESTIONS_PER_PASSAGE,
)
from slmdesk.core.training.precision import PrecisionChoice
from slmdesk.ui.finetune.wizard.common import VERDICT_COLOURS
from slmdesk.ui.widgets.labels import heading, hint

#: What each preset is for; the time it takes is the estimate below the choices, worked out
#: for these documents on this computer (the presets' numbers are tuned from measured runs).
PRESET_TEXT = {
    "quick": ("Quick", "The shortest training: to try things out, or for a page or two of "
              "notes."),
    "balanced": ("Balanced (recommended)", "More training at a gentler pace, for a few pages "
                 "of notes or a short report."),
    "thorough": ("Thorough", "Many documents or long reports: a bigger adapter and the longest "
                 "training."),
}
#: The preset chosen when the wizard opens or starts again.
DEFAULT_PRESET = "balanced" if "balanced" in PRESETS else next(iter(PRESETS))


class SettingsPage(QWidget):
    """A preset, optionally adjusted; ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset_group = QButtonGroup(self)
        presets = QVBoxLayout()
        for number, key in enumerate(PRESETS):
            title, text = PRESET_TEXT.get(key, (key.title(), ""))
            button = QRadioButton(title)
            button.setProperty("preset", key)
            button.setStyleSheet("font-weight: 600;")
            self.preset_group.addButton(button, number)
            presets.addWidget(button)
            line = hint(text)
            line.setContentsMargins(24, 0, 0, 6)
            presets.addWidget(line)
        self.preset_group.idToggled.connect(self._preset_toggled)

        self.knowledge_check = QCheckBox("Teach it to answer questions about the documents")
        self.knowledge_check.setChecked(True)
        self.knowledge_check.setStyleSheet("font-weight: 600;")
        self.knowledge_check.toggled.connect(self._edited)
        knowledge_hint = hint("Besides the text itself, SLM Desk writes questions and answers "
                              "from your sentences (names, places, dates, numbers), so the tuned "
                              "model can answer in chat, not only continue your text.")
        knowledge_hint.setContentsMargins(24, 0, 0, 6)
        # Only for instruction-tuned models (shown when the chosen model has a chat template).
        self.model_questions_check = QCheckBox("Also let the model write its own questions "
                                               "about each passage")
        self.model_questions_check.toggled.connect(self._edited)
        self.model_questions_hint = hint("")
        self.model_questions_hint.setContentsMargins(48, 0, 0, 6)
        self.model_questions_check.setContentsMargins(24, 0, 0, 0)
        self.knowledge_check.toggled.connect(self.model_questions_check.setEnabled)
        self.set_model_questions_offer(None)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("From the documents' titles")
        self.name_edit.textChanged.connect(self.changed)
        self.advanced_button = QToolButton(text="Advanced settings")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setAutoRaise(True)
        self.advanced_button.toggled.connect(self._toggle_advanced)

        self.rank = QSpinBox(minimum=1, maximum=256)
        self.rank.setToolTip("The adapter's capacity: higher learns more detail but is slower "
                             "and bigger.")
        self.learning_rate = QDoubleSpinBox(decimals=5, minimum=0.00001, maximum=0.01,
                                            singleStep=0.0001)
        self.learning_rate.setToolTip("How big each learning step is. Too high and training "
                                      "becomes unstable; too low and it learns little.")
        self.epochs = QSpinBox(minimum=1, maximum=1000)
        self.epochs.setToolTip("How many times the model reads your documents.")
        self.sequence_length = QSpinBox(minimum=32, maximum=4096, singleStep=32)
        self.sequence_length.setToolTip("Tokens per training chunk. Shorter needs less memory; "
                                        "longer keeps more context together.")
        self.dtype = QComboBox()
        for label, value in (("Automatic (measured on this computer)", "auto"),
                             ("fp32 (always)", "fp32"), ("bf16 (always)", "bf16")):
            self.dtype.addItem(label, value)
        self.dtype.setToolTip("The arithmetic of the training steps. Automatic measures both "
                              "when training starts and takes bf16 only where this processor "
                              "runs it faster.")
        self.dtype.currentIndexChanged.connect(self._edited)
        self.hold_back_check = QCheckBox("Keep a few sentences back to check it honestly")
        self.hold_back_check.setChecked(False)
        self.hold_back_check.setToolTip(
            "Two to four sentences get no training questions, and the quiz asks about them too. "
            "The model is then not taught those sentences: on our notes it answered 2 to 4 of 10 "
            "questions fewer. Off, the estimate of how it answers your own questions comes from "
            "how well it remembers, scaled by what that meant on documents others wrote.")
        self.hold_back_check.toggled.connect(self._edited)
        for box in (self.rank, self.epochs, self.sequence_length):
            box.valueChanged.connect(self._edited)
        self.learning_rate.valueChanged.connect(self._edited)
        self.advanced = QFrame()
        form = QFormLayout(self.advanced)
        form.setContentsMargins(24, 0, 0, 0)
        form.addRow("LoRA rank", self.rank)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Passes over the text (epochs)", self.epochs)
        form.addRow("Sequence length (tokens)", self.sequence_length)
        form.addRow("Arithmetic", self.dtype)
        form.addRow("Quiz", self.hold_back_check)
        self.advanced.hide()

        self.estimate_label = QLabel()
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setTextFormat(Qt.TextFormat.RichText)
        self.estimate_label.setStyleSheet("background: #f1f3f4; border-radius: 6px; padding: 10px;")
        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Adapter name"))
        name_row.addWidget(self.name_edit, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(heading("How thoroughly should it learn?"))
        layout.addLayout(presets)
        layout.addWidget(self.knowledge_check)
        layout.addWidget(knowledge_hint)
        layout.addWidget(self.model_questions_check)
        layout.addWidget(self.model_questions_hint)
        layout.addLayout(name_row)
        layout.addWidget(self.advanced_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.advanced)
        layout.addWidget(self.estimate_label)
        layout.addStretch(1)
        self.set_preset(DEFAULT_PRESET)

    # -- values --------------------------------------------------------------------------------

    @property
    def preset(self) -> str:
        button = self.preset_group.checkedButton()
        return button.property("preset") if button is not None else DEFAULT_PRESET

    def set_preset(self, key: str) -> None:
        for button in self.preset_group.buttons():
            if button.property("preset") == key:
                button.setChecked(True)

    def reset(self) -> None:
        """The settings of a new fine-tune: the default preset, questions on, no name."""
        self.set_preset(DEFAULT_PRESET)
        self.knowledge_check.setChecked(True)
        self.model_questions_check.setChecked(False)
        self.name_edit.clear()
        self.dtype.setCurrentIndex(0)
        self.hold_back_check.setChecked(False)

    def set_model_questions_offer(self, seconds: float | None) -> None:
        """Offer the model-written questions (an instruction-tuned model: its chat template)
        with their extra time, or hide the option (None)."""
        offered = seconds is not None
        self.model_questions_check.setVisible(offered)
        self.model_questions_hint.setVisible(offered)
        if not offered:
            self.model_questions_check.setChecked(False)
            return
        self.model_questions_hint.setText(
            "This model follows instructions, so it can ask about more than names, places, dates "
            f"and numbers. Adds about {format_duration(seconds)} before training.")

    def make_job(self, model: LibraryEntry | None, documents: list[Path]) -> TrainingJob:
        """The job these settings describe (a placeholder model path when none is chosen)."""
        sequence_length = self.sequence_length.value()
        overrides = dict(lora_rank=self.rank.value(), lora_alpha=2.0 * self.rank.value(),
                         learning_rate=self.learning_rate.value(), epochs=self.epochs.value(),
                         sequence_length=sequence_length,
                         knowledge_augmentation=self.knowledge_check.isChecked(),
                         model_questions=(MODEL_QUESTIONS_PER_PASSAGE
                                          if self.model_questions_check.isChecked()
                                          and self.model_questions_check.isVisibleTo(self) else 0),
                         overlap=min(PRESETS[self.preset]["overlap"], sequence_length // 8),
                         dtype=self.dtype.currentData() or "auto",
                         quiz_held_back=self.hold_back_check.isChecked())
        if self.epochs.value() != PRESETS[self.preset]["epochs"]:
            overrides["min_train_tokens"] = None  # passes chosen by hand are taken as given
        if self.name_edit.text().strip():
            overrides["name"] = self.name_edit.text().strip()
        return job_from_preset(self.preset, model.path if model else "", documents,
                               base_model_id=model.id if model else None, **overrides)

    @Slot(int, bool)
    def _preset_toggled(self, _id: int, checked: bool) -> None:
        if not checked:
            return
        values = PRESETS[self.preset]
        for box, key in ((self.rank, "lora_rank"), (self.learning_rate, "learning_rate"),
                         (self.epochs, "epochs"), (self.sequence_length, "sequence_length")):
            box.blockSignals(True)
            box.setValue(values[key])
            box.blockSignals(False)
        self.changed.emit()

    @Slot()
    def _edited(self, *_args) -> None:
        self.changed.emit()

    @Slot(bool)
    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if shown
                                          else Qt.ArrowType.RightArrow)

    # -- the estimate --------------------------------------------------------------------------

    def show_estimate(self, estimate: TrainingEstimate | None, memory_text: str,
                      verdict: Verdict | None, exact_tokens: bool, *, examples: int = 0,
                      quiz_questions: int = 0, precision: PrecisionChoice | None = None) -> None:
        """Time and memory of the job; ``examples`` questions and answers are in its tokens,
        and ``quiz_questions`` are asked in chat before and after (not in the time)."""
        if estimate is None:
            self.estimate_label.setText("Choose a model and add documents to see how long "
                                        "training will take.")
            return
        plan = estimate.plan
        basis = "counted exactly" if exact_tokens else "estimated from the characters"
        if examples:
            basis += f", with {examples:,} questions and answers estimated"
        quiz = (f"<br>Before and after training, it is asked {quiz_questions} questions about "
                "your documents in chat, to show what it learned."
                if quiz_questions else "")
        colour = VERDICT_COLOURS[verdict] if verdict is not None else "inherit"
        self.estimate_label.setText(
            f"<b>About {format_duration(estimate.total_seconds)}</b> on this computer: "
            f"{plan.total_steps} steps, {plan.train_tokens:,} tokens in all "
            f"({plan.epochs:.1f} passes over the text; tokens {basis}), at about "
            f"{estimate.tokens_per_second:.0f} tokens per second."
            f"{quiz}<br>{precision_line(precision)}"
            f"<br><span style='color:{colour}'>{memory_text}</span>"
            f"<br><span style='color:#5f6368'>The adapter has "
            f"{estimate.trainable_parameters / 1e6:.1f} million trainable numbers. You can keep "
            "using the app while it trains, pause it, and resume later.</span>")


def precision_line(precision: PrecisionChoice | None) -> str:
    """What the steps will be computed in, as the last measurement on this computer said."""
    if precision is None:
        return ("Training measures at its start whether bf16 or fp32 arithmetic is faster on "
                "this processor, and uses the faster.")
    sentence = precision.sentence()
    if precision.reason in ("measured", "quality", "unsupported"):
        return sentence[0].upper() + sentence[1:] + " (measured on an earlier run)."
    return sentence[0].upper() + sentence[1:] + "."
