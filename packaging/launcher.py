"""The frozen app's entry script: the same main as the `slmdesk` command."""

import sys

from slmdesk.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
