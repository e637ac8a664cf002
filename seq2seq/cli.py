"""What the command-line scripts share: turning a UserError into one line on stderr and exit code 2."""
from __future__ import annotations

import sys
from typing import Callable

from seq2seq.errors import UserError


def run_main(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Call `main(argv)`; a UserError or Ctrl-C becomes a one-line message instead of a traceback."""
    try:
        return main(argv) or 0
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
