"""What a reader of the code may count on, checked: no line of Python longer than 110 characters."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LONGEST_LINE = 110
SKIPPED = {".venv", "runs", "build", ".git"}


def python_files() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not SKIPPED & set(path.relative_to(ROOT).parts)]


def test_no_python_line_is_longer_than_110_characters():
    long_lines = [f"{path.relative_to(ROOT)}:{number}" for path in python_files()
                  for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                  if len(line) > LONGEST_LINE]
    assert len(python_files()) > 50
    assert long_lines == [], f"{len(long_lines)} lines over {LONGEST_LINE} characters: {long_lines[:20]}"
