"""Entry point: ``slmdesk`` with no arguments opens the window, with arguments runs headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        from slmdesk.ui.app import run_gui

        return run_gui()
    from slmdesk.cli import run_cli

    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
