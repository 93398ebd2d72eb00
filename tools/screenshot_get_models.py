"""Take the README's Get models screenshot: the real window, a download halfway, served by
the tests' loopback Hub (so no request leaves the computer).

Usage: xvfb-run -a -s "-screen 0 1400x900x24" python tools/screenshot_get_models.py docs/images
(run from the repository root: it imports tests/hub_server.py).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main(out_dir: str) -> int:
    home = Path(tempfile.mkdtemp(prefix="slmdesk-shot-"))
    os.environ["SLMDESK_HOME"] = str(home)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.hub_server import HubFileSpec, LoopbackHub, write_gguf

    hub = LoopbackHub().__enter__()
    os.environ["HF_ENDPOINT"] = hub.url
    os.environ["HF_HOME"] = str(home / "hf-home")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from slmdesk.core.hub.catalogue import catalogue_model
    from slmdesk.ui.app import MainWindow, app_icon

    file = catalogue_model("qwen2.5-0.5b").recommended_file
    data = write_gguf(home / "model.gguf", padding_bytes=4_000_000).read_bytes()
    hub.add_file(file.repo_id, file.filename, HubFileSpec(data, bytes_per_second=900_000))
    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    window = MainWindow(set_up_starter=False)
    window.resize(1280, 760)
    window.show()
    window.show_section("Get models")
    page = window.get_models_page
    tree = page.catalogue
    top = tree.topLevelItem(1)
    tree.expandItem(top)
    tree.setCurrentItem(top.child(0))
    page.download_selected()
    loop = QEventLoop()
    QTimer.singleShot(2500, loop.quit)
    loop.exec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "get-models.png"))
    print(f"saved {out / 'get-models.png'}")
    page.shutdown()
    window.close()
    hub.__exit__()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
