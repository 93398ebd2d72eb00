"""A stand-in engine host that dies the way an engine built for another processor does.

It is the real :class:`~slmdesk.core.engine.host.EngineHost` (ready event, protocol, CPU
backend), except that loading a model executes the equivalent of an instruction the processor
does not have: the process kills itself with SIGILL, as llama.cpp's AMX kernels do on the first
matrix product (llama.cpp PR #26954).
"""

from __future__ import annotations

import os
import signal
import sys

from slmdesk.core.engine import host

MODULE = __name__


class _IllegalInstructionHost(host.EngineHost):
    def _on_load(self, req):  # noqa: ANN001 - the host's own signature
        os.kill(os.getpid(), signal.SIGILL)


def main() -> int:
    return _IllegalInstructionHost(host._take_stdout()).run()


if __name__ == "__main__":
    sys.exit(main())
