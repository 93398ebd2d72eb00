"""The wizard says what the training steps will run in, and the training page what they do."""

from __future__ import annotations

import re

from slmdesk.core.training import events as ev
from slmdesk.core.training.precision import PrecisionChoice, save_probe
from slmdesk.ui.finetune.wizard.training_page import TrainingPage
from slmdesk.ui.finetune.wizard.wizard import DOCUMENTS, SETTINGS
from tests.ui.finetune.test_wizard import NOTE, add_documents


def _speed(text: str) -> int:
    return int(re.search(r"at about ([\d,]+) tokens per second", text).group(1).replace(",", ""))


def test_the_estimate_uses_the_last_probe_and_the_dtype_can_be_forced(qtbot, tiny_window):
    wizard = tiny_window.finetune_page.wizard
    wizard.go_to(DOCUMENTS)
    add_documents(qtbot, wizard, [NOTE], preview=False)
    wizard.go_to(SETTINGS)
    settings = wizard.settings_page
    before = settings.estimate_label.text()
    assert "measures at its start whether bf16 or fp32" in before

    save_probe(PrecisionChoice("bf16", speedup=9.4, fp32_gflops=40.0, bf16_gflops=376.0),
               wizard.paths.cache_dir)
    settings.epochs.setValue(settings.epochs.value() + 1)  # any change recomputes
    settings.epochs.setValue(settings.epochs.value() - 1)
    measured = settings.estimate_label.text()
    assert ("Training in bf16: about 2.3x faster on this processor (its matrix products 9.4x) "
            "(measured on an earlier run)") in measured
    assert _speed(measured) > 2 * _speed(before)  # the steps at the expected speed-up

    settings.advanced_button.click()
    settings.dtype.setCurrentIndex(settings.dtype.findData("fp32"))
    assert wizard.current_job().dtype == "fp32"
    forced = settings.estimate_label.text()
    assert "Training in fp32 (set by the job; bf16 is 9.4x on the matrix products here)" in forced
    assert _speed(forced) == _speed(before)


def test_the_training_page_shows_the_workers_choice(qtbot, slmdesk_home):
    from slmdesk.paths import app_paths

    page = TrainingPage(app_paths())
    qtbot.addWidget(page)
    choice = PrecisionChoice("fp32", speedup=0.8, fp32_gflops=60.0, bf16_gflops=48.0)
    page._on_event(ev.make_event(ev.PRECISION, **choice.to_dict(), message=choice.sentence()))
    assert page.precision_label.text() == ("Training in fp32: bf16 is only 0.8x on the matrix "
                                           "products here, too little for the steps to gain.")
    assert "fp32: 60 GFLOP/s, bf16: 48 GFLOP/s" in page.precision_label.toolTip()
    assert not page.precision_label.isHidden()
