"""Take the README's screenshots of the real window (run under Xvfb: see docs/screenshots.md).

Usage: xvfb-run -s "-screen 0 1400x900x24" python tools/screenshot.py docs/images
A fresh SLM Desk home is used, so the pictures show what a new user sees.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


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
    window.starter_task.signals.succeeded.connect(loop.quit)
    window.starter_task.signals.failed.connect(loop.quit)
    loop.exec()
    view = window.library_view
    view.select_entry(window.library.entries()[0].id)
    QTimer.singleShot(500, loop.quit)
    loop.exec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "library.png"))
    print(f"saved {out / 'library.png'}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
