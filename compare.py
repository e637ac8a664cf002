"""Compare trained models side by side: a Markdown table and a figure of their validation loss.

    python compare.py runs/transformer runs/gru
    python compare.py runs/transformer runs/gru --out docs/comparison --title "Transformer or GRU?"

The folders must share one test split (same --data and --seed when training); exact match on it is
reported for models trained on correct translations. The figure needs matplotlib (pip install -e .[plot]).
"""
from __future__ import annotations

import argparse
import shlex
import sys

from seq2seq.cli import ArgumentParser, run_main
from seq2seq.compare import write_comparison
from seq2seq.plotting import MATPLOTLIB_MISSING


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="model folders written by train.py")
    parser.add_argument("--out", default="docs/comparison", help="folder for comparison.md and "
                                                                 "valid_loss.png (default docs/comparison)")
    parser.add_argument("--title", default="Model comparison", help="heading of comparison.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = shlex.join(["python", "compare.py", *(sys.argv[1:] if argv is None else argv)])
    comparison = write_comparison(args.folders, args.out, args.title, command)
    print(comparison.markdown)
    if comparison.figure is None:
        print(MATPLOTLIB_MISSING, file=sys.stderr)
    written = [comparison.table] + ([comparison.figure] if comparison.figure else [])
    print(f"wrote {', '.join(map(str, written))}")


if __name__ == "__main__":
    sys.exit(run_main(main))
