"""What the command-line scripts share: a UserError, a mistyped option too, becomes one line and
exit code 2."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, NoReturn

from seq2seq.errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, except that a mistyped option (`--arch rnn`, `--epochs x`) is one line like every
    other error, instead of the whole usage text followed by the error."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message}; see --help")


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
