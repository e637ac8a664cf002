"""Writing the shipped tables so that the same input gives the same bytes.

gzip stores a timestamp and a file name in its header; both are left out (mtime=0, no name), and
rows arrive sorted, so a rebuild can be checked with sha256 against the committed files.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Sequence
from pathlib import Path


def write_csv_gz(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write a UTF-8 CSV, gzip-compressed, reproducibly; return the number of data rows."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    _write_gz(path, text.getvalue())
    return count


def write_lines_gz(path: Path, lines: Iterable[str]) -> int:
    """One item per line, gzip-compressed, reproducibly; return the number of lines."""
    lines = list(lines)
    _write_gz(path, "".join(f"{line}\n" for line in lines))
    return len(lines)


def _write_gz(path: Path, text: str) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
        packed.write(text.encode("utf-8"))
