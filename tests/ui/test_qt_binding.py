"""Guard against a Qt binding that corrupts the interpreter.

PySide6 6.12.0 on Python 3.11 loses one reference to None on every call of a Qt method that
returns nothing, and one to True on every signal emit; after a few streamed replies CPython
aborts with "none_dealloc". pyproject.toml excludes that release; this test catches any other
that does the same before a person's window dies.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal


class _Pinger(QObject):
    ping = Signal(str)


def test_calls_and_emits_keep_reference_counts(qtbot):
    timer, pinger = QTimer(), _Pinger()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(2000):
        timer.stop()
        pinger.ping.emit("x")
    assert sys.getrefcount(None) - none_before > -100
    assert sys.getrefcount(True) - true_before > -100
