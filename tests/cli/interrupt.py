"""Starting a CLI child that Ctrl-C can reach, however the suite itself was started."""

from __future__ import annotations

import signal


def interruptible() -> None:
    """In the child (``preexec_fn``): Ctrl-C as a terminal gives it. A shell's background job
    (the suite started with ``&``) passes SIGINT on ignored, and Python then never raises
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
