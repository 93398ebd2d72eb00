"""The one launcher for SLM Desk's child processes, and the plain words for how one ended.

Every child (the language model engine, the training worker, the token counter) is started from
:func:`child_launch`, which gives both the argv and the environment, so that a frozen app and a
normal install, the command line and the window, all start children the same way:

* From a normal install a child is ``python -m <module>``. In the packaged (PyInstaller) app there
  is no Python interpreter to call, only the app's own executable; it is started again with the
  internal flag ``--run-module <module>``, which ``slmdesk.__main__`` turns into the same
  ``runpy`` call.
* The environment puts this package first on ``PYTHONPATH`` (so a checkout runs its own code)
  and sets ``PYTHONUNBUFFERED``, so that every event line leaves the child when it is written.

A child that ends without saying why is explained by :func:`describe_exit`: a processor that
lacks an instruction of a native library (SIGILL), memory running out (SIGKILL), a crash inside
native code (SIGSEGV). ``tests/test_boundaries.py`` fails if any other module builds a ``-m``
command or a child environment of its own.
"""

from __future__ import annotations

import enum
import os
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

RUN_MODULE_FLAG = "--run-module"
ENGINE_MODULE = "slmdesk.core.engine.host"
TRAINING_MODULE = "slmdesk.core.training.worker"
PREVIEW_MODULE = "slmdesk.core.training.preview"
EMBED_MODULE = "slmdesk.core.engine.embed_host"

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class Child(enum.Enum):
    """Each kind of child: what the user calls it, and the native library doing its work."""

    ENGINE = ("The language model engine", "llama.cpp (llama-cpp-python)")
    TRAINING = ("The training process", "PyTorch")
    PREVIEW = ("The token counter", "llama.cpp (llama-cpp-python)")

    def __init__(self, title: str, library: str) -> None:
        self.title = title
        self.library = library


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def child_command(module: str, *args: str) -> list[str]:
    """The argv that runs ``module`` as ``__main__`` in a new process."""
    if is_frozen():
        return [sys.executable, RUN_MODULE_FLAG, module, *args]
    return [sys.executable, "-m", module, *args]


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every child: ``base`` (default: ours), this package first on the path,
    unbuffered output."""
    env = dict(os.environ if base is None else base)
    if not is_frozen():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True)
class ChildLaunch:
    """What starting one child takes: the program, its arguments and its environment."""

    argv: list[str]
    env: dict[str, str]

    @property
    def program(self) -> str:
        return self.argv[0]

    @property
    def args(self) -> list[str]:
        return self.argv[1:]


def child_launch(module: str, *args: str, base_env: Mapping[str, str] | None = None
                 ) -> ChildLaunch:
    """How to start ``module`` as a child process, frozen or not (see the module notes)."""
    return ChildLaunch(child_command(module, *args), child_environment(base_env))


# --- how a child ended ----------------------------------------------------------------------------

#: What each deadly signal means for a person, and what they can do about it.
_SIGNAL_WORDS: dict[int, tuple[str, str]] = {
    int(signal.SIGILL): (
        "{library} tried to run an instruction that this computer's processor does not have "
        "(SIGILL, illegal instruction): it was built for a different processor{backend}.",
        "Restarting will not help. Reinstall SLM Desk (./setup.sh builds llama.cpp for every "
        "processor level and picks the one this processor can run), or report the processor "
        "(the first lines of /proc/cpuinfo) with the log."),
    int(signal.SIGKILL): (
        "it was killed (SIGKILL), most often because the computer ran out of memory.",
        "Close other programs or choose a smaller model, then try again."),
    int(signal.SIGSEGV): (
        "{library} crashed (segmentation fault){backend}.",
        "Try again; if it happens each time with this model, the file may be damaged: import it "
        "again or try another model."),
    int(signal.SIGABRT): (
        "{library} stopped itself (SIGABRT) after an internal error{backend}.",
        "The log holds the details; try again, or another model."),
}
if hasattr(signal, "SIGBUS"):
    _SIGNAL_WORDS[int(signal.SIGBUS)] = (
        "{library} could not read the model file (SIGBUS): it may have been changed, moved or "
        "cut short while in use, or the disk is full.",
        "Check the file and the free disk space, then try again.")


@dataclass(frozen=True)
class ChildExit:
    """How a child ended, in words: ``message`` for the user; ``signal_name`` such as SIGILL.

    ``restart_helps`` is False when starting the same child again would crash the same way (an
    instruction the processor does not have), so the window must not offer to loop on it.
    """

    message: str
    signal_name: str | None
    restart_helps: bool


def describe_exit(child: Child, returncode: int | None, *, signal_number: int | None = None,
                  cpu_backend: str | None = None) -> ChildExit:
    """Explain an unexpected end of ``child``.

    Args:
        returncode: as :mod:`subprocess` gives it (a negative number is the signal).
        signal_number: the signal, where it is known apart from the exit code (QProcess).
        cpu_backend: the llama.cpp CPU backend that was running, named in a SIGILL message.
    """
    signum = signal_number
    if signum is None and returncode is not None and returncode < 0:
        signum = -returncode
    if signum is None:
        return ChildExit(f"{child.title} stopped unexpectedly (exit code {returncode}).",
                         None, True)
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    words = _SIGNAL_WORDS.get(signum)
    if words is None:
        return ChildExit(f"{child.title} was stopped by {name}.", name, True)
    what, advice = words
    backend = f" (its CPU backend: {cpu_backend})" if cpu_backend else ""
    what = what.format(library=child.library, backend=backend)
    return ChildExit(f"{child.title} stopped unexpectedly: {what} {advice}", name,
                     signum != int(signal.SIGILL))


# --- reading a child's output --------------------------------------------------------------------


def pump_lines(stream: Iterable[bytes], parse: Callable[[bytes], Any],
               deliver: Callable[[Any], None], unreadable: Callable[[bytes], None],
               bad_line: type[Exception] | tuple[type[Exception], ...]) -> None:
    """Read a child's stdout line by line until it ends, delivering each parsed line.

    The one loop behind every reader thread: a line that does not parse (``bad_line``) is handed
    to ``unreadable`` (for the log) instead of ending the stream.
    """
    for line in stream:
        try:
            item = parse(line)
        except bad_line:
            unreadable(line)
            continue
        deliver(item)


def close_quietly(*streams: IO[Any] | None) -> None:
    """Close pipes that may already be closed or broken."""
    for stream in streams:
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
