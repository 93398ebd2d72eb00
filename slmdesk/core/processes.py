"""How SLM Desk starts its child processes (engine, training), frozen or not.

From a normal install a child is ``python -m <module>``. In the packaged (PyInstaller) app there
is no Python interpreter to call, only the app's own executable; it is started again with the
internal flag ``--run-module <module>``, which ``slmdesk.__main__`` turns into the same
``runpy`` call. Everyone who starts a child asks :func:`child_command` so both cases stay one.
"""

from __future__ import annotations

import sys

RUN_MODULE_FLAG = "--run-module"
ENGINE_MODULE = "slmdesk.core.engine.host"
TRAINING_MODULE = "slmdesk.core.training.worker"


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def child_command(module: str, *args: str) -> list[str]:
    """The argv that runs ``module`` as ``__main__`` in a new process."""
    if is_frozen():
        return [sys.executable, RUN_MODULE_FLAG, module, *args]
    return [sys.executable, "-m", module, *args]
