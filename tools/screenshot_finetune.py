"""Take the fine-tuning screenshots (training.png, compare.png) from a real Quick run.

Usage: xvfb-run -a -s "-screen 0 1400x900x24" python tools/screenshot_finetune.py docs/images
A fresh SLM Desk home is used; the starter model learns the invented family note of the tests
with the Quick preset (a few minutes on two cores, plus a minute or two converting the model the
first time), then the training page is pictured mid-run and the comparison after it.
Other pages (documents, settings, done, runs) are saved too, with a ``finetune-`` prefix, for
review; only the two named above are used in the README.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

NOTE = Path(__file__).resolve().parents[1] / "tests" / "core" / "training" / "data" / "family_note.txt"
QUESTION = "Tell me about the Lindqvist family."


def main(out_dir: str) -> int:
    os.environ["SLMDESK_HOME"] = tempfile.mkdtemp(prefix="slmdesk-shot-")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from slmdesk.ui.app import MainWindow, app_icon
    from slmdesk.ui.finetune.wizard.wizard import DONE, SETTINGS, TRAINING

    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def wait(signal, seconds: float = 900, until=None) -> None:
        loop = QEventLoop()

        def check(*args):
            if until is None or until(*args):
                loop.quit()

        signal.connect(check)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        signal.disconnect(check)

    def settle(ms: int = 300) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def save(name: str) -> None:
        settle()
        window.grab().save(str(out / name))
        print(f"saved {out / name}")

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    wait(window.starter_task.signals.succeeded, 300)
    settle(500)
    window.show_section("Fine-tune")
    wizard = window.finetune_page.wizard
    wizard.restart(window.library.models()[0].id)
    wizard.next()
    wizard.documents_page.add_paths([NOTE])
    wait(wizard.documents_page.preview_finished, 120)
    save("finetune-documents.png")
    wizard.next()
    assert wizard.step == SETTINGS
    save("finetune-settings.png")
    wizard.next()
    assert wizard.step == TRAINING
    page = wizard.training_page
    wait(page.process.progress, 900, until=lambda event: event["step"] >= 30)
    save("training.png")
    wait(page.state_changed, 900, until=lambda state: state in ("finished", "failed", "crashed"))
    if wizard.step != DONE:
        print("training did not finish:", page.notice.text or page.status_label.text())
        window.close()
        return 1
    save("finetune-done.png")
    wizard.done_page.compare_button.click()
    compare = window.finetune_page.compare_view
    compare.max_tokens.setValue(60)
    compare.composer.setPlainText(QUESTION)
    compare.ask_current()
    wait(compare.both_finished, 300)
    save("compare.png")
    window.finetune_page.tabs.setCurrentWidget(window.finetune_page.runs_view)
    save("finetune-runs.png")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
