"""Take the README's screenshots of the real window (run under Xvfb, or offscreen).

Usage: xvfb-run -s "-screen 0 1400x900x24" python tools/screenshot.py docs/images
       (or QT_QPA_PLATFORM=offscreen python tools/screenshot.py docs/images)
A fresh SLM Desk home is used, so the pictures show what a new user sees: the first start
(Chat with the instruct starter), the library, and the Notebook continuing a text with the base
starter (a real reply from the engine).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's slmdesk

NOTEBOOK_TEXT = "Once upon a time, in a small village by the sea, there lived"


def main(out_dir: str) -> int:
    os.environ["SLMDESK_HOME"] = tempfile.mkdtemp(prefix="slmdesk-shot-")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from slmdesk.ui.app import MainWindow, app_icon

    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    window = MainWindow()
    window.resize(1280, 760)
    window.show()
    loop = QEventLoop()

    def settle(milliseconds: int = 500) -> None:
        QTimer.singleShot(milliseconds, loop.quit)
        loop.exec()

    window.starter_task.signals.succeeded.connect(loop.quit)
    window.starter_task.signals.failed.connect(loop.quit)
    loop.exec()
    settle()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> None:
        window.grab().save(str(out / name))
        print(f"saved {out / name}")

    save("first-start.png")
    window.show_section("Library")
    window.library_view.select_entry(window.library.entries()[0].id)
    settle()
    save("library.png")

    window.show_section("Notebook")
    page = window.notebook_view
    page.editor.setPlainText(NOTEBOOK_TEXT)
    for name, value in (("temperature", 0.0), ("seed", 1), ("max_tokens", 60),
                        ("context_length", 512)):
        page.sampling.boxes[name].setValue(value)
    page.session.finished.connect(lambda *_: loop.quit())
    page.generate_button.click()
    QTimer.singleShot(180_000, loop.quit)  # a stuck engine must not hang the tool
    loop.exec()
    settle(200)
    save("notebook.png")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
