"""The one launcher (:mod:`slmdesk.core.processes`) in Qt's terms, for every QProcess child."""

from __future__ import annotations

from PySide6.QtCore import QProcess, QProcessEnvironment

from slmdesk.core.processes import ChildLaunch


def start_child(process: QProcess, launch: ChildLaunch) -> None:
    """Start ``process`` as ``launch`` says: program, arguments and the whole environment."""
    env = QProcessEnvironment()
    for key, value in launch.env.items():
        env.insert(key, value)
    process.setProcessEnvironment(env)
    process.setProgram(launch.program)
    process.setArguments(launch.args)
    process.start()


def qt_crash_signal(exit_code: int, status: QProcess.ExitStatus) -> int | None:
    """The signal that ended a child, or None if it exited by itself.

    On Unix, Qt reports the signal number as the exit code of a crashed process.
    """
    if status == QProcess.ExitStatus.CrashExit:
        return exit_code or None
    return None
