"""Render the app icon (slmdesk/resources/slmdesk.svg) into the sizes and formats platforms need.

Usage: QT_QPA_PLATFORM=offscreen python tools/make_icons.py
Writes resources/icons/slmdesk-<size>.png, resources/slmdesk.ico (Windows), resources/slmdesk.icns
(macOS) and copies the SVG to resources/slmdesk.svg (Linux, scalable). Qt does the rendering, so
no extra dependency is needed; run it again whenever the SVG changes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "slmdesk" / "resources" / "slmdesk.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SOURCE))
    out = ROOT / "resources"
    (out / "icons").mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE, out / "slmdesk.svg")
    for size in PNG_SIZES:
        render(renderer, size).save(str(out / "icons" / f"slmdesk-{size}.png"))
    for name, fmt, size in (("slmdesk.ico", b"ico", 256), ("slmdesk.icns", b"icns", 512)):
        writer = QImageWriter(str(out / name), fmt)
        if not writer.write(render(renderer, size)):
            print(f"could not write {name}: {writer.errorString()}", file=sys.stderr)
            return 1
    print(f"icons written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
