"""Entry point: ``slmdesk`` with no arguments opens the window, with arguments runs headless."""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # a frozen app must not re-enter main in helpers
    args = sys.argv[1:] if argv is None else argv
    from slmdesk.core.processes import RUN_MODULE_FLAG

    if args[:1] == [RUN_MODULE_FLAG] and len(args) >= 2:
        return _run_module(args[1], args[2:])
    if args == ["--self-test"]:
        from slmdesk.self_test import run_self_test

        return run_self_test()
    if args[:1] == ["--gui-check"]:
        from slmdesk.gui_check import run_gui_check

        return run_gui_check(args[1:])
    if not args:
        from slmdesk.ui.app import run_gui

        return run_gui()
    from slmdesk.cli.main import run_cli

    return run_cli(args)


def _run_module(module: str, module_args: list[str]) -> int:
    """Run a child-process module as ``__main__`` (the packaged app's stand-in for ``-m``)."""
    import runpy

    sys.argv = [module, *module_args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
